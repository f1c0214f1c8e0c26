"""The huey consumer `vm-api worker` runs: idle, it costs next to nothing.

With VM_API_QUEUE_WAKEUP=doorbell (the default, SQLite queue) idle workers block on the
doorbell (tasks/wakeup.py) instead of polling the queue; huey's scheduler thread (schedule and
periodic tasks, once a second) and its main thread (signals, worker health) run as before,
the main thread waking once a second instead of ten times. VM_API_QUEUE_WAKEUP=poll is huey's
own polling, VM_API_POLL_MAX_DELAY apart. A Redis queue already blocks (BRPOP): no doorbell.
"""

from __future__ import annotations

import logging
from typing import Any

from huey.consumer import Consumer, Worker

from models.settings import Settings
from tasks.queue import huey
from tasks.wakeup import Doorbell

log = logging.getLogger("vm_api.consumer")
MAIN_LOOP_SECONDS = 1.0  # how soon the main thread acts on a signal (huey: 0.1)


class DoorbellWorker(Worker):
    """huey's worker, but an empty queue means: wait for the doorbell, not sleep and poll."""

    def __init__(self, *args: Any, doorbell: Doorbell, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doorbell = doorbell

    def sleep(self) -> None:
        self.doorbell.wait()

    def loop(self, now: Any = None) -> None:
        before = self.task_count
        super().loop(now)
        if self.task_count != before:
            # There may be more: one more worker looks (a burst spreads over the workers).
            self.doorbell.found_task()


class DoorbellConsumer(Consumer):
    def __init__(self, *args: Any, doorbell: Doorbell, **kwargs: Any) -> None:
        self.doorbell = doorbell  # before super(): it creates the workers
        super().__init__(*args, **kwargs)
        self._stop_flag_timeout = MAIN_LOOP_SECONDS

    def _create_worker(self) -> Worker:
        return DoorbellWorker(
            huey=self.huey,
            stop_flag=self.stop_flag,
            default_delay=self.default_delay,
            max_delay=self.max_delay,
            backoff=self.backoff,
            max_tasks=self.max_tasks,
            doorbell=self.doorbell,
        )

    def start(self) -> None:
        self.doorbell.start()
        super().start()

    def stop(self, graceful: bool = False) -> None:
        # The flag first, so that woken workers see it and leave their loop.
        self.stop_flag.set()
        self.doorbell.stop()
        super().stop(graceful=graceful)


def create_consumer(settings: Settings) -> Consumer:
    options: dict[str, Any] = {
        "workers": settings.workers,
        "worker_type": "thread",
        "initial_delay": 0.01,
        "backoff": 1.15,
        "max_delay": settings.poll_max_delay,
        "periodic": True,
        "flush_locks": True,
        "scheduler_interval": 1,
    }
    if settings.queue_wakeup == "poll" or settings.queue_url:
        return huey.create_consumer(**options)
    fallback = settings.queue_fallback_poll
    doorbell = Doorbell(
        settings.resolved_queue_path,
        settings.workers,
        fallback,
        queue_name=settings.worker_host_name or "",
    )
    log.info(
        "idle workers wait for the queue's doorbell (fallback poll every %.1f s)",
        settings.queue_fallback_poll,
    )
    return DoorbellConsumer(huey, doorbell=doorbell, **options)
