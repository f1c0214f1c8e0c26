"""Reaching into the database behind a test's back, on either engine.

Tests age rows, break them or read what the API does not show. They write `?` placeholders;
on PostgreSQL (TEST_DATABASE_URL) they become psycopg2's `%s`. Times are passed as
`records.sql_time()` text, which both engines compare with their timestamp columns.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from models.settings import Settings

# TEST_DATABASE_URL=postgresql://...: the suite again with the data on PostgreSQL, each test
# (and each service a test starts) in a schema of its own. Read at import: an autouse fixture
# clears VM_API_* from the environment of every test.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
created_schemas: list[str] = []


def test_database_url() -> str | None:
    """A new, empty schema of TEST_DATABASE_URL's database; None when the run is on SQLite."""
    if TEST_DATABASE_URL is None:
        return None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    created_schemas.append(schema)
    return f"{TEST_DATABASE_URL}?schema={schema}"


def _connect(settings: Settings) -> Any:
    if settings.database is None:
        return sqlite3.connect(settings.db_path, timeout=30)
    import psycopg2

    return psycopg2.connect(**settings.database.connect_kwargs)


def execute(settings: Settings, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement and commit; the number of rows it changed."""
    return execute_many(settings, sql, [params])


def execute_many(settings: Settings, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        if settings.database is not None:
            sql = sql.replace("?", "%s")
        changed = 0
        for params in rows:
            cursor.execute(sql, tuple(params))
            changed += max(cursor.rowcount, 0)
        connection.commit()
        return changed
    finally:
        connection.close()


def query(settings: Settings, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    connection = _connect(settings)
    try:
        cursor = connection.cursor()
        if settings.database is not None:
            sql = sql.replace("?", "%s")
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        connection.close()
