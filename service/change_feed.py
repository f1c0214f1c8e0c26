"""One change feed per web process, shared by every open event stream.

A single poller reads new rows of the database's change feed (models/change_events.py) and
hands each event to the streams that may see it; with no stream open it does not poll at all.
On PostgreSQL it reads when notified (service/change_signals.py), on SQLite every 50 ms.
A stream that falls too far behind is dropped: its client reconnects with Last-Event-ID and
catches up from the database, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from quart.utils import run_sync

from models.change_events import ChangeEvent, events_after, last_event_id
from models.engines import PostgresTarget
from service.change_signals import PostgresListener, waker

log = logging.getLogger("vm_api.events")

POLL_SECONDS = 0.05  # the worker's changes reach a client within a few polls
LISTENING_FALLBACK_SECONDS = 1.0  # on PostgreSQL: a look now and then, besides notifications
BATCH = 500
QUEUE_LIMIT = 2000  # events a stream may have waiting before it is dropped


@dataclass(eq=False)
class Subscription:
    owner: str | None  # None: an admin, who sees every workspace
    workspace_id: str | None
    start: int  # the feed's position when it subscribed: live events are all after it
    queue: asyncio.Queue[ChangeEvent | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )

    def wants(self, event: ChangeEvent) -> bool:
        if self.owner is not None and event.owner != self.owner:
            return False
        return self.workspace_id is None or event.workspace_id == self.workspace_id


class ChangeFeed:
    def __init__(
        self, poll_seconds: float = POLL_SECONDS, listen_to: PostgresTarget | None = None
    ) -> None:
        self.poll_seconds = poll_seconds
        self.position = 0
        self._subscriptions: set[Subscription] = set()
        self._poller: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._closed = False
        # On PostgreSQL a notification wakes the poller, which otherwise looks only now and then
        self._listen_to = listen_to
        self._listener: PostgresListener | None = None
        self._woken = asyncio.Event()

    @property
    def open_streams(self) -> int:
        return len(self._subscriptions)

    async def subscribe(self, owner: str | None, workspace_id: str | None) -> Subscription:
        async with self._starting:
            if not self._closed and (self._poller is None or self._poller.done()):
                self.position = await run_sync(last_event_id)()
                self._start_listening()
                self._poller = asyncio.create_task(self._poll(), name="vm-api change feed")
            subscription = Subscription(owner, workspace_id, self.position)
            self._subscriptions.add(subscription)
        if self._closed:  # the server is stopping: the stream ends at once
            self._drop(subscription)
        return subscription

    async def current_position(self) -> int:
        """The id of the newest event: every event after it reaches a stream opened now."""
        if self._poller is not None and not self._poller.done():
            return self.position  # what it has not read yet goes to every new subscription
        return await run_sync(last_event_id)()

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def _start_listening(self) -> None:
        if self._listen_to is None or self._listener is not None:
            return
        wake = waker(asyncio.get_running_loop(), self._woken)
        self._listener = PostgresListener(self._listen_to, wake)
        self._listener.start()

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            await run_sync(self._listener.stop)()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for subscription in list(self._subscriptions):
            self._drop(subscription)

    async def _poll(self) -> None:
        read = run_sync(events_after)
        while self._subscriptions:
            try:
                events = await read(self.position, BATCH)
            except Exception:  # a locked or busy database: the next poll tries again
                log.exception("change feed: reading events failed")
                events = []
            for event in events:
                self._deliver(event)
            if events:
                self.position = events[-1].id
            if len(events) < BATCH:
                await self._until_next_look()

    async def _until_next_look(self) -> None:
        if self._listener is None:
            await asyncio.sleep(self.poll_seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), LISTENING_FALLBACK_SECONDS)
        self._woken.clear()

    def _deliver(self, event: ChangeEvent) -> None:
        for subscription in list(self._subscriptions):
            if not subscription.wants(event):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping an event stream %d events behind", QUEUE_LIMIT)
                self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)  # the stream ends; the client resumes from its id
