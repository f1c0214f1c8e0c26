"""Live events as server-sent events: every workspace the caller may see, or one workspace.

    GET /api/v1/events
    GET /api/v1/workspaces/{id}/events

Each event has an `id:` (its position in the change feed), an `event:` type and JSON `data:`.
A client reconnecting with `Last-Event-ID` gets every event after that id, then the live ones;
a comment line every 15 s keeps proxies and the client's connection alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from quart import Blueprint, Quart, Response, current_app, request
from quart.utils import run_sync

from models.change_events import ChangeEvent, events_after
from models.errors import NotFound
from models.reads import select_workspace, workspace_was_deleted
from models.settings import Settings
from service.auth import require_user, viewer
from service.change_feed import ChangeFeed
from service.draining import when_draining
from service.errors import APIError
from service.read_lane import read

blueprint = Blueprint("events", __name__, url_prefix="/api/v1")

EXTENSION_KEY = "vm_api.change_feed"
HEARTBEAT_SECONDS = 15.0
CATCH_UP_BATCH = 500


def install_change_feed(app: Quart) -> None:
    @app.before_serving
    async def _start() -> None:
        settings: Settings = app.config["SETTINGS"]
        feed = ChangeFeed(listen_to=settings.database)
        app.extensions[EXTENSION_KEY] = feed
        # A stop ends the streams at once instead of waiting out Hypercorn's graceful timeout.
        app.extensions[EXTENSION_KEY + ".undrain"] = when_draining(feed.close)

    @app.after_serving
    async def _stop() -> None:
        app.extensions.pop(EXTENSION_KEY + ".undrain", lambda: None)()
        feed: ChangeFeed | None = app.extensions.pop(EXTENSION_KEY, None)
        if feed is not None:
            await feed.close()


def _feed() -> ChangeFeed:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise APIError(400, "INVALID_LAST_EVENT_ID", "Last-Event-ID must be an event id")
    return int(raw)


def _frame(event: ChangeEvent) -> bytes:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.data}\n\n".encode()


async def _stream(
    feed: ChangeFeed, owner: str | None, workspace_id: str | None, resume_after: int | None
) -> AsyncIterator[bytes]:
    # Subscribed here, not in the handler: a client gone before the body starts leaves nothing.
    subscription = await feed.subscribe(owner, workspace_id)
    try:
        yield b"retry: 2000\n\n"
        # What happened between the client's last event and the subscription, from the database.
        after = resume_after
        while after is not None and after < subscription.start:
            missed = await run_sync(events_after)(
                after,
                CATCH_UP_BATCH,
                up_to=subscription.start,
                owner=subscription.owner,
                workspace_id=subscription.workspace_id,
            )
            for event in missed:
                yield _frame(event)
            after = missed[-1].id if len(missed) == CATCH_UP_BATCH else None
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if event is None:  # dropped for falling behind: the client resumes from its id
                return
            yield _frame(event)
    finally:  # also when the client goes away (CancelledError at the await above)
        feed.unsubscribe(subscription)


async def _replay(owner: str | None, workspace_id: str, after: int) -> AsyncIterator[bytes]:
    """What a client missed of a workspace whose delete has finished, then the end: no event
    will follow, so nothing waits for one."""
    while True:
        missed = await run_sync(events_after)(
            after, CATCH_UP_BATCH, owner=owner, workspace_id=workspace_id
        )
        for event in missed:
            yield _frame(event)
        if len(missed) < CATCH_UP_BATCH:
            return
        after = missed[-1].id


async def _event_response(workspace_id: str | None) -> Response:
    feed = _feed()
    resume_after = _last_event_id()
    if resume_after is None:
        # The stream starts from here, before the headers go out: a client that reads the
        # state once the stream is open misses nothing written before its body began.
        resume_after = await feed.current_position()
    return _event_stream(_stream(feed, viewer().scope, workspace_id, resume_after))


def _event_stream(body: AsyncIterator[bytes]) -> Response:
    response = Response(
        body,
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # Quart would end the stream after 60 s (RESPONSE_TIMEOUT)
    return response


@blueprint.get("/events")
@require_user
async def get_events() -> Response:
    return await _event_response(None)


@blueprint.get("/workspaces/<workspace_id>/events")
@require_user
async def get_workspace_events(workspace_id: str) -> Response:
    scope = viewer().scope
    try:
        await read(select_workspace, workspace_id, scope)  # 404 unless visible
    except NotFound:
        # A client that followed the workspace and reconnects after its delete learns how it
        # ended (the `workspace.deleted` event); one that never followed it gets the 404.
        resume_after = _last_event_id()
        if resume_after is None or not await read(workspace_was_deleted, workspace_id, scope):
            raise
        if not await read(_has_events_after, resume_after, scope, workspace_id):
            raise
        return _event_stream(_replay(scope, workspace_id, resume_after))
    return await _event_response(workspace_id)


def _has_events_after(after: int, owner: str | None, workspace_id: str) -> bool:
    return bool(events_after(after, 1, owner=owner, workspace_id=workspace_id))
