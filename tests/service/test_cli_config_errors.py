"""Start-up stops with one line naming the variable: the real `vm-api` command, every part."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunVmApi = Callable[..., subprocess.CompletedProcess[str]]


def _assert_one_line_error(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vm-api: configuration error: ")
    assert variable in lines[0]


# Each case uses a command whose start-up would run this check; all of them parse the
# environment before doing anything else.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        ([], "VM_API_BIND", "0.0.0.0:notaport"),
        (["web"], "VM_API_BIND", "127.0.0.1:abc"),
        (["worker"], "VM_API_JANITOR_INTERVAL", "0"),
        (["worker"], "VM_API_PROVISIONER_INTERVAL", "-1"),
        (["prestart"], "VM_API_DEFAULT_PROVIDER", "vmware"),
    ],
)
def test_cli_stops_on_a_malformed_value(
    run_vm_api: RunVmApi, command: list[str], variable: str, value: str
) -> None:
    result = run_vm_api(*command, **{variable: value})

    _assert_one_line_error(result, variable)


@pytest.mark.slow
@pytest.mark.parametrize("command", [[], ["prestart"], ["worker"]])
def test_cli_stops_on_an_unwritable_database_path(
    run_vm_api: RunVmApi, tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "file.txt").write_text("not a folder")

    result = run_vm_api(*command, VM_API_DB_PATH=str(tmp_path / "file.txt" / "vm.db"))

    _assert_one_line_error(result, "VM_API_DB_PATH")
    assert (tmp_path / "file.txt").read_text() == "not a folder"


@pytest.mark.slow
def test_cli_stops_when_queue_path_is_the_database(run_vm_api, tmp_path: Path) -> None:
    result = run_vm_api("prestart", VM_API_QUEUE_PATH=str(tmp_path / "vm.db"))

    _assert_one_line_error(result, "VM_API_QUEUE_PATH")
    assert not (tmp_path / "vm.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", [["web"], ["worker"]])
@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[templates.base]\nimage = "busybox"\ncolour = "red"\n', "'colour'"),
        ("[templates.base\nimage = ", "not valid TOML"),
    ],
)
def test_cli_stops_on_a_bad_template_catalogue(
    run_vm_api: RunVmApi, tmp_path: Path, command: list[str], content: str, named: str
) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(content)

    result = run_vm_api(*command, VM_API_TEMPLATES_FILE=str(catalogue))

    _assert_one_line_error(result, "VM_API_TEMPLATES_FILE")
    assert str(catalogue) in result.stderr
    assert named in result.stderr
    assert not (tmp_path / "vm.db").exists(), "stopped before migrating"
