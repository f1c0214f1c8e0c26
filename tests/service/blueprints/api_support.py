"""Helpers shared by the HTTP tests (imported by module name: tests have no packages)."""

from __future__ import annotations

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
