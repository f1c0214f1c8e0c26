"""The huey task ids that carried out an operation (operations.task_ids, a JSON list)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from pony.orm import db_session

from models.dialect import execute_many
from models.store import BUSY_TIMEOUT_SECONDS, POSTGRES, active

_connections = threading.local()


def _connection(path: Path) -> sqlite3.Connection:
    """This thread's connection for recording task ids, with synchronous=NORMAL.

    The record is written after the operation's own transaction, so with the database's FULL
    it cost a second disk flush per request: 20 % of the create burst's throughput
    (bench/provision_burst.py). In WAL mode NORMAL survives any process crash; a power cut may
    lose the last ids, which only the operator's view reads (the work itself is safe).
    """
    cached = getattr(_connections, "by_path", None)
    if cached is None:
        cached = _connections.by_path = {}
    connection = cached.get(path)
    if connection is None:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        connection.execute("PRAGMA synchronous = NORMAL")
        cached[path] = connection
    return connection


def record_task_ids(pairs: list[tuple[str, str]]) -> None:
    """Append each (operation id, task id): one transaction for the whole batch."""
    if not pairs:
        return
    store = active()
    if store.engine == POSTGRES:
        _record_on_postgres(pairs)
        return
    connection = _connection(store.path.resolve())
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(
            "UPDATE operations SET task_ids = json_insert(COALESCE(task_ids, '[]'), '$[#]', ?)"
            " WHERE id = ?",
            [(task_id, operation_id) for operation_id, task_id in pairs],
        )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@db_session
def _record_on_postgres(pairs: list[tuple[str, str]]) -> None:
    # The same trade as SQLite's synchronous=NORMAL above, for this transaction only.
    active().db.execute("SET LOCAL synchronous_commit = off")
    execute_many(
        "UPDATE operations SET task_ids ="
        " (COALESCE(task_ids, '[]')::jsonb || to_jsonb(?::text))::text WHERE id = ?",
        [(task_id, operation_id) for operation_id, task_id in pairs],
    )


@db_session
def operation_of_task(task_id: str) -> str | None:
    """The operation a task id was recorded on (a scan of task_ids: operator lookups only)."""
    rows = active().db.select(
        "SELECT id FROM operations WHERE task_ids LIKE $pattern LIMIT 1",
        {},
        {"pattern": f'%"{task_id}"%'},
    )
    return rows[0] if rows else None
