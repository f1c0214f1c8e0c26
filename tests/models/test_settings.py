"""Settings from the environment: README defaults, derived paths, and one-line errors by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.settings import ConfigError, Settings


def test_readme_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.bind == "0.0.0.0:3121"
    assert settings.db_path == Path.home() / ".vm" / "api" / "vm.db"
    assert settings.janitor_interval == 300
    assert settings.provisioner_interval == 10


def test_queue_and_data_default_beside_the_database(tmp_path: Path) -> None:
    settings = Settings.from_env({"VM_API_DB_PATH": str(tmp_path / "state" / "vm.db")})

    assert settings.resolved_queue_path == tmp_path / "state" / "queue.db"
    assert settings.resolved_data_dir == tmp_path / "state"


def test_values_are_read_and_cast(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "VM_API_BIND": "127.0.0.1:8080",
            "VM_API_DB_PATH": str(tmp_path / "vm.db"),
            "VM_API_JANITOR_INTERVAL": "60",
            "VM_API_PROVISIONER_INTERVAL": "2",
            "VM_API_QUEUE_PATH": str(tmp_path / "q" / "jobs.db"),
            "VM_API_DATA_DIR": str(tmp_path / "data"),
            "VM_API_DEFAULT_PROVIDER": "local",
            "VM_API_BACKUP_KEEP": "3",
        }
    )

    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert (settings.janitor_interval, settings.provisioner_interval) == (60, 2)
    assert settings.resolved_queue_path == tmp_path / "q" / "jobs.db"
    assert settings.resolved_data_dir == tmp_path / "data"
    assert settings.default_provider == "local"
    assert settings.backup_keep == 3


def test_ipv6_bind_keeps_its_brackets() -> None:
    settings = Settings.from_env({"VM_API_BIND": "[::1]:3121"})

    assert settings.host == "::1"
    assert settings.bind == "[::1]:3121"


def test_relative_database_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert Settings.from_env({"VM_API_DB_PATH": "vm.db"}).db_path == tmp_path / "vm.db"


def test_queue_path_may_not_be_the_database_under_another_spelling(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    env = {
        "VM_API_DB_PATH": str(tmp_path / "vm.db"),
        "VM_API_QUEUE_PATH": str(tmp_path / "sub" / ".." / "vm.db"),
    }

    with pytest.raises(ConfigError, match="VM_API_QUEUE_PATH"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VM_API_BIND", "0.0.0.0:http"),
        ("VM_API_BIND", "0.0.0.0:70000"),
        ("VM_API_BIND", "3121"),
        ("VM_API_JANITOR_INTERVAL", "0"),
        ("VM_API_JANITOR_INTERVAL", "soon"),
        ("VM_API_PROVISIONER_INTERVAL", "-10"),
        ("VM_API_WORKERS", "1.5"),
        ("VM_API_POLL_MAX_DELAY", "0"),
        ("VM_API_BACKUP_KEEP", "0"),
        ("VM_API_DEFAULT_PROVIDER", "vmware"),
        ("VM_API_QUEUE_URL", "http://localhost:6379"),
        ("VM_API_ALLOW_FILE_REPOS", "maybe"),
        ("VM_API_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("VM_API_ADMINS", "alice,bad name"),
        ("VM_API_MAX_RUNNING_PER_USER", "-1"),
        ("VM_API_TEMPLATES_FILE", "/nonexistent/templates.toml"),
        ("VM_API_INSTANCE", "two words"),
        ("VM_API_INSTANCE", "-leading-dash"),
    ],
)
def test_malformed_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})

    message = str(caught.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_whole_number_error_says_what_was_expected() -> None:
    with pytest.raises(ConfigError, match=r"VM_API_JANITOR_INTERVAL must be a whole number"):
        Settings.from_env({"VM_API_JANITOR_INTERVAL": "5m"})


@pytest.mark.parametrize(
    ("variable", "relative"),
    [
        ("VM_API_DB_PATH", "file.txt/vm.db"),
        ("VM_API_DATA_DIR", "file.txt/data"),
        ("VM_API_QUEUE_PATH", "file.txt/deeper/queue.db"),
    ],
)
def test_path_under_a_file_is_refused_by_name(tmp_path: Path, variable: str, relative: str) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    env = {"VM_API_DB_PATH": str(tmp_path / "vm.db"), variable: str(tmp_path / relative)}
    settings = Settings.from_env(env)

    with pytest.raises(ConfigError, match=f"^{variable}: cannot create"):
        settings.check_writable()


def test_database_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    settings = Settings.from_env({"VM_API_DB_PATH": str(tmp_path)})

    with pytest.raises(ConfigError, match=r"^VM_API_DB_PATH: .* is a folder"):
        settings.check_writable()


def test_check_writable_creates_the_folders(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "VM_API_DB_PATH": str(tmp_path / "db" / "vm.db"),
            "VM_API_QUEUE_PATH": str(tmp_path / "queue" / "queue.db"),
            "VM_API_DATA_DIR": str(tmp_path / "data"),
        }
    )

    settings.check_writable()

    assert all((tmp_path / name).is_dir() for name in ("db", "queue", "data"))


def test_docker_tls_needs_the_certificates_where_the_docker_cli_looks(tmp_path: Path) -> None:
    env = {"VM_API_DB_PATH": str(tmp_path / "vm.db"), "DOCKER_TLS_VERIFY": "1"}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**env, "DOCKER_CERT_PATH": str(tmp_path)})
    assert str(tmp_path / "ca.pem") in str(refused.value)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("placeholder")
    settings = Settings.from_env({**env, "DOCKER_CERT_PATH": str(tmp_path)})
    assert (settings.docker_tls_verify, settings.docker_cert_path) == (True, str(tmp_path))
    assert Settings.from_env({**env, "DOCKER_TLS_VERIFY": ""}).docker_tls_verify is False
