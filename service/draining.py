"""Telling long-lived responses (event streams, terminals) that the server is stopping.

Hypercorn's graceful stop closes the listening sockets and then waits up to its graceful
timeout for open connections to end, without telling the application: an event stream would
hold every stop for the whole timeout. `service.web_server` calls `drain()` the moment a stop
begins; what registered with `when_draining` ends its streams, and the clients reconnect to
the next server (event streams resume from their Last-Event-ID).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("vm_api.web")

_callbacks: list[Callable[[], Awaitable[None]]] = []


def when_draining(callback: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run `callback` when the stop begins; returns the function that unregisters it."""
    _callbacks.append(callback)
    return lambda: _callbacks.remove(callback) if callback in _callbacks else None


async def drain() -> None:
    for callback in list(_callbacks):
        try:
            await callback()
        except Exception:
            log.exception("a drain callback failed")
