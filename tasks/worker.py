"""The module the consumer loads: importing it registers every task on `tasks.queue.huey`.

`vm-api worker` binds the database and configures the queue before starting the consumer.
For `huey_consumer tasks.worker.huey` the environment is read here instead.
"""

from __future__ import annotations

from tasks import cleanup, lifecycle, provision, schedule, webhooks  # noqa: F401  (registers)
from tasks.queue import huey

__all__ = ["huey"]
