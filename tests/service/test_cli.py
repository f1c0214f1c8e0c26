"""The real `vm-api` command in a subprocess: help, prestart, queue, restore and their errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from db_support import TEST_DATABASE_URL, query
from huey.storage import SqliteStorage
from migration_support import ALL_MIGRATIONS

from models.settings import Settings
from service.backups import list_backups, write_backup
from tasks.queue import QUEUE_NAME

pytestmark = pytest.mark.slow

RunVmApi = Callable[..., subprocess.CompletedProcess[str]]
SUBCOMMANDS = ("web", "worker", "prestart", "backup", "restore", "queue")


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _names(db_path: Path) -> list[str]:
    connection = sqlite3.connect(db_path)
    try:
        return [row[0] for row in connection.execute("SELECT name FROM workspaces ORDER BY id")]
    finally:
        connection.close()


def _rename(db_path: Path, name: str) -> None:
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("UPDATE workspaces SET name = ?", (name,))
    connection.close()


def test_help_lists_every_subcommand(run_vm_api: RunVmApi) -> None:
    result = run_vm_api("--help")

    assert result.returncode == 0
    assert result.stdout.startswith("usage: vm-api")
    for command in SUBCOMMANDS:
        assert command in result.stdout


def test_unknown_subcommand_is_a_usage_error(run_vm_api: RunVmApi) -> None:
    result = run_vm_api("frobnicate")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_prestart_reports_what_it_applied_once(
    run_vm_api: RunVmApi, tmp_path: Path, cli_database_url: str | None
) -> None:
    first = run_vm_api("prestart")
    second = run_vm_api("prestart")

    assert first.returncode == 0, first.stderr
    assert "vm-api: applied migrations 0001_workspaces_and_operations" in first.stderr
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stderr
    if cli_database_url is None:
        assert (tmp_path / "vm.db").is_file()
    else:  # the data is in the schema, not in the file
        assert not (tmp_path / "vm.db").exists()
        recorded = query(_on(cli_database_url), "SELECT count(*) FROM _yoyo_migration")
        assert recorded == [(len(ALL_MIGRATIONS),)]


def _on(database_url: str) -> Settings:
    return Settings.from_env({"VM_API_DATABASE_URL": database_url})


postgres_run = pytest.mark.skipif(
    TEST_DATABASE_URL is None, reason="about the data on PostgreSQL; this run is on SQLite"
)


@pytest.mark.postgres
@postgres_run
def test_backup_on_postgres_prints_a_pg_dump_that_pg_restore_reads(
    run_vm_api: RunVmApi, tmp_path: Path
) -> None:
    assert run_vm_api("prestart").returncode == 0

    result = run_vm_api("backup", VM_API_BACKUP_DIR=str(tmp_path / "dumps"))

    assert result.returncode == 0, result.stderr
    dump = Path(result.stdout.strip())
    assert dump.parent == tmp_path / "dumps" and dump.suffix == ".pgdump"
    listed = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert " workspaces" in listed.stdout


@pytest.mark.postgres
@postgres_run
def test_restore_on_postgres_points_to_pg_restore(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    assert run_vm_api("prestart").returncode == 0
    dump = tmp_path / "vm.pgdump"

    result = run_vm_api("restore", str(dump))

    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith("vm-api: the data is on PostgreSQL: stop the service")
    assert line.endswith(f"pg_restore --clean --dbname=... {dump}")


# Nothing listens on port 9 of the loopback: the connection is refused at once.
UNANSWERED_URL = "postgresql://vm:s3cret-word@127.0.0.1:9/vm?schema=app"


def test_a_database_that_does_not_answer_is_named_without_the_password(
    run_vm_api: RunVmApi,
) -> None:
    result = run_vm_api("prestart", VM_API_DATABASE_URL=UNANSWERED_URL)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("vm-api: database error: ")
    assert result.stderr.rstrip().endswith("(postgresql://vm@127.0.0.1:9/vm?schema=app)")
    assert "s3cret-word" not in result.stderr + result.stdout


def test_a_database_that_does_not_answer_is_one_line(run_vm_api: RunVmApi) -> None:
    result = run_vm_api("prestart", VM_API_DATABASE_URL=UNANSWERED_URL)

    assert result.returncode == 1
    assert _one_line(result).startswith("vm-api: database error: ")


@pytest.mark.sqlite_only
def test_prestart_of_an_older_database_says_where_the_backup_is(
    run_vm_api: RunVmApi, first_migration_db: Path
) -> None:
    result = run_vm_api("prestart")

    assert result.returncode == 0, result.stderr
    (backup,) = list_backups(first_migration_db)
    assert f"vm-api: backed up the database to {backup}" in result.stderr


@pytest.mark.sqlite_only
def test_failing_migration_exits_with_one_line_naming_it(
    run_vm_api: RunVmApi, first_migration_db: Path
) -> None:
    # 0002 creates `snapshots`; a table of that name already there makes it fail part-way.
    connection = sqlite3.connect(first_migration_db)
    connection.execute("CREATE TABLE snapshots (id TEXT)")
    connection.close()
    connection = sqlite3.connect(first_migration_db)
    before = list(connection.iterdump())
    connection.close()

    result = run_vm_api("prestart")

    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith("vm-api: migration 0002_resources_and_snapshots failed: ")
    (backup,) = list_backups(first_migration_db)
    assert line.endswith(f"backup kept at {backup}")
    connection = sqlite3.connect(first_migration_db)
    assert list(connection.iterdump()) == before
    connection.close()


@pytest.mark.sqlite_only
def test_database_that_is_not_sqlite_is_one_line(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    (tmp_path / "vm.db").write_text("this is not a database, just some text " * 100)

    result = run_vm_api("prestart")

    assert result.returncode == 1
    assert _one_line(result).startswith("vm-api: database error: ")


def test_queue_prints_json_counts_of_an_empty_queue(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    result = run_vm_api("queue", VM_API_DB_PATH=str(tmp_path / "new" / "vm.db"))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pending": 0, "scheduled": 0}


def test_queue_counts_what_is_waiting(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    storage = SqliteStorage(QUEUE_NAME, filename=str(tmp_path / "jobs.db"))
    try:
        storage.enqueue(b"first")
        storage.enqueue(b"second")
        storage.add_to_schedule(b"later", datetime.now(UTC) + timedelta(hours=1))
    finally:
        storage.close()

    result = run_vm_api("queue", VM_API_QUEUE_PATH=str(tmp_path / "jobs.db"))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pending": 2, "scheduled": 1}


@pytest.fixture
def migrated_db(run_vm_api: RunVmApi, first_migration_db: Path) -> Path:
    assert run_vm_api("prestart").returncode == 0
    for backup in list_backups(first_migration_db):
        backup.unlink()
    return first_migration_db


@pytest.mark.sqlite_only
def test_restore_puts_a_backup_back_and_says_where_the_old_one_went(
    run_vm_api: RunVmApi, migrated_db: Path
) -> None:
    backup = write_backup(migrated_db)
    _rename(migrated_db, "changed-after-backup")

    result = run_vm_api("restore", str(backup))

    assert result.returncode == 0, result.stderr
    assert _names(migrated_db) == ["name-ws-1"]
    (saved,) = [path for path in list_backups(migrated_db) if path != backup]
    assert result.stdout.strip() == (
        f"vm-api: restored {migrated_db} from {backup}; the previous database was saved to {saved}"
    )
    assert _names(saved) == ["changed-after-backup"]


@pytest.mark.sqlite_only
def test_restore_refuses_while_the_service_runs(
    run_vm_api: RunVmApi,
    migrated_db: Path,
    lock_holder: Callable[[Path], subprocess.Popen[str]],
) -> None:
    backup = write_backup(migrated_db)
    _rename(migrated_db, "live")
    lock_holder(migrated_db)

    result = run_vm_api("restore", str(backup))

    assert result.returncode == 1
    assert _one_line(result) == "vm-api: vm-api is running; stop it first"
    assert _names(migrated_db) == ["live"]
    assert list_backups(migrated_db) == [backup]


@pytest.mark.sqlite_only
def test_restore_refuses_a_file_that_is_not_sqlite(
    run_vm_api: RunVmApi, migrated_db: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")

    result = run_vm_api("restore", str(text))

    assert result.returncode == 1
    assert _one_line(result) == f"vm-api: {text} is not an SQLite database"
    assert _names(migrated_db) == ["name-ws-1"]


@pytest.mark.sqlite_only
def test_restore_refuses_an_sqlite_database_that_is_not_ours(
    run_vm_api: RunVmApi, migrated_db: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()

    result = run_vm_api("restore", str(other))

    assert result.returncode == 1
    assert _one_line(result) == f"vm-api: {other} is an SQLite database but not a vm-api one"
    assert _names(migrated_db) == ["name-ws-1"]
    assert list_backups(migrated_db) == []


@pytest.mark.sqlite_only
def test_restored_older_backup_is_migrated_by_the_next_start(
    run_vm_api: RunVmApi, migrated_db: Path, make_first_migration_db: Callable[[Path], Path]
) -> None:
    older = make_first_migration_db(migrated_db.with_name("older.db"))

    restored = run_vm_api("restore", str(older))
    migrated = run_vm_api("prestart")

    assert restored.returncode == 0, restored.stderr
    assert migrated.returncode == 0, migrated.stderr
    assert "applied migrations 0002_resources_and_snapshots" in migrated.stderr
    assert _names(migrated_db) == ["name-ws-1"]
