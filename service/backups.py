"""Consistent SQLite backups (online backup API, never a file copy) and safe restores."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

SQLITE_HEADER = b"SQLite format 3\x00"
_SUFFIX = re.compile(r"\.backup\.(\d+)(?:\.(\d+))?$")


class BackupError(Exception):
    pass


def _reserve(db_path: Path) -> Path:
    """Create `{db}.backup.{unix time}` exclusively; a second one in the same second gets .1, .2…"""
    stamp = int(time.time())
    for counter in range(1000):
        suffix = f".backup.{stamp}" + (f".{counter}" if counter else "")
        candidate = db_path.with_name(db_path.name + suffix)
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise BackupError(f"cannot find a free backup name for {db_path}")


def _read_only(path: Path) -> sqlite3.Connection:
    # Quoted: a "?" or "#" in a folder name would otherwise end the path inside the URI.
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=30)


def copy_database(source: Path, target: Path, *, standalone: bool = False) -> None:
    """Copy one SQLite database onto another with the online backup API, in one step.

    `standalone` switches the copy out of WAL mode, so that it is one self-contained file that
    can be read (or copied by hand) without leaving -wal and -shm files beside it.
    """
    src = _read_only(source)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=-1)
            if standalone:
                dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def write_backup(db_path: Path, keep: int | None = None) -> Path:
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    target = _reserve(db_path)
    try:
        copy_database(db_path, target, standalone=True)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if keep is not None:
        prune_backups(db_path, keep)
    return target


def list_backups(db_path: Path) -> list[Path]:
    """Newest first, by the timestamp and counter in the name."""
    found = []
    for candidate in db_path.parent.glob(db_path.name + ".backup.*"):
        match = _SUFFIX.search(candidate.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2) or 0), candidate))
    return [path for _, _, path in sorted(found, reverse=True)]


def prune_backups(db_path: Path, keep: int) -> list[Path]:
    removed = list_backups(db_path)[keep:]
    for path in removed:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return removed


def verify_database(path: Path) -> None:
    """Refuse anything that is not a healthy SQLite database holding our tables."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise BackupError(f"{path} is not an SQLite database")
    try:
        connection = _read_only(path)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    try:
        (result,) = connection.execute("PRAGMA integrity_check").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a usable SQLite database: {exc}") from None
    finally:
        connection.close()
    if result != "ok":
        raise BackupError(f"{path} fails its integrity check: {result}")
    if "workspaces" not in tables:
        raise BackupError(f"{path} is an SQLite database but not a vm-api one")
