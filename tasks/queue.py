"""The huey instance. Task modules import it; `tasks.worker` imports them all.

Its storage is chosen at start-up (`configure_queue`): SQLite in its own file by default, or
Redis when VM_API_QUEUE_URL is set. Until then it holds tasks in memory.

Several Docker hosts: each host has a queue of its own in the same storage, named
`<queue>@<host>` (`host_queue`); the tasks of a workspace on that host go there
(tasks/dispatch.py) and only that host's consumer takes them. A host-bound consumer's keys
(periodic slots, locks) stay in the shared queue's storage, so they hold across every host.
"""

from __future__ import annotations

import threading
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
        # wakes an idle consumer of this queue (tasks/wakeup.py)
        self.bell = Bell(self.filename, queue_bell_name(self.name))

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


def queue_bell_name(name: str) -> str:
    """The shared queue keeps the doorbell address it always had; a host queue has its own."""
    return name.partition("@")[2]


def host_queue(name: str, host: str) -> str:
    return f"{name}@{host}"


class HostBoundStorage:
    """A host-bound consumer's storage: tasks come from (and retries go back to) its host's
    queue; keys live in the shared storage, where every consumer of the cluster sees them."""

    _SHARED = frozenset(
        {"put_data", "peek_data", "pop_data", "has_data_for_key", "put_if_empty", "delete_data"}
    )

    def __init__(self, own: Any, shared: Any) -> None:
        self.own = own
        self.shared = shared

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shared if name in self._SHARED else self.own, name)


class ConfigurableHuey(Huey):
    bound_host: str | None = None  # the Docker host whose queue this process consumes

    def get_storage(self, **kwargs: Any) -> Any:
        name = kwargs.pop("queue_name", self.name)
        if "url" in kwargs:
            # keys named after VM_API_INSTANCE: deployments (or test runs) sharing one Redis
            # keep their queues apart; the default instance name is the queue's own
            return RedisStorage(name, **kwargs)
        if "filename" in kwargs:
            return QueueStorage(name, **kwargs)
        return MemoryStorage(name)

    @property
    def shared_queue(self) -> str:
        return str(self.storage_kwargs.get("queue_name", self.name))

    def storage_for(self, host: str | None) -> Any:
        """The storage that holds the queue of `host` (None: the shared queue)."""
        if host is None:
            return getattr(self.storage, "shared", self.storage)
        with _host_storage_lock:
            if host not in _host_storages:
                kwargs = {**self.storage_kwargs, "queue_name": host_queue(self.shared_queue, host)}
                _host_storages[host] = self.get_storage(**kwargs)
            return _host_storages[host]

    def enqueue_all(self, tasks: list[Task]) -> None:
        """Enqueue many tasks; in one transaction where the storage can do that."""
        enqueue_many = getattr(self.storage, "enqueue_many", None)
        if self.immediate or enqueue_many is None:
            for task in tasks:
                self.enqueue(task)
            return
        enqueue_many([(self.serialize_task(task), task.priority or 0) for task in tasks])

    def operations_waiting_on(self, host: str | None) -> set[str]:
        """The first argument (an operation id, for the operations' tasks) of every task that
        waits in the queue or the schedule of `host`. The messages are only unpickled, not
        made into tasks: no task class is needed."""
        if self.immediate:
            return set()  # every task ran as it was enqueued
        storage = self.storage_for(host)
        found: set[str] = set()
        for data in [*storage.enqueued_items(), *storage.scheduled_items()]:
            args = self.serializer.deserialize(data).args
            if args and isinstance(args[0], str):
                found.add(args[0])
        return found

    def enqueue_on(self, host: str | None, tasks: list[Task]) -> None:
        """Enqueue tasks on the queue of `host` (None: the shared queue)."""
        if host == self.bound_host or self.immediate:
            self.enqueue_all(tasks)
            return
        storage = self.storage_for(host)
        items = [(self.serialize_task(task), task.priority or 0) for task in tasks]
        enqueue_many = getattr(storage, "enqueue_many", None)
        if enqueue_many is not None:
            enqueue_many(items)
            return
        for data, priority in items:
            storage.enqueue(data, priority)


# results=False: nothing reads task return values, and unread results would pile up.
huey = ConfigurableHuey(QUEUE_NAME, results=False, utc=True)

_settings: Settings | None = None
_host_storages: dict[str, Any] = {}
_host_storage_lock = threading.Lock()


def configure_queue(settings: Settings) -> None:
    """Bind the queue; a consumer with VM_API_WORKER_HOST_NAME takes its host's queue."""
    global _settings
    if settings.queue_url:
        huey.storage_kwargs = {"url": settings.queue_url, "queue_name": settings.instance}
    else:
        huey.storage_kwargs = {
            "filename": str(settings.resolved_queue_path),
            "timeout": QUEUE_BUSY_TIMEOUT_SECONDS,
            "journal_mode": "wal",
            "queue_name": QUEUE_NAME,
        }
    with _host_storage_lock:
        _host_storages.clear()
    shared = huey.create_storage()
    huey.bound_host = settings.worker_host_name
    if settings.worker_host_name is None:
        huey.storage = shared
    else:
        own = huey.storage_for(settings.worker_host_name)
        huey.storage = HostBoundStorage(own, shared)
    _settings = settings


def current_settings() -> Settings:
    if _settings is None:
        raise RuntimeError("the queue is not configured: call tasks.queue.configure_queue()")
    return _settings


def pending_by_host(hosts: list[str]) -> dict[str, int]:
    """Tasks waiting in each Docker host's own queue."""
    return {host: int(huey.storage_for(host).queue_size()) for host in hosts}


def queue_is_reachable() -> bool:
    try:
        huey.pending_count()
    except Exception:
        return False
    return True
