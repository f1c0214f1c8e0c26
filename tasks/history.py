"""Task history: huey's own monitor (huey.contrib.stats) in a SQLite file of its own.

The consumer records every task signal (enqueued in the web process is not seen; executing,
complete, error, retrying, revoked, ... are) into `huey_event` and `huey_inflight` in
VM_API_TASK_HISTORY_PATH, never the application database nor the queue file. huey's writer
thread batches rows (every 0.5 s) and prunes, at most once a minute after a write, events older
than VM_API_TASK_HISTORY_RETENTION and all but the newest VM_API_TASK_HISTORY_MAX_EVENTS.

Other processes (the `vm-api tasks` command, the web process's admin endpoints) read the same
file; it is in WAL mode, so they read while the consumer writes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import peewee
from huey import signals
from huey.contrib import stats as huey_stats

from models.engines import PostgresTarget
from models.settings import Settings

log = logging.getLogger("vm_api.history")
BUSY_TIMEOUT_MS = 30_000
# Housekeeping that runs every few seconds whether or not there is work: recording each run
# would fill the history with ~14 rows a minute of nothing. Their errors are still recorded.
QUIET_TASKS = frozenset({"plan_periodic_work", "sweep_slot"})
# huey's tables index the time and the task name, not the task id that `tasks show` looks up.
EXTRA_INDEXES = ("CREATE INDEX IF NOT EXISTS huey_event_task_id ON huey_event (task_id)",)


class TaskHistory(huey_stats.HueyStats):
    """HueyStats that leaves out the routine runs of the housekeeping tasks."""

    def _on_signal(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        if type(task).__name__ in QUIET_TASKS and signal != signals.SIGNAL_ERROR:
            return
        super()._on_signal(signal, task, exc)


def _database(path: Path, *pragmas: tuple[str, Any]) -> peewee.SqliteDatabase:
    return peewee.SqliteDatabase(
        str(path), pragmas=[("busy_timeout", BUSY_TIMEOUT_MS), *pragmas], timeout=30
    )


def _postgres_database(target: PostgresTarget) -> peewee.PostgresqlDatabase:
    """On PostgreSQL the history's two tables sit beside the data (same database and schema):
    there is no file to keep apart, and every consumer of the cluster writes to them."""
    kwargs = dict(target.connect_kwargs)
    database = kwargs.pop("dbname")
    return peewee.PostgresqlDatabase(database, **kwargs)


def _bind(db: peewee.Database) -> None:
    # huey's models go through one module-level proxy: point it at this file (a test process
    # may open several histories one after the other).
    huey_stats.database.initialize(db)


def enable_task_history(huey: Any, settings: Settings) -> TaskHistory | None:
    """In the consumer process, before it starts: record huey's signals from now on."""
    if not settings.task_history:
        log.info("task history is off (VM_API_TASK_HISTORY=false)")
        return None
    if settings.database is not None:
        db: peewee.Database = _postgres_database(settings.database)
    else:
        path = settings.resolved_task_history_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL is switched on once here, before any reader or writer thread exists; it persists
        # in the file. synchronous=NORMAL: a power cut may lose the last rows of history only.
        db = _database(path, ("journal_mode", "wal"), ("synchronous", 1))
    _bind(db)
    history = TaskHistory(
        huey,
        db,
        retention_hours=settings.task_history_retention / 3600,
        max_events=settings.task_history_max_events,
        capture_args=True,  # the operation id is a task's argument: a task leads back to it
    )
    with db.connection_context():
        for statement in EXTRA_INDEXES:
            db.execute_sql(statement)
    disable_task_history(huey)  # enable_stats would keep an earlier one: replace it instead
    huey._stats = history
    history.connect()
    return history


def disable_task_history(huey: Any) -> None:
    """Stop recording (writing out what is buffered)."""
    existing = getattr(huey, "_stats", None)
    if existing is not None:
        huey.disconnect_signal(existing._on_signal)
        existing.close()
        huey._stats = None


def open_task_history(huey: Any, settings: Settings) -> TaskHistory | None:
    """A reader for another process; None while no consumer has written a history yet."""
    if settings.database is not None:
        db: peewee.Database = _postgres_database(settings.database)
        if not db.table_exists("huey_event"):
            db.close()
            return None
    else:
        path = settings.resolved_task_history_path
        if not path.exists():
            return None
        db = _database(path)
    _bind(db)
    return TaskHistory(huey, db, create_tables=False)


def history_location(settings: Settings) -> str:
    if settings.database is not None:
        return f"{settings.database.shown} (tables huey_event, huey_inflight)"
    return str(settings.resolved_task_history_path)


def history_size_bytes(settings: Settings) -> int:
    if settings.database is not None:
        return _postgres_table_bytes(settings.database)
    path = settings.resolved_task_history_path
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()
    )  # the WAL file holds recent pages until a checkpoint


def _postgres_table_bytes(target: PostgresTarget) -> int:
    db = _postgres_database(target)
    try:
        sizes = [
            db.execute_sql("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0]
            for table in ("huey_event", "huey_inflight")
            if db.table_exists(table)
        ]
    finally:
        db.close()
    return int(sum(size or 0 for size in sizes))
