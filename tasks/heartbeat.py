"""One thread per worker process that keeps its running operations' heartbeats fresh.

The sweep treats a running operation whose heartbeat is older than VM_API_HEARTBEAT_TIMEOUT as
orphaned by a dead worker, and re-enqueues it.
"""

from __future__ import annotations

import logging
import threading

from models.work import touch_operations

log = logging.getLogger("vm_api.heartbeat")


class Heartbeat:
    def __init__(self) -> None:
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.interval = 10.0

    def track(self, operation_id: str, timeout: int) -> None:
        with self._lock:
            self._running.add(operation_id)
            self.interval = max(timeout / 3, 0.5)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
                self._thread.start()

    def untrack(self, operation_id: str) -> None:
        with self._lock:
            self._running.discard(operation_id)

    def _beat(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval):
            with self._lock:
                running = list(self._running)
            if not running:
                continue
            try:
                touch_operations(running)
            except Exception:
                log.exception("heartbeat failed; the sweep may re-run these operations")


heartbeat = Heartbeat()
