"""Helpers shared by the HTTP tests (imported by module name: tests have no packages)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from quart.testing import QuartClient

ALICE = {"x-user": "alice"}
BOB = {"x-user": "bob"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def as_user(user: str) -> dict[str, str]:
    return {"x-user": user}


def parse_time(text: str) -> datetime:
    assert RFC3339_RE.match(text), text
    return datetime.fromisoformat(text.removesuffix("Z"))


async def create_workspace(
    client: QuartClient, name: str, headers: dict[str, str] = ALICE, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/workspaces", json={"name": name, **fields}, headers=headers
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    return body  # type: ignore[no-any-return]


async def get_json(client: QuartClient, path: str, headers: dict[str, str] = ALICE) -> Any:
    response = await client.get(path, headers=headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    return body


async def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the JSON error shape with this status (and code, when given)."""
    body = await response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert set(body) >= {"error", "code"}, body
    assert isinstance(body["error"], str) and body["error"]
    if code is not None:
        assert body["code"] == code, body
    return body  # type: ignore[no-any-return]


def run_queued() -> int:
    """Run every queued task in this thread, as a consumer would; returns how many ran."""
    import tasks.worker  # noqa: F401  (registers every task)
    from tasks.queue import huey

    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


async def operations_of(
    client: QuartClient, workspace_id: str, headers: dict[str, str] = ALICE
) -> list[dict[str, Any]]:
    """The workspace's operations, newest first."""
    return await get_json(client, f"/api/v1/operations?workspace_id={workspace_id}", headers)  # type: ignore[no-any-return]


# Routes whose 200 answer is an endless stream: tests read their start, then hang up.
STREAMING_ENDPOINTS = {"events.get_events", "events.get_workspace_events"}


async def open_stream(
    client: QuartClient, path: str, headers: dict[str, str], timeout: float = 5.0
) -> Any:
    """The status, headers and first chunk of a (possibly endless) response, then hang up."""
    async with client.request(path, method="GET", headers=headers) as connection:
        await connection.send_complete()
        first = await asyncio.wait_for(connection.receive(), timeout)
        await connection.disconnect()
    return client.app.response_class(first, connection.status_code, connection.headers)


def parse_sse(text: str) -> list[dict[str, str]]:
    """Server-sent events as dicts of their fields (id, event, data); comments are skipped."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, value = line.split(": ", 1)
            fields[name] = value
        if "data" in fields:
            events.append(fields)
    return events


async def read_events(
    client: QuartClient,
    path: str,
    headers: dict[str, str],
    count: int,
    until: Any = None,
    timeout: float = 10.0,
) -> list[dict[str, str]]:
    """Open an event stream, run `until()` (an async callable) once it is open, and collect
    events until `count` have arrived."""
    received = ""
    async with client.request(path, method="GET", headers=headers) as connection:
        await connection.send_complete()
        received += (await asyncio.wait_for(connection.receive(), timeout)).decode()
        if until is not None:
            await until()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(parse_sse(received)) < count:
            left = deadline - loop.time()
            assert left > 0, f"only {len(parse_sse(received))} of {count} events: {received}"
            received += (await asyncio.wait_for(connection.receive(), left)).decode()
        await connection.disconnect()
    return parse_sse(received)
