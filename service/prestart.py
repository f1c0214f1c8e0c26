"""The pre-start hook: back up, then apply pending migrations; and the restore procedure.

A run that dies half-way is finished by the next one: a marker file names the backup taken
before migrating, and the next run puts that backup back before migrating again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from yoyo import get_backend, read_migrations

from service import runlock
from service.backups import copy_database, verify_database, write_backup
from service.config import Settings

log = logging.getLogger("vm_api.prestart")
NEW_DATABASE = "new-database"
# Installed beside the packages (a data-only folder), as it is in the repository.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


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
        log.warning("an earlier migration run was interrupted; restoring %s first", saved)
        copy_database(Path(saved), db_path)
    marker.unlink()


def _has_tables(db_path: Path) -> bool:
    return db_path.is_file() and db_path.stat().st_size > 0


def run_prestart(settings: Settings) -> PrestartResult:
    """Serialized across processes: a second hook started at once waits, then finds nothing."""
    settings.check_writable()
    db_path = settings.db_path
    with runlock.exclusive(db_path, "migrate"):
        _undo_interrupted_run(db_path)
        existed = _has_tables(db_path)
        backend = get_backend(f"sqlite:///{db_path}")
        try:
            # We hold the flock, so any yoyo lock row left behind belongs to a dead process.
            backend.break_lock()
            with backend.lock():
                pending = list(backend.to_apply(read_migrations(str(MIGRATIONS_DIR))))
                if not pending:
                    return PrestartResult(applied=[], backup=None)
                backup = write_backup(db_path, settings.backup_keep) if existed else None
                _write_marker(db_path, str(backup) if backup else NEW_DATABASE)
                applied = _apply(backend, pending, db_path, backup)
        finally:
            backend.connection.close()
        _marker(db_path).unlink()
    log.info("applied migrations %s", ", ".join(applied))
    return PrestartResult(applied=applied, backup=backup)


def _apply(backend: object, pending: list, db_path: Path, backup: Path | None) -> list[str]:
    applied: list[str] = []
    for migration in pending:
        try:
            backend.apply_one(migration)  # type: ignore[attr-defined]
        except Exception as exc:
            backend.connection.close()  # type: ignore[attr-defined]
            if backup is not None:
                copy_database(backup, db_path)
            else:
                _remove_database(db_path)
            _marker(db_path).unlink(missing_ok=True)
            kept = f"; backup kept at {backup}" if backup else ""
            raise MigrationFailed(
                f"migration {migration.id} failed: {exc}; database left as it was{kept}"
            ) from exc
        applied.append(migration.id)
    return applied


def restore(settings: Settings, source: Path) -> Path | None:
    """Put a backup in place of the database; refuses while the service runs.

    The current database is itself backed up first, so a restore can be undone.
    """
    verify_database(source)
    db_path = settings.db_path
    with runlock.while_stopped(db_path):
        safety = write_backup(db_path, None) if _has_tables(db_path) else None
        copy_database(source, db_path)
    log.info("restored %s from %s", db_path, source)
    return safety
