"""Reaching into the database behind a test's back, on either engine.

Tests age rows, break them or read what the API does not show. They write `?` placeholders;
on PostgreSQL (TEST_DATABASE_URL) they become psycopg2's `%s`. Times are passed as
`records.sql_time()` text, which both engines compare with their timestamp columns.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from models.settings import Settings

# TEST_DATABASE_URL=postgresql://...: the suite again with the data on PostgreSQL, each test
# (and each service a test starts) in a schema of its own. Read at import: an autouse fixture
# clears VM_API_* from the environment of every test.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# TEST_QUEUE_URL=redis://...: the queue on Redis too, under a name of its own per test
TEST_QUEUE_URL = os.environ.get("TEST_QUEUE_URL")
created_schemas: list[str] = []


def test_backends() -> dict[str, str]:
    """The VM_API_* settings that put a test's (or a test service's) data and queue on the
    run's PostgreSQL and Redis, each under a new name; empty on the embedded defaults."""
    backends = {}
    database_url = test_database_url()
    if database_url is not None:
        backends["VM_API_DATABASE_URL"] = database_url
    if TEST_QUEUE_URL is not None:
        backends["VM_API_QUEUE_URL"] = TEST_QUEUE_URL
        backends["VM_API_INSTANCE"] = f"vm-api-test-{uuid.uuid4().hex[:12]}"
    return backends


def test_database_url() -> str | None:
    """A new, empty schema of TEST_DATABASE_URL's database; None when the run is on SQLite."""
    if TEST_DATABASE_URL is None:
        return None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    created_schemas.append(schema)
    return f"{TEST_DATABASE_URL}?schema={schema}"


# A service's settings (its data, on either engine), or an SQLite file such as a backup.
Target = Settings | Path


def on_postgres(target: Target) -> bool:
    return isinstance(target, Settings) and target.database is not None


def _in_driver_style(target: Target, sql: str) -> str:
    """The tests' `?` placeholders, as the target's driver wants them."""
    return sql.replace("?", "%s") if on_postgres(target) else sql


def _connect(target: Target) -> Any:
    if isinstance(target, Path):
        return sqlite3.connect(target, timeout=30)
    if target.database is None:
        return sqlite3.connect(target.db_path, timeout=30)
    import psycopg2

    return psycopg2.connect(**target.database.connect_kwargs)


def execute(settings: Target, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement and commit; the number of rows it changed."""
    return execute_many(settings, sql, [params])


def execute_many(settings: Target, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        sql = _in_driver_style(settings, sql)
        changed = 0
        for params in rows:
            cursor.execute(sql, tuple(params))
            changed += max(cursor.rowcount, 0)
        connection.commit()
        return changed
    finally:
        connection.close()


def execute_together(settings: Target, *statements: tuple[str, Sequence[Any]]) -> None:
    """Several statements in one transaction: all of them happen, or none."""
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        for sql, params in statements:
            cursor.execute(_in_driver_style(settings, sql), tuple(params))
        connection.commit()
    finally:
        connection.close()


def query(settings: Target, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        sql = _in_driver_style(settings, sql)
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        connection.close()


@contextmanager
def writers_held(settings: Target) -> Iterator[None]:
    """Another writer holds the data: SQLite's write lock, or on PostgreSQL an exclusive lock
    on the workspaces and operations tables (reads go on; writes wait)."""
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        if on_postgres(settings):
            cursor.execute("LOCK TABLE workspaces, operations IN EXCLUSIVE MODE")
        else:
            connection.isolation_level = None
            cursor.execute("BEGIN IMMEDIATE")
        yield
        connection.commit() if on_postgres(settings) else cursor.execute("COMMIT")
    finally:
        connection.close()
