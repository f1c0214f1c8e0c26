"""/api/v1/workspaces/{id}/snapshots with the local provider: take, list, restore, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_support import (
    ALICE,
    BOB,
    UUID_RE,
    assert_error,
    create_workspace,
    get_json,
    operations_of,
    run_queued,
)
from quart.testing import QuartClient

SNAPSHOT_FIELDS = {"id", "workspace_id", "name", "status", "created_at", "size_bytes", "error"}
MISSING = "00000000-0000-4000-8000-000000000000"


def snapshots(workspace_id: str) -> str:
    return f"/api/v1/workspaces/{workspace_id}/snapshots"


async def take(client: QuartClient, workspace_id: str, name: str = "snap") -> dict[str, Any]:
    response = await client.post(snapshots(workspace_id), json={"name": name}, headers=ALICE)
    body = await response.get_json()
    assert response.status_code == 202, body
    return body  # type: ignore[no-any-return]


@pytest.fixture
async def workspace(client: QuartClient, immediate: None) -> dict[str, Any]:
    """A running local workspace of alice's, with one file in it."""
    created = await create_workspace(client, "snappy")
    current = await get_json(client, f"/api/v1/workspaces/{created['id']}")
    (Path(current["provider_id"]) / "README").write_text("hello\n")
    return current  # type: ignore[no-any-return]


async def test_take_a_snapshot(client: QuartClient, workspace: dict[str, Any]) -> None:
    body = await take(client, workspace["id"])

    assert set(body) == SNAPSHOT_FIELDS | {"operation_id"}
    assert UUID_RE.match(body["id"])
    assert (body["workspace_id"], body["name"]) == (workspace["id"], "snap")
    assert body["status"] == "creating"  # as recorded; immediate mode finishes it at once
    listed = await get_json(client, snapshots(workspace["id"]))
    assert [(s["id"], s["status"]) for s in listed] == [(body["id"], "ready")]
    assert listed[0]["size_bytes"] > 0
    assert listed[0]["error"] is None
    operation = await get_json(client, f"/api/v1/operations/{body['operation_id']}")
    assert (operation["operation_type"], operation["status"]) == ("snapshot", "success")
    assert operation["snapshot_id"] == body["id"]
    # taking a snapshot leaves the workspace running
    current = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert current["status"] == "running"


async def test_list_is_oldest_first(client: QuartClient, workspace: dict[str, Any]) -> None:
    first = await take(client, workspace["id"], "first")
    second = await take(client, workspace["id"], "second")

    listed = await get_json(client, snapshots(workspace["id"]))

    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert all(set(s) == SNAPSHOT_FIELDS for s in listed)


async def test_restore_brings_back_the_files(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    folder = Path(workspace["provider_id"])
    snapshot = await take(client, workspace["id"])
    (folder / "README").write_text("changed after the snapshot\n")
    (folder / "new-file").write_text("not in the snapshot\n")

    response = await client.post(
        f"{snapshots(workspace['id'])}/{snapshot['id']}/restore", headers=ALICE
    )

    body = await response.get_json()
    assert response.status_code == 202, body
    assert body["status"] == "restoring"
    assert UUID_RE.match(body["operation_id"])
    current = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert current["status"] == "running"
    assert (folder / "README").read_text() == "hello\n"
    assert not (folder / "new-file").exists()
    operation = await get_json(client, f"/api/v1/operations/{body['operation_id']}")
    assert (operation["operation_type"], operation["status"]) == ("snapshot_restore", "success")


async def test_delete_a_snapshot(client: QuartClient, workspace: dict[str, Any]) -> None:
    kept = await take(client, workspace["id"], "kept")
    dropped = await take(client, workspace["id"], "dropped")

    response = await client.delete(f"{snapshots(workspace['id'])}/{dropped['id']}", headers=ALICE)

    body = await response.get_json()
    assert response.status_code == 202, body
    assert body["status"] == "running"  # deleting a snapshot leaves the workspace as it is
    listed = await get_json(client, snapshots(workspace["id"]))
    assert [s["id"] for s in listed] == [kept["id"]]
    types = [o["operation_type"] for o in await operations_of(client, workspace["id"])]
    assert types[0] == "snapshot_delete"


async def test_a_deleted_snapshot_cannot_be_restored(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    snapshot = await take(client, workspace["id"])
    await client.delete(f"{snapshots(workspace['id'])}/{snapshot['id']}", headers=ALICE)

    response = await client.post(
        f"{snapshots(workspace['id'])}/{snapshot['id']}/restore", headers=ALICE
    )

    await assert_error(response, 404, "NOT_FOUND")


async def test_an_unknown_snapshot_is_not_found(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    for snapshot_id in (MISSING, "nope"):
        base = f"{snapshots(workspace['id'])}/{snapshot_id}"
        await assert_error(await client.post(f"{base}/restore", headers=ALICE), 404, "NOT_FOUND")
        await assert_error(await client.delete(base, headers=ALICE), 404, "NOT_FOUND")


async def test_a_snapshot_of_another_workspace_is_not_found(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    other = await create_workspace(client, "other")
    snapshot = await take(client, other["id"])

    response = await client.post(
        f"{snapshots(workspace['id'])}/{snapshot['id']}/restore", headers=ALICE
    )

    await assert_error(response, 404, "NOT_FOUND")


async def test_another_owners_snapshots_are_not_found(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    snapshot = await take(client, workspace["id"])
    base = snapshots(workspace["id"])

    await assert_error(await client.get(base, headers=BOB), 404, "NOT_FOUND")
    await assert_error(
        await client.post(base, json={"name": "mine"}, headers=BOB), 404, "NOT_FOUND"
    )
    await assert_error(
        await client.post(f"{base}/{snapshot['id']}/restore", headers=BOB), 404, "NOT_FOUND"
    )
    await assert_error(await client.delete(f"{base}/{snapshot['id']}", headers=BOB), 404)
    assert len(await get_json(client, base)) == 1


async def test_snapshots_of_an_unknown_workspace_are_not_found(client: QuartClient) -> None:
    await assert_error(await client.get(snapshots(MISSING), headers=ALICE), 404, "NOT_FOUND")


async def test_a_snapshot_needs_a_valid_name(
    client: QuartClient, workspace: dict[str, Any]
) -> None:
    for body in (
        {},
        {"name": ""},
        {"name": " lead"},
        {"name": "trail "},
        {"name": "line\nbreak"},
        {"name": "tab\there"},
        {"name": "x" * 101},
        {"name": "s", "x": 1},
        [],
    ):
        response = await client.post(snapshots(workspace["id"]), json=body, headers=ALICE)
        await assert_error(response, 400, "VALIDATION_ERROR")

    assert await get_json(client, snapshots(workspace["id"])) == []


@pytest.mark.parametrize("name", ["Before refactor", "v1.2 (ok?)", "a/b", "x" * 100, "über 用户"])
async def test_any_printable_snapshot_name(
    client: QuartClient, workspace: dict[str, Any], name: str
) -> None:
    response = await client.post(snapshots(workspace["id"]), json={"name": name}, headers=ALICE)

    assert response.status_code == 202, await response.get_json()
    assert [s["name"] for s in await get_json(client, snapshots(workspace["id"]))] == [name]


async def test_a_workspace_being_created_cannot_be_snapshotted(client: QuartClient) -> None:
    created = await create_workspace(client, "young")

    response = await client.post(snapshots(created["id"]), json={"name": "s"}, headers=ALICE)

    body = await assert_error(response, 409, "INVALID_STATE")
    assert body["status"] == "creating"


async def test_a_snapshot_still_being_taken_cannot_be_restored(client: QuartClient) -> None:
    created = await create_workspace(client, "slow")
    run_queued()
    response = await client.post(snapshots(created["id"]), json={"name": "s"}, headers=ALICE)
    snapshot = await response.get_json()

    restore = await client.post(
        f"{snapshots(created['id'])}/{snapshot['id']}/restore", headers=ALICE
    )

    await assert_error(restore, 409, "INVALID_STATE")
    run_queued()
    listed = await get_json(client, snapshots(created["id"]))
    assert [s["status"] for s in listed] == ["ready"]
