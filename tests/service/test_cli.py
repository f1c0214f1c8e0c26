"""The real `vm-api` command in a subprocess: help, prestart, queue, restore and their errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huey.storage import SqliteStorage

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


def test_prestart_reports_what_it_applied_once(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    first = run_vm_api("prestart")
    second = run_vm_api("prestart")

    assert first.returncode == 0, first.stderr
    assert "vm-api: applied migrations 0001_workspaces_and_operations" in first.stderr
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stderr
    assert (tmp_path / "vm.db").is_file()


def test_prestart_of_an_older_database_says_where_the_backup_is(
    run_vm_api: RunVmApi, first_migration_db: Path
) -> None:
    result = run_vm_api("prestart")

    assert result.returncode == 0, result.stderr
    (backup,) = list_backups(first_migration_db)
    assert f"vm-api: backed up the database to {backup}" in result.stderr


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


def test_restore_refuses_a_file_that_is_not_sqlite(
    run_vm_api: RunVmApi, migrated_db: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")

    result = run_vm_api("restore", str(text))

    assert result.returncode == 1
    assert _one_line(result) == f"vm-api: {text} is not an SQLite database"
    assert _names(migrated_db) == ["name-ws-1"]


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
