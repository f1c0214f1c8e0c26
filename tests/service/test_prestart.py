"""The pre-start hook: backup then migrate, failures undone, runs serialized, interrupted runs
finished; the rollback files; and restoring a backup in place of the database.

All but the rollback-file check are about the SQLite file (its backups, marker, flock, WAL,
PRAGMA): sqlite_only. The hook on PostgreSQL is tested in test_prestart_postgres.py."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from migration_support import ALL_MIGRATIONS, migrations_plus
from yoyo import get_backend, read_migrations

from models.settings import Settings
from service import prestart
from service.backups import SQLITE_HEADER, BackupError, list_backups, write_backup
from service.migration_sets import POSTGRES_SUBDIR
from service.prestart import MIGRATIONS_DIR, MigrationFailed, restore, run_prestart
from service.runlock import ServiceRunning

YOYO_TABLES = {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"}
StartProcess = Callable[..., subprocess.Popen[str]]


def _query(db_path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def _dump(db_path: Path) -> list[str]:
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _recorded(db_path: Path) -> list[str]:
    rows = _query(db_path, "SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
    return [str(row[0]) for row in rows]


def _tables(db_path: Path) -> set[str]:
    rows = _query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


def _columns(db_path: Path, table: str) -> list[str]:
    return [str(row[1]) for row in _query(db_path, f"PRAGMA table_info({table})")]


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.sqlite_only
def test_empty_database_gets_every_migration_and_no_backup(settings: Settings) -> None:
    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS
    assert result.backup is None
    assert _recorded(settings.db_path) == ALL_MIGRATIONS
    assert {"workspaces", "operations", "snapshots"} <= _tables(settings.db_path)
    assert list_backups(settings.db_path) == []
    assert _query(settings.db_path, "SELECT count(*) FROM yoyo_lock") == [(0,)]


@pytest.mark.sqlite_only
def test_existing_database_is_backed_up_before_migrating(
    settings: Settings, first_migration_db: Path
) -> None:
    started = int(time.time())

    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS[1:]
    assert result.backup is not None
    assert result.backup.parent == first_migration_db.parent
    name, _, stamp = result.backup.name.rpartition(".")
    assert name == "vm.db.backup"
    assert started <= int(stamp) <= int(time.time())
    assert result.backup.read_bytes()[: len(SQLITE_HEADER)] == SQLITE_HEADER
    # The backup is the database before this run: first migration only, with its rows.
    assert _recorded(result.backup) == ALL_MIGRATIONS[:1]
    assert "snapshots" not in _tables(result.backup)
    assert _query(result.backup, "SELECT id FROM workspaces") == [("ws-1",)]


@pytest.mark.sqlite_only
def test_existing_data_is_kept_by_the_migration(
    settings: Settings, first_migration_db: Path
) -> None:
    run_prestart(settings)

    assert _recorded(first_migration_db) == ALL_MIGRATIONS
    assert _query(first_migration_db, "SELECT id, owner, cpus FROM workspaces") == [
        ("ws-1", "alice", None)
    ]
    assert _query(first_migration_db, "SELECT id, workspace_id FROM operations") == [
        ("op-1", "ws-1")
    ]
    assert not prestart._marker(first_migration_db).exists()


@pytest.mark.sqlite_only
def test_backup_holds_commits_still_in_the_wal(
    settings: Settings, first_migration_db: Path
) -> None:
    writer = sqlite3.connect(first_migration_db, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute(
            "INSERT INTO workspaces (id, owner, name, provider, status, created_at, updated_at)"
            " VALUES ('ws-wal', 'bob', 'w', 'local', 'running', '2024-01-01', '2024-01-01')"
        )
        assert Path(f"{first_migration_db}-wal").stat().st_size > 0

        result = run_prestart(settings)
    finally:
        writer.close()

    assert result.backup is not None
    assert _query(result.backup, "SELECT id FROM workspaces ORDER BY id") == [
        ("ws-1",),
        ("ws-wal",),
    ]


@pytest.mark.sqlite_only
def test_nothing_pending_means_no_backup(settings: Settings, first_migration_db: Path) -> None:
    run_prestart(settings)
    backups = list_backups(first_migration_db)

    result = run_prestart(settings)

    assert result.applied == []
    assert result.backup is None
    assert list_backups(first_migration_db) == backups


@pytest.mark.sqlite_only
def test_failing_migration_leaves_the_database_exactly_as_it_was(
    settings: Settings, first_migration_db: Path, broken_migrations: Path
) -> None:
    before = _dump(first_migration_db)

    with pytest.raises(MigrationFailed) as caught:
        run_prestart(settings, migrations_dir=broken_migrations)

    assert _dump(first_migration_db) == before
    message = str(caught.value)
    assert "9999_broken" in message
    assert "\n" not in message
    (backup,) = list_backups(first_migration_db)
    assert f"backup kept at {backup}" in message
    assert _recorded(backup) == ALL_MIGRATIONS[:1]
    assert not prestart._marker(first_migration_db).exists()


@pytest.mark.sqlite_only
def test_failing_migration_on_a_new_database_leaves_no_database(
    settings: Settings, broken_migrations: Path
) -> None:
    with pytest.raises(MigrationFailed, match="migration 9999_broken failed"):
        run_prestart(settings, migrations_dir=broken_migrations)

    assert not settings.db_path.exists()
    assert not prestart._marker(settings.db_path).exists()
    # Fixed migrations then start from scratch.
    assert run_prestart(settings).applied == ALL_MIGRATIONS


@pytest.mark.sqlite_only
def test_interrupted_run_is_put_back_then_completed(
    settings: Settings, first_migration_db: Path
) -> None:
    # What a run killed half-way through 0002 leaves: the marker naming its backup, and a
    # schema change that yoyo never recorded (re-running 0002 over it would fail).
    backup = write_backup(first_migration_db)
    prestart._write_marker(first_migration_db, str(backup))
    connection = sqlite3.connect(first_migration_db)
    connection.execute("ALTER TABLE workspaces ADD COLUMN cpus REAL")
    connection.close()

    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS[1:]
    assert _recorded(first_migration_db) == ALL_MIGRATIONS
    assert _query(first_migration_db, "SELECT id FROM workspaces") == [("ws-1",)]
    assert not prestart._marker(first_migration_db).exists()


@pytest.mark.sqlite_only
def test_interrupted_run_on_a_new_database_starts_over(settings: Settings) -> None:
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    prestart._write_marker(settings.db_path, prestart.NEW_DATABASE)
    connection = sqlite3.connect(settings.db_path)
    connection.execute("CREATE TABLE workspaces (id TEXT)")  # 0001 half done, not recorded
    connection.close()

    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS
    assert result.backup is None
    assert "deleted_at" in _columns(settings.db_path, "workspaces")


@pytest.mark.sqlite_only
def test_interrupted_run_whose_backup_is_gone_stops_with_a_message(
    settings: Settings, first_migration_db: Path
) -> None:
    missing = first_migration_db.with_name("vm.db.backup.1")
    prestart._write_marker(first_migration_db, str(missing))
    before = _dump(first_migration_db)

    with pytest.raises(MigrationFailed, match=r"interrupted and its backup .* is gone"):
        run_prestart(settings)

    assert _dump(first_migration_db) == before


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_prestart_killed_mid_migration_is_completed_by_the_next_start(
    settings: Settings,
    first_migration_db: Path,
    tmp_path: Path,
    start_process: StartProcess,
) -> None:
    slow = migrations_plus(
        tmp_path / "migrations_slow",
        "9999_slow",
        "CREATE TABLE endless AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)"
        " SELECT count(*) AS total FROM n;\n",
    )
    code = (
        "import sys; from pathlib import Path; from models.settings import Settings;"
        " from service.prestart import run_prestart;"
        " run_prestart(Settings.from_env(), Path(sys.argv[1]))"
    )
    process = start_process([sys.executable, "-c", code, str(slow)])
    marker = prestart._marker(first_migration_db)

    # Every real migration is committed and recorded, 9999_slow is running: kill it there.
    _wait_for(lambda: marker.exists() and ALL_MIGRATIONS[-1] in _recorded(first_migration_db))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert marker.exists()

    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS[1:]
    assert _recorded(first_migration_db) == ALL_MIGRATIONS
    assert "endless" not in _tables(first_migration_db)
    assert _query(first_migration_db, "SELECT id FROM workspaces") == [("ws-1",)]
    assert _query(first_migration_db, "SELECT id FROM operations") == [("op-1",)]
    assert _query(first_migration_db, "SELECT count(*) FROM yoyo_lock") == [(0,)]
    assert not marker.exists()


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_two_prestarts_at_once_apply_the_migrations_once(
    tmp_path: Path, vm_api_command: list[str], start_process: StartProcess
) -> None:
    db_path = tmp_path / "vm.db"
    processes = [start_process([*vm_api_command, "prestart"]) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]

    assert [process.returncode for process in processes] == [0, 0]
    reports = [stderr for _, stderr in outputs if "applied migrations" in stderr]
    assert len(reports) == 1, outputs
    assert _recorded(db_path) == ALL_MIGRATIONS
    log = _query(db_path, "SELECT migration_id FROM _yoyo_log WHERE operation = 'apply'")
    assert sorted(str(row[0]) for row in log) == ALL_MIGRATIONS
    assert list_backups(db_path) == []


def _schema(db_path: Path) -> dict[str, object]:
    """Tables with their columns, and indexes with their SQL, leaving out yoyo's own."""
    connection = sqlite3.connect(db_path)
    try:
        rows = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            " WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        schema: dict[str, object] = {}
        for kind, name, table, sql in rows:
            if table in YOYO_TABLES:
                continue
            if kind == "table":
                schema[name] = connection.execute(f"PRAGMA table_info({name})").fetchall()
            else:
                schema[name] = sql
        return schema
    finally:
        connection.close()


def test_every_migration_has_a_rollback_file() -> None:
    for migration in ALL_MIGRATIONS:
        assert (MIGRATIONS_DIR / f"{migration}.rollback.sql").is_file(), migration


def test_every_postgresql_override_has_a_rollback_file_and_a_portable_twin() -> None:
    overrides = sorted(
        path.name.removesuffix(".sql")
        for path in (MIGRATIONS_DIR / POSTGRES_SUBDIR).glob("*.sql")
        if not path.name.endswith(".rollback.sql")
    )
    assert overrides  # the folder is read at all
    for migration in overrides:
        assert migration in ALL_MIGRATIONS, migration
        rollback = MIGRATIONS_DIR / POSTGRES_SUBDIR / f"{migration}.rollback.sql"
        assert rollback.is_file(), migration


@pytest.mark.sqlite_only
def test_each_rollback_undoes_its_own_migration(tmp_path: Path) -> None:
    db_path = tmp_path / "vm.db"
    migrations = read_migrations(str(MIGRATIONS_DIR))
    backend = get_backend(f"sqlite:///{db_path}")
    try:
        with backend.lock():
            schemas = [_schema(db_path)]
            for migration_id in ALL_MIGRATIONS:
                one = migrations.filter(lambda m, wanted=migration_id: m.id == wanted)
                backend.apply_migrations(backend.to_apply(one))
                schemas.append(_schema(db_path))
            for index in reversed(range(len(ALL_MIGRATIONS))):
                wanted = ALL_MIGRATIONS[index]
                one = migrations.filter(lambda m, wanted=wanted: m.id == wanted)
                backend.rollback_migrations(backend.to_rollback(one))
                assert _schema(db_path) == schemas[index], wanted
    finally:
        backend.connection.close()

    assert schemas[0] == {}
    assert _tables(db_path) <= YOYO_TABLES
    assert _recorded(db_path) == []


@pytest.mark.sqlite_only
def test_rolled_back_database_migrates_again(settings: Settings) -> None:
    run_prestart(settings)
    backend = get_backend(f"sqlite:///{settings.db_path}")
    try:
        with backend.lock():
            migrations = read_migrations(str(MIGRATIONS_DIR))
            backend.rollback_migrations(backend.to_rollback(migrations))
    finally:
        backend.connection.close()
    assert _tables(settings.db_path) <= YOYO_TABLES

    assert run_prestart(settings).applied == ALL_MIGRATIONS


@pytest.mark.sqlite_only
def test_restore_puts_the_backup_back_and_saves_the_current_database(
    settings: Settings, first_migration_db: Path
) -> None:
    run_prestart(settings)
    backup = write_backup(first_migration_db)
    connection = sqlite3.connect(first_migration_db)
    with connection:
        connection.execute("UPDATE workspaces SET name = 'renamed-after-backup'")
    connection.close()

    safety = restore(settings, backup)

    assert _query(first_migration_db, "SELECT name FROM workspaces") == [("name-ws-1",)]
    assert safety is not None and safety != backup
    assert _query(safety, "SELECT name FROM workspaces") == [("renamed-after-backup",)]


@pytest.mark.sqlite_only
def test_restore_wins_over_an_interrupted_migration_run(
    settings: Settings, first_migration_db: Path, tmp_path: Path
) -> None:
    # A marker left by a dead run must not put its older backup over what was restored.
    stale = write_backup(first_migration_db)
    prestart._write_marker(first_migration_db, str(stale))
    chosen = tmp_path / "chosen.db"
    shutil.copy(first_migration_db, chosen)
    connection = sqlite3.connect(chosen)
    with connection:
        connection.execute("UPDATE workspaces SET name = 'chosen'")
    connection.close()

    restore(settings, chosen)
    run_prestart(settings)

    assert _query(first_migration_db, "SELECT name FROM workspaces") == [("chosen",)]


@pytest.mark.sqlite_only
def test_restore_refuses_the_database_itself(settings: Settings, first_migration_db: Path) -> None:
    with pytest.raises(BackupError, match="is the database itself"):
        restore(settings, first_migration_db)


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_restore_refuses_while_the_service_holds_the_running_lock(
    settings: Settings,
    first_migration_db: Path,
    lock_holder: Callable[[Path], subprocess.Popen[str]],
) -> None:
    backup = write_backup(first_migration_db)
    holder = lock_holder(first_migration_db)

    with pytest.raises(ServiceRunning, match="running; stop it first"):
        restore(settings, backup)

    assert list_backups(first_migration_db) == [backup]
    holder.kill()
    holder.wait(timeout=10)
    # The flock died with its holder: nothing stale is left behind.
    assert restore(settings, backup) is not None
