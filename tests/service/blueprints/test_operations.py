"""/api/v1/operations: the caller's operations, filters that are checked, and single reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from quart.testing import QuartClient

OPERATIONS = "/api/v1/operations"
OPERATION_FIELDS = {
    "id",
    "workspace_id",
    "operation_type",
    "status",
    "started_at",
    "completed_at",
    "error",
    "attempts",
    "snapshot_id",
    "requested_by",
    "reason",
    "detail",
    "progress",
    "task_ids",
    "request_id",
}


def kinds(operations: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(o["operation_type"], o["status"]) for o in operations]


@pytest.fixture
async def history(client: QuartClient) -> dict[str, str]:
    """alice: `one` created and stopped (done), `two` created (pending); bob: `theirs`."""
    one = await create_workspace(client, "one")
    run_queued()
    stop = await client.post(f"/api/v1/workspaces/{one['id']}/stop", headers=ALICE)
    assert stop.status_code == 202
    run_queued()
    two = await create_workspace(client, "two")
    theirs = await create_workspace(client, "theirs", BOB)
    return {"one": one["id"], "two": two["id"], "theirs": theirs["id"]}


async def test_list_is_the_callers_newest_first(
    client: QuartClient, history: dict[str, str]
) -> None:
    listed = await get_json(client, OPERATIONS)

    assert kinds(listed) == [("create", "pending"), ("stop", "success"), ("create", "success")]
    assert [o["workspace_id"] for o in listed] == [history["two"], history["one"], history["one"]]
    assert all(set(o) == OPERATION_FIELDS for o in listed)
    bobs = await get_json(client, OPERATIONS, BOB)
    assert [o["workspace_id"] for o in bobs] == [history["theirs"]]


async def test_filter_by_workspace(client: QuartClient, history: dict[str, str]) -> None:
    listed = await get_json(client, f"{OPERATIONS}?workspace_id={history['one']}")

    assert kinds(listed) == [("stop", "success"), ("create", "success")]


async def test_filter_by_another_owners_workspace_finds_nothing(
    client: QuartClient, history: dict[str, str]
) -> None:
    assert await get_json(client, f"{OPERATIONS}?workspace_id={history['theirs']}") == []


async def test_filter_by_type(client: QuartClient, history: dict[str, str]) -> None:
    listed = await get_json(client, f"{OPERATIONS}?type=create")

    assert kinds(listed) == [("create", "pending"), ("create", "success")]


async def test_filter_by_status(client: QuartClient, history: dict[str, str]) -> None:
    assert kinds(await get_json(client, f"{OPERATIONS}?status=success")) == [
        ("stop", "success"),
        ("create", "success"),
    ]
    assert kinds(await get_json(client, f"{OPERATIONS}?status=pending")) == [("create", "pending")]
    assert await get_json(client, f"{OPERATIONS}?status=failed") == []


async def test_filters_combine(client: QuartClient, history: dict[str, str]) -> None:
    query = f"workspace_id={history['one']}&type=create&status=success"

    listed = await get_json(client, f"{OPERATIONS}?{query}")

    assert kinds(listed) == [("create", "success")]
    assert listed[0]["workspace_id"] == history["one"]


async def test_pagination(client: QuartClient, history: dict[str, str]) -> None:
    first = await client.get(f"{OPERATIONS}?limit=2", headers=ALICE)
    assert len(await first.get_json()) == 2
    match = re.match(r'^<([^>]+)>; rel="next"$', first.headers["Link"])
    assert match

    rest = await client.get(match.group(1), headers=ALICE)

    assert kinds(await rest.get_json()) == [("create", "success")]
    assert "Link" not in rest.headers


INVALID_FILTERS = [
    ("workspace_id=not-a-uuid", "workspace_id"),
    ("workspace_id=", "workspace_id"),
    ("type=reboot", "type"),
    ("type=CREATE", "type"),
    ("status=done", "status"),
    ("status=", "status"),
    ("owner=bob", "owner"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("type=create&type=stop", "type"),
]


async def test_invalid_filters_are_refused(client: QuartClient) -> None:
    for query, named in INVALID_FILTERS:
        response = await client.get(f"{OPERATIONS}?{query}", headers=ALICE)
        body = await assert_error(response, 400, "INVALID_PARAMETER")
        assert named in body["error"], query


@pytest.mark.parametrize(
    "query",
    ["type=Create&status=Pending", "type=create&status=pending", "type=SnapshotRestore"],
)
async def test_filters_in_the_originals_pascal_case(
    client: QuartClient, history: dict[str, str], query: str
) -> None:
    response = await client.get(f"{OPERATIONS}?{query}", headers=ALICE)

    body = await response.get_json()
    assert response.status_code == 200, body
    if "SnapshotRestore" in query:
        assert all(o["operation_type"] == "snapshot_restore" for o in body)
    else:
        assert body and all(
            (o["operation_type"], o["status"]) == ("create", "pending") for o in body
        )


async def test_a_malformed_cursor_is_refused(client: QuartClient) -> None:
    response = await client.get(f"{OPERATIONS}?cursor=nonsense", headers=ALICE)

    await assert_error(response, 400, "INVALID_CURSOR")


async def test_get_one(client: QuartClient, history: dict[str, str]) -> None:
    newest = (await get_json(client, OPERATIONS))[0]

    body = await get_json(client, f"{OPERATIONS}/{newest['id']}")

    assert body == newest
    assert (body["operation_type"], body["status"], body["attempts"]) == ("create", "pending", 0)
    assert body["completed_at"] is None


async def test_a_finished_operation_has_its_completion_time(
    client: QuartClient, history: dict[str, str]
) -> None:
    done = await get_json(client, f"{OPERATIONS}?status=success&type=stop")

    body = await get_json(client, f"{OPERATIONS}/{done[0]['id']}")

    assert body["attempts"] == 1
    assert body["completed_at"] >= body["started_at"]
    assert body["error"] is None


async def test_another_users_operation_is_not_found(
    client: QuartClient, history: dict[str, str]
) -> None:
    theirs = (await get_json(client, OPERATIONS, BOB))[0]

    await assert_error(await client.get(f"{OPERATIONS}/{theirs['id']}", headers=ALICE), 404)


async def test_an_unknown_operation_is_not_found(client: QuartClient) -> None:
    for operation_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        response = await client.get(f"{OPERATIONS}/{operation_id}", headers=ALICE)
        await assert_error(response, 404, "NOT_FOUND")
