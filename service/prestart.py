"""The pre-start hook: back up, then apply pending migrations; and the restore procedure.

A run that dies half-way is finished by the next one: a marker file names the backup taken
before migrating, and the next run puts that backup back before migrating again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yoyo import get_backend

from models.settings import Settings
from service import runlock
from service.backups import BackupError, copy_database, verify_database, write_backup
from service.migration_sets import MIGRATIONS_DIR, migrations_for

log = logging.getLogger("vm_api.prestart")
NEW_DATABASE = "new-database"


class MigrationFailed(Exception):
    pass


@dataclass(frozen=True)
class PrestartResult:
    applied: list[str]
    backup: Path | None


def _marker(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".migrating")


def _write_marker(db_path: Path, content: str) -> None:
    marker = _marker(db_path)
    with open(marker, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _remove_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _undo_interrupted_run(db_path: Path) -> None:
    marker = _marker(db_path)
    if not marker.exists():
        return
    saved = marker.read_text().strip()
    if saved == NEW_DATABASE:
        log.warning("an earlier migration run was interrupted; starting from an empty database")
        _remove_database(db_path)
    elif saved:
        if not Path(saved).is_file():
            raise MigrationFailed(
                f"an earlier migration run was interrupted and its backup {saved} is gone; "
                "put a backup back with `vm-api restore FILE`"
            )
        log.warning("an earlier migration run was interrupted; restoring %s first", saved)
        copy_database(Path(saved), db_path)
    marker.unlink()


def _has_tables(db_path: Path) -> bool:
    return db_path.is_file() and db_path.stat().st_size > 0


def run_prestart(settings: Settings, migrations_dir: Path = MIGRATIONS_DIR) -> PrestartResult:
    """Serialized across processes: a second hook started at once waits, then finds nothing.

    A failing migration leaves the database as it was before this run (the backup is put back
    and kept) and raises MigrationFailed naming the migration.
    """
    settings.check_writable()
    if settings.database is not None:
        return _run_on_postgres(settings, migrations_dir)
    db_path = settings.db_path
    migrations = migrations_for("sqlite", migrations_dir)
    with runlock.exclusive(db_path, "migrate"):
        _undo_interrupted_run(db_path)
        existed = _has_tables(db_path)
        backend = get_backend(f"sqlite:///{db_path}")
        try:
            # We hold the flock, so any yoyo lock row left behind belongs to a dead process.
            backend.break_lock()
            pending = list(backend.to_apply(migrations))
            if not pending:
                _use_wal(db_path)
                return PrestartResult(applied=[], backup=None)
            # Taken before yoyo's lock row is written, so putting it back leaves no lock row.
            backup = write_backup(db_path, settings.backup_keep) if existed else None
            _write_marker(db_path, str(backup) if backup else NEW_DATABASE)
            with backend.lock():
                applied, failure = _apply(backend, pending)
        finally:
            backend.connection.close()
        if failure is not None:
            _put_back(db_path, backup)
            _marker(db_path).unlink()
            kept = f"; backup kept at {backup}" if backup else ""
            raise MigrationFailed(f"{failure}; database left as it was{kept}")
        _marker(db_path).unlink()
        _use_wal(db_path)
    log.info("applied migrations %s", ", ".join(applied))
    return PrestartResult(applied=applied, backup=backup)


def _run_on_postgres(settings: Settings, migrations_dir: Path) -> PrestartResult:
    from service.prestart_postgres import run_postgres_prestart

    migrations = migrations_for("postgres", migrations_dir)
    applied, dump, failure = run_postgres_prestart(settings, migrations, _apply)
    if failure is not None:
        kept = f"; pg_dump kept at {dump}" if dump else ""
        raise MigrationFailed(f"{failure}; the migrations before it stay applied{kept}")
    if applied:
        log.info("applied migrations %s", ", ".join(applied))
    return PrestartResult(applied=applied, backup=dump)


def _use_wal(db_path: Path) -> None:
    """Put the file in WAL mode (it stays so): readers never wait for the writer. Done here,
    once per start under the migration lock, never by the serving processes at once."""
    connection = sqlite3.connect(db_path, timeout=30)
    try:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    finally:
        connection.close()
    if mode != "wal":
        raise MigrationFailed(f"cannot switch {db_path} to WAL mode (it stays in {mode!r})")


def _apply(backend: Any, pending: list[Any]) -> tuple[list[str], str | None]:
    """Apply in order; stop at the first failure and describe it (yoyo's lock is still held)."""
    applied: list[str] = []
    for migration in pending:
        try:
            backend.apply_one(migration)
        except Exception as exc:
            reason = " ".join(str(exc).split())
            return applied, f"migration {migration.id} failed: {reason}"
        applied.append(migration.id)
    return applied, None


def _put_back(db_path: Path, backup: Path | None) -> None:
    """Undo every migration of this run: yoyo commits each one on its own."""
    if backup is None:
        _remove_database(db_path)
        return
    copy_database(backup, db_path)


def restore(settings: Settings, source: Path) -> Path | None:
    """Put a backup in place of the database; refuses while the service runs.

    The current database is itself backed up first, so a restore can be undone.
    """
    db_path = settings.db_path
    if source.resolve() == db_path.resolve():
        raise BackupError(f"{source} is the database itself; name a backup file")
    verify_database(source)
    with runlock.while_stopped(db_path), runlock.exclusive(db_path, "migrate"):
        safety = write_backup(db_path, None) if _has_tables(db_path) else None
        copy_database(source, db_path)
        # An interrupted migration run would otherwise put its own backup over this restore.
        _marker(db_path).unlink(missing_ok=True)
    log.info("restored %s from %s", db_path, source)
    return safety
