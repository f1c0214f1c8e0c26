"""The huey instance. Task modules import it; `tasks.worker` imports them all.

Its storage is chosen at start-up (`configure_queue`): SQLite in its own file by default, or
Redis when VM_API_QUEUE_URL is set. Until then it holds tasks in memory.
"""

from __future__ import annotations

from typing import Any

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from service.config import Settings

QUEUE_NAME = "vm-api"
QUEUE_BUSY_TIMEOUT_SECONDS = 30


class ConfigurableHuey(Huey):
    def get_storage(self, **kwargs: Any) -> Any:
        if "url" in kwargs:
            return RedisStorage(self.name, **kwargs)
        if "filename" in kwargs:
            return SqliteStorage(self.name, **kwargs)
        return MemoryStorage(self.name)


# results=False: nothing reads task return values, and unread results would pile up.
huey = ConfigurableHuey(QUEUE_NAME, results=False, utc=True)

_settings: Settings | None = None


def configure_queue(settings: Settings) -> None:
    global _settings
    if settings.queue_url:
        huey.storage_kwargs = {"url": settings.queue_url}
    else:
        huey.storage_kwargs = {
            "filename": str(settings.resolved_queue_path),
            "timeout": QUEUE_BUSY_TIMEOUT_SECONDS,
            "journal_mode": "wal",
        }
    huey.storage = huey.create_storage()
    _settings = settings


def current_settings() -> Settings:
    if _settings is None:
        raise RuntimeError("the queue is not configured: call tasks.queue.configure_queue()")
    return _settings


def queue_is_reachable() -> bool:
    try:
        huey.pending_count()
    except Exception:
        return False
    return True
