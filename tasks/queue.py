"""The huey instance. Task modules import it; `tasks.worker` imports them all.

Its storage is chosen at start-up (`configure_queue`): SQLite in its own file by default, or
Redis when VM_API_QUEUE_URL is set. Until then it holds tasks in memory.
"""

from __future__ import annotations

from typing import Any

from huey import Huey
from huey.api import Task
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from models.settings import Settings
from tasks.wakeup import Bell

QUEUE_NAME = "vm-api"
QUEUE_BUSY_TIMEOUT_SECONDS = 30


class QueueStorage(SqliteStorage):
    """SQLite queue with synchronous=NORMAL (huey offers only FULL or OFF).

    In WAL mode NORMAL survives any process crash and never corrupts; a power cut may lose the
    last few enqueues. That is safe here: every operation is committed (with FULL) in the
    application database before it is enqueued, and the sweep enqueues again whatever is
    still pending. FULL cost one disk flush per enqueue and per dequeue.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bell = Bell(self.filename)  # wakes an idle consumer (tasks/wakeup.py)

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        super().enqueue(data, priority)
        self.bell.ring()

    def _create_connection(self) -> Any:
        connection = super()._create_connection()
        connection.execute("pragma synchronous=1")
        return connection

    def enqueue_many(self, items: list[tuple[bytes, float]]) -> None:
        """Many tasks in one transaction: the janitor enqueues thousands at once."""
        with self.db(commit=True) as cursor:
            cursor.executemany(
                "insert into task (queue, data, priority) values (?, ?, ?)",
                [(self.name, self.to_blob(data), priority) for data, priority in items],
            )
        self.bell.ring()


class ConfigurableHuey(Huey):
    def get_storage(self, **kwargs: Any) -> Any:
        if "url" in kwargs:
            # keys named after VM_API_INSTANCE: deployments (or test runs) sharing one Redis
            # keep their queues apart; the default instance name is the queue's own
            return RedisStorage(kwargs.pop("queue_name", self.name), **kwargs)
        if "filename" in kwargs:
            return QueueStorage(self.name, **kwargs)
        return MemoryStorage(self.name)

    def enqueue_all(self, tasks: list[Task]) -> None:
        """Enqueue many tasks; in one transaction where the storage can do that."""
        enqueue_many = getattr(self.storage, "enqueue_many", None)
        if self.immediate or enqueue_many is None:
            for task in tasks:
                self.enqueue(task)
            return
        enqueue_many([(self.serialize_task(task), task.priority or 0) for task in tasks])


# results=False: nothing reads task return values, and unread results would pile up.
huey = ConfigurableHuey(QUEUE_NAME, results=False, utc=True)

_settings: Settings | None = None


def configure_queue(settings: Settings) -> None:
    global _settings
    if settings.queue_url:
        huey.storage_kwargs = {"url": settings.queue_url, "queue_name": settings.instance}
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
