"""Fixtures for the configuration, migration, backup and CLI tests: real files, real processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from db_support import test_database_url
from migration_support import migrations_plus
from yoyo import get_backend, read_migrations

from service.prestart import MIGRATIONS_DIR

CLI_TIMEOUT_SECONDS = 60
FIRST_MIGRATION = "0001_workspaces_and_operations"


def _vm_api_command() -> list[str]:
    # The console script installed beside this interpreter; `-m` where none is installed.
    script = Path(sys.executable).with_name("vm-api")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "service.cli"]


def _cli_env(db_path: Path, **variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VM_API_")}
    env["VM_API_DB_PATH"] = str(db_path)
    env["VM_API_DEFAULT_PROVIDER"] = "local"
    env.update(variables)
    return env


RunVmApi = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_database_url() -> str | None:
    """The VM_API_DATABASE_URL `run_vm_api` passes: a schema of this test's own in a PostgreSQL
    run (TEST_DATABASE_URL), None on SQLite."""
    return test_database_url()


@pytest.fixture
def run_vm_api(tmp_path: Path, cli_database_url: str | None) -> RunVmApi:
    """Run the real `vm-api` command against tmp_path/vm.db, or this test's PostgreSQL schema
    in a PostgreSQL run (variables override the env)."""
    database = {"VM_API_DATABASE_URL": cli_database_url} if cli_database_url else {}

    def run(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_vm_api_command(), *args],
            env=_cli_env(tmp_path / "vm.db", **{**database, **variables}),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )

    return run


@pytest.fixture
def vm_api_command() -> list[str]:
    return _vm_api_command()


StartProcess = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[StartProcess]:
    """Popen with the test environment (tmp_path/vm.db); every process is killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(argv: list[str], **variables: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            argv,
            env=_cli_env(tmp_path / "vm.db", **variables),
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=CLI_TIMEOUT_SECONDS)


def _migrate_to_first(db_path: Path) -> None:
    """Apply only the first migration, with yoyo itself, as an older release would have."""
    backend = get_backend(f"sqlite:///{db_path}")
    try:
        first = read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id == FIRST_MIGRATION)
        with backend.lock():
            backend.apply_migrations(backend.to_apply(first))
    finally:
        backend.connection.close()


def _insert_rows(db_path: Path, workspace_id: str = "ws-1", operation_id: str = "op-1") -> None:
    """One workspace and one operation, with only the columns migration 0001 knows."""
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            connection.execute(
                "INSERT INTO workspaces (id, owner, name, provider, status, created_at,"
                " updated_at) VALUES (?, 'alice', ?, 'local', 'running',"
                " '2024-01-01 00:00:00', '2024-01-01 00:00:00')",
                (workspace_id, f"name-{workspace_id}"),
            )
            connection.execute(
                "INSERT INTO operations (id, workspace_id, owner, operation_type, status,"
                " started_at) VALUES (?, ?, 'alice', 'create', 'succeeded',"
                " '2024-01-01 00:00:00')",
                (operation_id, workspace_id),
            )
    finally:
        connection.close()


MakeFirstMigrationDb = Callable[[Path], Path]


@pytest.fixture
def make_first_migration_db() -> MakeFirstMigrationDb:
    """A database at migration 0001 holding workspace ws-1 and operation op-1."""

    def make(db_path: Path) -> Path:
        _migrate_to_first(db_path)
        _insert_rows(db_path)
        return db_path

    return make


@pytest.fixture
def first_migration_db(tmp_path: Path, make_first_migration_db: MakeFirstMigrationDb) -> Path:
    """tmp_path/vm.db at migration 0001 holding workspace ws-1 and operation op-1."""
    return make_first_migration_db(tmp_path / "vm.db")


@pytest.fixture
def broken_migrations(tmp_path: Path) -> Path:
    """The real migrations plus 9999_broken, whose first statement works and second fails."""
    return migrations_plus(
        tmp_path / "migrations_broken",
        "9999_broken",
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO no_such_table (id) VALUES (1);\n",
    )


@pytest.fixture
def lock_holder(start_process: StartProcess) -> Callable[[Path], subprocess.Popen[str]]:
    """Start a process that holds the running lock the way `vm-api web` and `worker` do."""

    def start(db_path: Path) -> subprocess.Popen[str]:
        code = (
            "import sys; from pathlib import Path; from service.runlock import hold_running_lock;"
            " hold_running_lock(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"
        )
        process = start_process([sys.executable, "-c", code, str(db_path)])
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        return process

    return start
