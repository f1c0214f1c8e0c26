"""Binding the Pony database once per process, and finding it again from model functions."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from pony.orm import Database

from models.entities import Entities, define_entities

BUSY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Store:
    db: Database
    entities: Entities
    path: Path


_active: Store | None = None
_lock = threading.Lock()


def open_store(db_path: Path) -> Store:
    """Bind a new Pony database to an already migrated SQLite file and make it the active one."""
    global _active
    db = Database()

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

    entities = define_entities(db)
    db.bind(
        provider="sqlite",
        filename=str(db_path.resolve()),
        create_db=False,
        timeout=BUSY_TIMEOUT_SECONDS,
    )
    db.generate_mapping(create_tables=False, check_tables=True)
    store = Store(db=db, entities=entities, path=db_path)
    with _lock:
        if _active is not None:
            _active.db.disconnect()
        _active = store
    return store


def active() -> Store:
    if _active is None:
        raise RuntimeError("no database is bound: call models.store.open_store() first")
    return _active


def close_store() -> None:
    global _active
    with _lock:
        if _active is not None:
            _active.db.disconnect()
            _active = None
