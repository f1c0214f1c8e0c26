"""Binding the Pony database once per process, and finding it again from model functions."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from pony.orm import Database, db_session

from models.engines import DatabaseTarget, PostgresTarget
from models.entities import Entities, define_entities

BUSY_TIMEOUT_SECONDS = 30
SQLITE = "sqlite"
POSTGRES = "postgres"
WRITERS_LOCK = 7419003  # pg_advisory_xact_lock key: one write session at a time, cluster-wide
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Store:
    db: Database
    entities: Entities
    target: DatabaseTarget

    @property
    def engine(self) -> str:
        return POSTGRES if isinstance(self.target, PostgresTarget) else SQLITE

    @property
    def path(self) -> Path:
        """The SQLite file (callers that read or copy the file itself)."""
        if not isinstance(self.target, Path):
            raise RuntimeError("the data is on PostgreSQL: there is no database file")
        return self.target


_active: Store | None = None
_lock = threading.Lock()


def _bind_sqlite(db: Database, db_path: Path) -> None:
    @db.on_connect(provider="sqlite")
    def _tune(_db: Database, connection: sqlite3.Connection) -> None:
        cursor = connection.cursor()
        # No `journal_mode = WAL` here: switching takes an exclusive lock, and the web and worker
        # processes doing it at once on a fresh file made one of them fail with "database is
        # locked". The pre-start hook switches the file once, under its lock; WAL persists.
        # FULL: a commit that answered 201 survives a power cut, not only a process crash.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")

    db.bind(
        provider="sqlite",
        filename=str(db_path.resolve()),
        create_db=False,
        timeout=BUSY_TIMEOUT_SECONDS,
    )


def _bind_postgres(db: Database, target: PostgresTarget) -> None:
    @db.on_connect(provider="postgres")
    def _tune(_db: Database, connection: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        # Stored times are UTC without a zone (as on SQLite): CURRENT_TIMESTAMP must agree.
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute(f"SET lock_timeout = '{BUSY_TIMEOUT_SECONDS}s'")

    db.bind(provider="postgres", **target.connect_kwargs)


def open_store(target: DatabaseTarget) -> Store:
    """Bind a new Pony database to an already migrated SQLite file or PostgreSQL database and
    make it the active one."""
    global _active
    db = Database()
    entities = define_entities(db)
    if isinstance(target, PostgresTarget):
        _bind_postgres(db, target)
    else:
        _bind_sqlite(db, target)
    db.generate_mapping(create_tables=False, check_tables=True)
    store = Store(db=db, entities=entities, target=target)
    with _lock:
        if _active is not None:
            _active.db.disconnect()
        _active = store
    return store


def active() -> Store:
    if _active is None:
        raise RuntimeError("no database is bound: call models.store.open_store() first")
    return _active


def on_postgres() -> bool:
    return active().engine == POSTGRES


def close_store() -> None:
    global _active
    with _lock:
        if _active is not None:
            _active.db.disconnect()
            _active = None


def write_session(func: Callable[P, R]) -> Callable[P, R]:
    """A transaction that reads, decides and writes, safe against every other one.

    On SQLite that is `BEGIN IMMEDIATE`: one writer at a time. Pony's postgres provider only
    turns autocommit off for `immediate`, so at READ COMMITTED two of them could both count
    three workspaces under a limit of four and both insert; here each first takes one
    transaction-scoped advisory lock, which gives PostgreSQL the same one-writer-at-a-time
    rule across every process and host. Reads never take it.
    """

    @functools.wraps(func)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        if _active is not None and _active.engine == POSTGRES:
            _active.db.execute(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})")
        return func(*args, **kwargs)

    return db_session(immediate=True)(locked)  # type: ignore[no-any-return]
