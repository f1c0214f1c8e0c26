"""The trash: a kept delete and an expiry leave a final snapshot that restore brings back.

The local provider (folders) and the queue in immediate mode; the Docker version with a real
consumer is tests/e2e/test_trash_process.py.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from pony.orm import db_session
from quart.testing import QuartClient

from models.records import utcnow
from models.settings import Settings
from models.store import active
from tasks.janitor import run_janitor
from tasks.providers import get_provider

NOTE = b"work I must not lose\n"


async def _workspace_with_a_note(client: QuartClient, name: str) -> dict:
    workspace = await create_workspace(client, name, ttl_seconds=3600)
    run_queued()
    put = await client.put(
        f"/api/v1/workspaces/{workspace['id']}/files",
        query_string={"path": "notes.txt"},
        data=NOTE,
        headers=ALICE,
    )
    assert put.status_code in (200, 201), await put.get_data()
    return workspace


async def _note(client: QuartClient, workspace_id: str) -> bytes:
    response = await client.get(
        f"/api/v1/workspaces/{workspace_id}/files",
        query_string={"path": "notes.txt"},
        headers=ALICE,
    )
    assert response.status_code == 200
    return await response.get_data()


def _expire_now(workspace_id: str) -> None:
    with db_session:
        active().entities.Workspace[workspace_id].expires_at = utcnow() - timedelta(seconds=1)


async def test_expiry_keeps_a_final_snapshot_that_restore_brings_back(
    client: QuartClient, settings: Settings
) -> None:
    workspace = await _workspace_with_a_note(client, "forgotten")
    _expire_now(workspace["id"])

    assert run_janitor(settings).expired == 1
    run_queued()

    await assert_error(
        await client.get(f"/api/v1/workspaces/{workspace['id']}", headers=ALICE), 404, "NOT_FOUND"
    )
    trash = (await get_json(client, "/api/v1/trash"))["items"]
    assert [(e["id"], e["name"], e["deleted_by"], e["reason"]) for e in trash] == [
        (workspace["id"], "forgotten", "janitor", "ttl expired")
    ]
    entry = trash[0]
    assert entry["snapshot"]["status"] == "ready" and entry["size_bytes"] > 0
    assert entry["purge_after"] > entry["deleted_at"]
    assert (await get_json(client, "/api/v1/trash", BOB))["items"] == []
    usage = (await get_json(client, "/api/v1/me"))["usage"]
    assert (usage["workspaces"], usage["trash"]) == (0, 1)
    assert usage["trash_bytes"] == entry["size_bytes"]
    # drift repair keeps what the trash holds
    run_janitor(settings)
    assert get_provider("local", settings).snapshot_workspace_ids() == {workspace["id"]}

    restored = await client.post(f"/api/v1/trash/{workspace['id']}/restore", headers=ALICE)
    body = await restored.get_json()
    assert restored.status_code == 202, body
    assert (body["id"], body["name"], body["status"]) == (workspace["id"], "forgotten", "restoring")
    run_queued()

    back = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert back["status"] == "running"
    assert back["expires_at"] > workspace["expires_at"]  # its hour starts over
    assert await _note(client, workspace["id"]) == NOTE
    assert (await get_json(client, "/api/v1/trash"))["items"] == []
    operation = await get_json(client, f"/api/v1/operations/{body['operation_id']}")
    assert (operation["operation_type"], operation["reason"]) == (
        "snapshot_restore",
        "restored from the trash",
    )


async def test_a_kept_delete_frees_the_name_and_restore_asks_for_another(
    client: QuartClient,
) -> None:
    workspace = await _workspace_with_a_note(client, "project")
    deleted = await client.delete(f"/api/v1/workspaces/{workspace['id']}?keep=true", headers=ALICE)
    assert deleted.status_code == 202
    run_queued()
    await create_workspace(client, "project")  # the name is free while in the trash
    run_queued()

    taken = await client.post(f"/api/v1/trash/{workspace['id']}/restore", headers=ALICE)
    body = await assert_error(taken, 409, "NAME_TAKEN")
    assert "project" in body["error"]
    await assert_error(
        await client.post(
            f"/api/v1/trash/{workspace['id']}/restore", json={"name": "no spaces"}, headers=ALICE
        ),
        400,
        "VALIDATION_ERROR",
    )
    await assert_error(
        await client.post(f"/api/v1/trash/{workspace['id']}/restore", headers=BOB), 404, "NOT_FOUND"
    )

    renamed = await client.post(
        f"/api/v1/trash/{workspace['id']}/restore", json={"name": "project-old"}, headers=ALICE
    )
    assert renamed.status_code == 202
    run_queued()
    back = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert (back["name"], back["status"]) == ("project-old", "running")
    assert await _note(client, workspace["id"]) == NOTE


async def test_purge_now_and_after_the_retention(client: QuartClient, settings: Settings) -> None:
    provider = get_provider("local", settings)
    first = await create_workspace(client, "first")
    second = await create_workspace(client, "second")
    run_queued()
    for workspace in (first, second):
        response = await client.delete(
            f"/api/v1/workspaces/{workspace['id']}?keep=true", headers=ALICE
        )
        assert response.status_code == 202
    run_queued()
    assert provider.snapshot_workspace_ids() == {first["id"], second["id"]}

    await assert_error(
        await client.delete(f"/api/v1/trash/{first['id']}", headers=BOB), 404, "NOT_FOUND"
    )
    purged = await client.delete(f"/api/v1/trash/{first['id']}", headers=ALICE)
    body = await purged.get_json()
    assert purged.status_code == 202, body
    assert [e["id"] for e in (await get_json(client, "/api/v1/trash"))["items"]] == [second["id"]]
    run_queued()
    assert provider.snapshot_workspace_ids() == {second["id"]}
    operation = await get_json(client, f"/api/v1/operations/{body['operation_id']}")
    assert operation["status"] == "success"
    await assert_error(
        await client.post(f"/api/v1/trash/{first['id']}/restore", headers=ALICE), 404, "NOT_FOUND"
    )

    with db_session:
        active().entities.Workspace[second["id"]].purge_after = utcnow() - timedelta(seconds=1)
    assert run_janitor(settings).trash_purged == 1
    run_queued()
    assert (await get_json(client, "/api/v1/trash"))["items"] == []
    assert provider.snapshot_workspace_ids() == set()


@pytest.mark.parametrize("overrides", [{"trash_retention": 0}])
async def test_with_the_trash_off_expiry_deletes_and_keep_is_refused(
    client: QuartClient, settings: Settings
) -> None:
    kept = await create_workspace(client, "kept")
    expiring = await create_workspace(client, "expiring")
    run_queued()
    await assert_error(
        await client.delete(f"/api/v1/workspaces/{kept['id']}?keep=true", headers=ALICE),
        409,
        "TRASH_OFF",
    )
    await assert_error(
        await client.delete(f"/api/v1/workspaces/{kept['id']}?keep=true&force=true", headers=ALICE),
        400,
        "VALIDATION_ERROR",
    )
    _expire_now(expiring["id"])
    run_janitor(settings)
    run_queued()
    assert (await get_json(client, "/api/v1/trash"))["items"] == []
    assert get_provider("local", settings).snapshot_workspace_ids() == set()
    assert (await get_json(client, f"/api/v1/workspaces/{kept['id']}"))["status"] == "running"


async def test_only_a_whole_workspace_can_be_kept(client: QuartClient) -> None:
    workspace = await create_workspace(client, "half")  # still creating: nothing ran
    body = await assert_error(
        await client.delete(f"/api/v1/workspaces/{workspace['id']}?keep=true", headers=ALICE),
        409,
        "INVALID_STATE",
    )
    assert body["status"] == "creating"


async def test_a_failed_final_snapshot_keeps_the_workspace(
    client: QuartClient, settings: Settings
) -> None:
    workspace = await _workspace_with_a_note(client, "vanishing")
    _expire_now(workspace["id"])
    run_janitor(settings)
    # Its folder goes before the final snapshot can be taken.
    shutil.rmtree(settings.resolved_data_dir / "workspaces" / workspace["id"])
    run_queued()

    kept = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert kept["status"] == "failed"
    assert kept["error_message"].startswith("the final snapshot failed, so the workspace was kept")
    assert kept["expires_at"] is None  # the janitor does not try again every run
    assert run_janitor(settings).expired == 0
    assert (await get_json(client, "/api/v1/trash"))["items"] == []
