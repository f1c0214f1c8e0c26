"""Advisory file locks: one says the service is running, one serializes pre-start hooks.

flock locks vanish with the process that held them, so a killed process never leaves a stale one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _lock_path(db_path: Path, kind: str) -> Path:
    return db_path.with_name(db_path.name + f".{kind}.lock")


_held: list[int] = []


def hold_running_lock(db_path: Path) -> None:
    """Held (shared) for the life of every web and worker process."""
    fd = os.open(_lock_path(db_path, "running"), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)


class ServiceRunning(Exception):
    pass


@contextmanager
def while_stopped(db_path: Path) -> Iterator[None]:
    """Hold the running lock exclusively: refuse if the service runs; keep it from starting."""
    fd = os.open(_lock_path(db_path, "running"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceRunning("vm-api is running; stop it first") from None
        yield
    finally:
        os.close(fd)


@contextmanager
def exclusive(db_path: Path, kind: str) -> Iterator[None]:
    fd = os.open(_lock_path(db_path, kind), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
