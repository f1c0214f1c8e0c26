"""Backups: unique names, consistent copies of WAL databases, pruning, and what verify refuses.

All about the SQLite file and its copies (sqlite_only); on PostgreSQL the backup is pg_dump,
tested in test_prestart_postgres.py."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from models.settings import Settings
from service.backups import (
    SQLITE_HEADER,
    BackupError,
    list_backups,
    prune_backups,
    verify_database,
    write_backup,
)
from service.prestart import run_prestart

pytestmark = pytest.mark.sqlite_only
RunVmApi = Callable[..., subprocess.CompletedProcess[str]]


def _stamp(path: Path) -> int:
    return int(path.name.split(".backup.")[1].split(".")[0])


def _workspace_ids(db_path: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT id FROM workspaces ORDER BY id")]
    finally:
        connection.close()


def _insert_workspace(connection: sqlite3.Connection, workspace_id: str) -> None:
    connection.execute(
        "INSERT INTO workspaces (id, owner, name, provider, status, created_at, updated_at)"
        " VALUES (?, 'alice', ?, 'local', 'running', '2024-01-01', '2024-01-01')",
        (workspace_id, workspace_id),
    )


@pytest.fixture
def database(settings: Settings) -> Path:
    run_prestart(settings)
    connection = sqlite3.connect(settings.db_path)
    with connection:
        _insert_workspace(connection, "ws-1")
    connection.close()
    return settings.db_path


def test_backup_is_named_after_the_database_and_the_time(database: Path) -> None:
    started = int(time.time())

    backup = write_backup(database)

    assert re.fullmatch(r"vm\.db\.backup\.\d+", backup.name)
    assert started <= _stamp(backup) <= int(time.time())
    assert backup.read_bytes()[: len(SQLITE_HEADER)] == SQLITE_HEADER
    assert _workspace_ids(backup) == ["ws-1"]


def test_two_backups_in_the_same_second_keep_distinct_names(database: Path) -> None:
    for _ in range(5):
        first, second = write_backup(database), write_backup(database)
        if _stamp(first) == _stamp(second):
            break
    else:
        pytest.fail("could not write two backups within one second")

    assert first != second
    assert second.name == f"{first.name}.1"
    for backup in (first, second):
        verify_database(backup)
        assert _workspace_ids(backup) == ["ws-1"]
    assert list_backups(database)[:2] == [second, first]


def test_backup_of_a_wal_database_holds_committed_rows_only(database: Path) -> None:
    writer = sqlite3.connect(database, isolation_level=None)
    pending = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        _insert_workspace(writer, "ws-committed")
        pending.execute("BEGIN IMMEDIATE")
        _insert_workspace(pending, "ws-uncommitted")
        # The committed row lives only in the -wal file: a plain file copy would lose it.
        plain_copy = database.with_name("plain-copy.db")
        shutil.copy(database, plain_copy)
        assert _workspace_ids(plain_copy) == ["ws-1"]

        backup = write_backup(database)
    finally:
        pending.close()
        writer.close()

    assert _workspace_ids(backup) == ["ws-1", "ws-committed"]


def test_backup_is_one_self_contained_file(database: Path) -> None:
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()

    backup = write_backup(database)
    verify_database(backup)
    _workspace_ids(backup)

    check = sqlite3.connect(backup)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        check.close()
    assert sorted(path.name for path in database.parent.glob(f"{backup.name}*")) == [backup.name]


def test_keep_leaves_only_the_newest_backups(database: Path) -> None:
    old = [database.with_name(f"vm.db.backup.{stamp}") for stamp in (1000, 2000, 3000)]
    for path in old:
        shutil.copy(database, path)
    unrelated = [database.with_name("vm.db.backup.notes"), database.with_name("other.db.backup.1")]
    for path in unrelated:
        path.write_text("not ours")

    newest = write_backup(database, keep=2)

    assert list_backups(database) == [newest, old[2]]
    assert not old[0].exists() and not old[1].exists()
    assert all(path.exists() for path in unrelated)


def test_prune_orders_same_second_backups_by_their_counter(database: Path) -> None:
    names = ["vm.db.backup.5000", "vm.db.backup.5000.1", "vm.db.backup.5000.2"]
    for name in names:
        shutil.copy(database, database.with_name(name))

    removed = prune_backups(database, 1)

    assert sorted(path.name for path in removed) == names[:2]
    assert [path.name for path in list_backups(database)] == names[2:]


def test_backup_without_a_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        write_backup(tmp_path / "vm.db")

    assert list(tmp_path.iterdir()) == []


def test_verify_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    with pytest.raises(BackupError, match="is not an SQLite database"):
        verify_database(path)


def test_verify_refuses_an_sqlite_database_that_is_not_ours(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()

    with pytest.raises(BackupError, match="not a vm-api one"):
        verify_database(path)


def test_verify_refuses_a_damaged_database(database: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    data = bytearray(database.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    damaged.write_bytes(bytes(data))

    with pytest.raises(BackupError, match=r"damaged\.db"):
        verify_database(damaged)


def test_verify_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="cannot read"):
        verify_database(tmp_path / "missing.db")


@pytest.mark.slow
def test_cli_backup_prints_the_path_of_a_valid_backup(run_vm_api: RunVmApi, database: Path) -> None:
    result = run_vm_api("backup")

    assert result.returncode == 0, result.stderr
    printed = Path(result.stdout.strip())
    assert printed.parent == database.parent
    assert re.fullmatch(r"vm\.db\.backup\.\d+(\.\d+)?", printed.name)
    verify_database(printed)
    assert _workspace_ids(printed) == ["ws-1"]


@pytest.mark.slow
def test_cli_backup_honours_backup_keep(run_vm_api: RunVmApi, database: Path) -> None:
    printed = []
    for _ in range(3):
        result = run_vm_api("backup", VM_API_BACKUP_KEEP="2")
        assert result.returncode == 0, result.stderr
        printed.append(Path(result.stdout.strip()))

    assert list_backups(database) == printed[:0:-1]


@pytest.mark.slow
def test_cli_backup_without_a_database_says_so(run_vm_api: RunVmApi, tmp_path: Path) -> None:
    result = run_vm_api("backup")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"vm-api: no database at {tmp_path / 'vm.db'}"]
