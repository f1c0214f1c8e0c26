"""Live events over SSE: what a stream carries, who sees what, resuming, heartbeats."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from api_support import (
    ALICE,
    BOB,
    assert_error,
    create_workspace,
    open_stream,
    parse_sse,
    read_events,
    run_queued,
)
from db_support import execute
from quart.testing import QuartClient

import service.blueprints.events as events_module
from models.change_events import events_after, last_event_id, purge_events
from models.records import sql_time, utcnow
from models.settings import Settings

EVENTS = "/api/v1/events"


def summary(events: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e["event"], json.loads(e["data"])["status"]) for e in events]


async def test_a_create_streams_status_changes_and_operation_progress(
    client: QuartClient,
) -> None:
    made: dict[str, Any] = {}

    async def create() -> None:
        made.update(await create_workspace(client, "live"))
        run_queued()

    events = await read_events(client, EVENTS, ALICE, count=5, until=create)

    assert summary(events) == [
        ("workspace.status", "creating"),
        ("operation.created", "pending"),
        ("operation.started", "running"),
        ("operation.finished", "success"),
        ("workspace.status", "running"),
    ]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 5
    finished = json.loads(events[3]["data"])
    assert finished["operation"]["workspace_id"] == made["id"]
    assert finished["operation"]["operation_type"] == "create"
    assert json.loads(events[4]["data"])["workspace"]["id"] == made["id"]


async def test_a_stream_carries_only_what_its_caller_may_see(client: QuartClient) -> None:
    async def both_create() -> None:
        await create_workspace(client, "alices")
        await create_workspace(client, "bobs", headers=BOB)

    events = await read_events(client, EVENTS, BOB, count=2, until=both_create)

    bodies = [json.loads(e["data"]) for e in events]
    assert [body["workspace"]["owner"] for body in bodies if "workspace" in body] == ["bob"]
    assert [body["operation"]["workspace_id"] for body in bodies if "operation" in body] == [
        bodies[0]["workspace"]["id"]
    ]
    assert summary(events) == [("workspace.status", "creating"), ("operation.created", "pending")]


@pytest.mark.parametrize("overrides", [{"admins": frozenset({"root"})}])
async def test_an_admin_sees_every_workspace(client: QuartClient) -> None:
    async def both_create() -> None:
        await create_workspace(client, "a")
        await create_workspace(client, "b", headers=BOB)

    events = await read_events(client, EVENTS, {"x-user": "root"}, count=4, until=both_create)

    bodies = [json.loads(e["data"]) for e in events]
    owners = [body["workspace"]["owner"] for body in bodies if "workspace" in body]
    assert sorted(owners) == ["alice", "bob"]


async def test_one_workspaces_stream_and_its_visibility(client: QuartClient) -> None:
    mine = await create_workspace(client, "mine")
    other = await create_workspace(client, "other")
    path = f"/api/v1/workspaces/{mine['id']}/events"

    async def stop_both() -> None:
        run_queued()

    events = await read_events(client, path, ALICE, count=3, until=stop_both)

    touched = {
        json.loads(e["data"]).get("workspace", json.loads(e["data"]).get("operation"))["id"]
        for e in events
    }
    assert other["id"] not in touched
    assert ("operation.finished", "success") in summary(events)
    await assert_error(await open_stream(client, path, BOB), 404, "NOT_FOUND")


async def test_a_follower_reconnecting_after_the_delete_learns_how_it_ended(
    client: QuartClient,
) -> None:
    made = await create_workspace(client, "ending")
    run_queued()
    seen = last_event_id()  # the follower's last event: the workspace is running
    path = f"/api/v1/workspaces/{made['id']}/events"
    assert (
        await client.delete(f"/api/v1/workspaces/{made['id']}", headers=ALICE)
    ).status_code == 202
    run_queued()

    # The replay ends by itself: no event can follow a finished delete.
    replay = await client.get(path, headers={**ALICE, "Last-Event-ID": str(seen)})

    assert replay.status_code == 200
    events = parse_sse((await replay.get_data()).decode())
    assert summary(events)[-1] == ("workspace.deleted", "deleted")
    assert ("operation.finished", "success") in summary(events)
    assert all(int(e["id"]) > seen for e in events)
    # Once it has everything (EventSource reconnects with the last id), or never followed, or
    # is somebody else: 404, which also stops a browser's EventSource from trying again.
    for headers in (
        {**ALICE, "Last-Event-ID": events[-1]["id"]},
        ALICE,
        {**BOB, "Last-Event-ID": str(seen)},
    ):
        await assert_error(await client.get(path, headers=headers), 404, "NOT_FOUND")


async def test_last_event_id_resumes_without_losing_an_event(client: QuartClient) -> None:
    first = await read_events(
        client, EVENTS, ALICE, count=2, until=lambda: create_workspace(client, "resumed")
    )
    run_queued()  # three more events while no stream is open

    resumed = await read_events(client, EVENTS, {**ALICE, "Last-Event-ID": first[0]["id"]}, count=4)

    assert resumed[0]["id"] == first[1]["id"]
    assert summary(resumed) == [
        ("operation.created", "pending"),
        ("operation.started", "running"),
        ("operation.finished", "success"),
        ("workspace.status", "running"),
    ]


async def test_a_change_made_while_the_stream_opens_is_not_lost(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that reads the state once the headers arrive (the CLI, the dashboard) must get
    # every later change, even one written before the server had subscribed its stream.
    feed = client.app.extensions[events_module.EXTENSION_KEY]
    subscribe = feed.subscribe

    async def subscribe_late(*args: Any) -> Any:
        await create_workspace(client, "raced")  # lands after the headers, before subscribing
        return await subscribe(*args)

    monkeypatch.setattr(feed, "subscribe", subscribe_late)

    events = await read_events(client, EVENTS, ALICE, count=2)

    assert summary(events) == [("workspace.status", "creating"), ("operation.created", "pending")]


async def test_a_malformed_last_event_id_is_refused(client: QuartClient) -> None:
    response = await client.get(EVENTS, headers={**ALICE, "Last-Event-ID": "yesterday"})

    await assert_error(response, 400, "INVALID_LAST_EVENT_ID")


async def test_an_idle_stream_sends_heartbeats(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "HEARTBEAT_SECONDS", 0.05)
    received = b""
    async with client.request(EVENTS, method="GET", headers=ALICE) as connection:
        await connection.send_complete()
        while b": keepalive" not in received:
            received += await asyncio.wait_for(connection.receive(), 5)
        await connection.disconnect()

    assert received.startswith(b"retry: ")


async def test_the_stream_response_has_no_timeout(client: QuartClient) -> None:
    response = await open_stream(client, EVENTS, ALICE)

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"


async def test_a_client_that_leaves_is_unsubscribed(client: QuartClient) -> None:
    feed = client.app.extensions[events_module.EXTENSION_KEY]
    await open_stream(client, EVENTS, ALICE)
    for _ in range(100):
        if feed.open_streams == 0:
            break
        await asyncio.sleep(0.01)

    assert feed.open_streams == 0


async def test_purge_keeps_the_newest_event_so_ids_never_repeat(
    client: QuartClient, settings: Settings
) -> None:
    await create_workspace(client, "old")
    newest = await asyncio.to_thread(last_event_id)
    two_hours_ago = sql_time(utcnow() - timedelta(hours=2))

    aged = await asyncio.to_thread(
        execute, settings, "UPDATE change_events SET at = ?", (two_hours_ago,)
    )
    assert aged == newest  # every event so far, ids from 1
    purged = await asyncio.to_thread(purge_events, 3600)
    await create_workspace(client, "new")

    assert purged == newest - 1
    later = await asyncio.to_thread(events_after, 0, 10)
    assert later[0].id == newest
    assert all(e.id > newest for e in later[1:]) and len(later) == 3
