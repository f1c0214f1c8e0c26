"""The pre-start hook on PostgreSQL: migrations recorded in the schema, the optional pg_dump,
two hooks serialized on the advisory lock, and a failing migration.

Needs PostgreSQL: TEST_DATABASE_URL, or else a server answering at LOCAL_URL (the module is
skipped when neither is there). Every test works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from db_support import TEST_DATABASE_URL, execute
from migration_support import ALL_MIGRATIONS, migrations_plus

from models.settings import Settings
from service.migration_sets import MIGRATIONS_DIR, POSTGRES_SUBDIR, migrations_for
from service.prestart import MigrationFailed, PrestartResult, run_prestart
from service.prestart_postgres import MIGRATE_LOCK

psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2 is not installed (the postgres extra)")

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"
WAIT_SECONDS = 20.0


def _database_url() -> tuple[str | None, str]:
    """(the URL to use or None, why not). Read at import, as tests/conftest.py does: an
    autouse fixture clears VM_API_* from every test's environment."""
    if TEST_DATABASE_URL is not None:
        return TEST_DATABASE_URL, ""
    try:
        psycopg2.connect(LOCAL_URL, connect_timeout=2).close()
    except psycopg2.Error:
        return None, f"needs PostgreSQL: TEST_DATABASE_URL is unset and {LOCAL_URL} does not answer"
    return LOCAL_URL, ""


DATABASE_URL, WHY_NOT = _database_url()
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(DATABASE_URL is None, reason=WHY_NOT),
]

MakeSettings = Callable[..., Settings]


def _connect(autocommit: bool = True) -> Any:
    assert DATABASE_URL is not None
    connection = psycopg2.connect(DATABASE_URL)
    connection.autocommit = autocommit
    return connection


def _rows(settings: Settings, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """A query in the test's schema (its search_path), on a connection of its own."""
    assert settings.database is not None
    connection = psycopg2.connect(**settings.database.connect_kwargs)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(row) for row in cursor.fetchall()]
    finally:
        connection.close()


def _recorded(settings: Settings) -> list[str]:
    rows = _rows(settings, "SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
    return [str(row[0]) for row in rows]


def _applied_log(settings: Settings) -> list[str]:
    rows = _rows(settings, "SELECT migration_id FROM _yoyo_log WHERE operation = 'apply'")
    return sorted(str(row[0]) for row in rows)


def _tables(settings: Settings) -> set[str]:
    assert settings.database is not None
    rows = _rows(
        settings,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        settings.database.schema,
    )
    return {str(row[0]) for row in rows}


def _dumps(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pgdump")) if folder.is_dir() else []


@pytest.fixture
def make_pg_settings(tmp_path: Path) -> Iterator[MakeSettings]:
    """Settings on a new schema each call (VM_API_* variables as keywords); all dropped after."""
    schemas: list[str] = []

    def make(**variables: str) -> Settings:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        schemas.append(schema)
        env = {
            "VM_API_DB_PATH": str(tmp_path / "vm.db"),
            "VM_API_DEFAULT_PROVIDER": "local",
            "VM_API_DATABASE_URL": f"{DATABASE_URL}?schema={schema}",
            "VM_API_BACKUP_DIR": str(tmp_path / "dumps"),
            **variables,
        }
        return Settings.from_env(env)

    yield make
    connection = _connect()
    try:
        with connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        connection.close()


@pytest.fixture
def pg_settings(make_pg_settings: MakeSettings) -> Settings:
    return make_pg_settings()


def _only_first_migration(folder: Path) -> Path:
    """A migrations folder holding 0001 alone (and an empty postgresql/), as an old release."""
    (folder / POSTGRES_SUBDIR).mkdir(parents=True)
    shutil.copy(MIGRATIONS_DIR / f"{ALL_MIGRATIONS[0]}.sql", folder)
    return folder


def test_a_fresh_schema_gets_every_migration_recorded_in_it(pg_settings: Settings) -> None:
    assert pg_settings.database is not None and pg_settings.database.schema is not None

    result = run_prestart(pg_settings)

    assert result.applied == ALL_MIGRATIONS
    assert result.backup is None
    # The same history as on SQLite, in the service's own schema.
    sqlite_ids = [migration.id for migration in migrations_for("sqlite")]
    assert _recorded(pg_settings) == sqlite_ids == ALL_MIGRATIONS
    assert _applied_log(pg_settings) == ALL_MIGRATIONS
    tables = _tables(pg_settings)
    assert {"_yoyo_migration", "workspaces", "operations", "snapshots"} <= tables
    assert _rows(pg_settings, "SELECT count(*) FROM yoyo_lock") == [(0,)]
    # migrations/postgresql/0002 replaced the portable file: a volume's size is 64-bit.
    assert _rows(
        pg_settings,
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'snapshots' AND column_name = 'size_bytes'",
        pg_settings.database.schema,
    ) == [("bigint",)]


def test_a_second_run_applies_nothing(pg_settings: Settings) -> None:
    run_prestart(pg_settings)

    again = run_prestart(pg_settings)

    assert again == PrestartResult(applied=[], backup=None)
    assert _applied_log(pg_settings) == ALL_MIGRATIONS  # each once


def test_a_missing_schema_is_created(pg_settings: Settings) -> None:
    assert pg_settings.database is not None
    schema = pg_settings.database.schema
    connection = _connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
            assert cursor.fetchone() == (0,)
    finally:
        connection.close()

    run_prestart(pg_settings)

    assert "workspaces" in _tables(pg_settings)


def test_pg_backup_dumps_before_migrating_and_says_so(
    make_pg_settings: MakeSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_pg_settings(VM_API_PG_BACKUP="true")
    assert settings.pg_backup
    run_prestart(settings, migrations_dir=_only_first_migration(tmp_path / "old"))
    inserted = execute(
        settings,
        "INSERT INTO workspaces (id, owner, name, provider, status, created_at, updated_at)"
        " VALUES ('ws-1', 'alice', 'dev', 'local', 'running', now(), now())",
    )
    assert inserted == 1
    # (The first run dumped the empty schema too: unlike SQLite's, a new database is no case
    # of its own.)
    earlier = set(_dumps(settings.resolved_backup_dir))
    caplog.set_level(logging.INFO, logger="vm_api.prestart")

    result = run_prestart(settings)

    assert result.applied == ALL_MIGRATIONS[1:]
    (dump,) = set(_dumps(settings.resolved_backup_dir)) - earlier
    assert result.backup == dump
    assert settings.resolved_backup_dir == tmp_path / "dumps"
    listed = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    # The database as it was before this run: 0001's tables with their rows, no later one.
    schema = settings.database.schema if settings.database else None
    assert f"TABLE DATA {schema} workspaces" in listed.stdout
    assert f"TABLE {schema} snapshots" not in listed.stdout
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"pg_dump written to {dump}" in message for message in messages), messages
    assert not any("no backup taken" in message for message in messages), messages


def test_without_pg_backup_no_dump_is_written_and_the_log_says_so(
    pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert not pg_settings.pg_backup
    caplog.set_level(logging.INFO, logger="vm_api.prestart")

    result = run_prestart(pg_settings)

    assert result.applied == ALL_MIGRATIONS
    assert result.backup is None
    assert _dumps(pg_settings.resolved_backup_dir) == []
    messages = [record.getMessage() for record in caplog.records]
    assert any("no backup taken before migrating" in message for message in messages), messages
    assert not any("pg_dump written" in message for message in messages), messages


def test_pg_backup_with_nothing_pending_writes_no_dump(
    make_pg_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_pg_settings(VM_API_PG_BACKUP="true")
    run_prestart(settings)
    first_dumps = _dumps(settings.resolved_backup_dir)
    caplog.set_level(logging.INFO, logger="vm_api.prestart")

    result = run_prestart(settings)

    assert result == PrestartResult(applied=[], backup=None)
    assert _dumps(settings.resolved_backup_dir) == first_dumps
    messages = [record.getMessage() for record in caplog.records]
    assert any("no migration to apply, no backup taken" in message for message in messages)


def _waiting_for_the_migrate_lock() -> int:
    """Sessions of this database waiting for the pre-start hook's advisory lock."""
    connection = _connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = 0 AND objid = %s AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())",
                (MIGRATE_LOCK,),
            )
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def test_two_hooks_at_once_wait_for_the_lock_and_migrate_once(pg_settings: Settings) -> None:
    assert pg_settings.database is not None
    holder = _connect()
    results: list[PrestartResult] = []
    errors: list[BaseException] = []

    def hook() -> None:
        try:
            results.append(run_prestart(pg_settings))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=hook, daemon=True) for _ in range(2)]
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while _waiting_for_the_migrate_lock() < 2:
            assert time.monotonic() < deadline, "the hooks never asked for the lock"
            assert not errors, errors
            time.sleep(0.02)
        time.sleep(0.5)

        assert all(thread.is_alive() for thread in threads)
        assert results == [] and errors == []
        assert "_yoyo_migration" not in _tables(pg_settings)  # nothing ran past the lock
    finally:
        holder.close()  # the session ends: its advisory lock is released
    for thread in threads:
        thread.join(WAIT_SECONDS)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(len(result.applied) for result in results) == [0, len(ALL_MIGRATIONS)]
    assert _recorded(pg_settings) == ALL_MIGRATIONS
    assert _applied_log(pg_settings) == ALL_MIGRATIONS  # each applied exactly once
    assert _rows(pg_settings, "SELECT count(*) FROM yoyo_lock") == [(0,)]


def test_a_failing_migration_is_named_and_the_earlier_ones_stay(
    pg_settings: Settings, tmp_path: Path
) -> None:
    broken = migrations_plus(
        tmp_path / "migrations_broken",
        "9999_broken",
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO no_such_table (id) VALUES (1);\n",
    )
    assert (broken / POSTGRES_SUBDIR).is_dir()  # the copy keeps the PostgreSQL overrides

    with pytest.raises(MigrationFailed) as caught:
        run_prestart(pg_settings, migrations_dir=broken)

    message = str(caught.value)
    assert "migration 9999_broken failed" in message
    assert "no_such_table" in message
    assert "the migrations before it stay applied" in message
    assert "\n" not in message
    assert _recorded(pg_settings) == ALL_MIGRATIONS
    tables = _tables(pg_settings)
    assert "workspaces" in tables
    assert "half_done" not in tables  # 9999 ran in a transaction of its own, rolled back
    assert _rows(pg_settings, "SELECT count(*) FROM yoyo_lock") == [(0,)]
    # Once the migration is fixed (here: gone), the next start finds nothing to apply.
    assert run_prestart(pg_settings).applied == []


def _waiting_for_a_transaction() -> int:
    connection = _connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted"
            )
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def test_a_hook_started_while_another_creates_the_schema_waits_and_migrates(
    pg_settings: Settings,
) -> None:
    assert pg_settings.database is not None
    creator = _connect(autocommit=False)
    errors: list[BaseException] = []
    results: list[PrestartResult] = []

    def hook() -> None:
        try:
            results.append(run_prestart(pg_settings))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=hook, daemon=True)
    try:
        with creator.cursor() as cursor:  # someone else creating it at this moment
            cursor.execute(f'CREATE SCHEMA "{pg_settings.database.schema}"')
        thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while _waiting_for_a_transaction() < 1 and thread.is_alive():
            assert time.monotonic() < deadline, "the hook never waited for the creator"
            time.sleep(0.02)
        creator.commit()
    finally:
        creator.close()
    thread.join(WAIT_SECONDS)

    assert not thread.is_alive()
    if errors:
        raise errors[0]
    assert [result.applied for result in results] == [ALL_MIGRATIONS]
