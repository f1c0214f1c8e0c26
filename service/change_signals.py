"""Being told of new change events instead of looking for them.

On PostgreSQL every change event is announced on the channel `vm_api_changes` (pg_notify in
the trigger, delivered at commit: migrations/postgresql/0008), so one listening connection per
web process wakes its change feed the moment a worker on any host commits. On SQLite there is
no such thing; the feed reads the table every 50 ms while a stream is open.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
from collections.abc import Callable

from models.engines import PostgresTarget

log = logging.getLogger("vm_api.events")
CHANNEL = "vm_api_changes"
RECONNECT_SECONDS = 1.0


class PostgresListener:
    """A thread that LISTENs and calls `wake` (from its own thread) on each notification."""

    def __init__(self, target: PostgresTarget, wake: Callable[[], None]) -> None:
        self.target = target
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vm-api listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg2

        while not self._stop.is_set():
            try:
                connection = psycopg2.connect(**self.target.connect_kwargs)
            except psycopg2.Error as exc:
                log.warning("change feed: cannot LISTEN (%s); polling meanwhile", exc)
                self._stop.wait(RECONNECT_SECONDS)
                continue
            try:
                connection.autocommit = True
                connection.cursor().execute(f"LISTEN {CHANNEL}")
                self.wake()  # anything committed while it was not listening is read now
                while not self._stop.is_set():
                    if select.select([connection], [], [], RECONNECT_SECONDS)[0]:
                        connection.poll()
                        if connection.notifies:
                            connection.notifies.clear()
                            self.wake()
            except psycopg2.Error as exc:
                log.warning("change feed: LISTEN connection lost (%s); reconnecting", exc)
            finally:
                connection.close()


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A `wake` for another thread: sets `event` on the loop's own thread."""

    def wake() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    return wake
