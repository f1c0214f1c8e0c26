"""DELETE ?force=true: the workspace leaves the database at once; drift repair does the rest."""

from __future__ import annotations

from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from quart.testing import QuartClient

from models.settings import Settings
from tasks.janitor import run_janitor
from tasks.providers import get_provider


async def test_force_delete_reports_what_is_left_and_drift_repair_removes_it(
    client: QuartClient, settings: Settings
) -> None:
    workspace = await create_workspace(client, "stuck")
    run_queued()
    provider = get_provider("local", settings)
    assert provider.is_present(workspace["id"])
    stop = await client.post(f"/api/v1/workspaces/{workspace['id']}/stop", headers=ALICE)
    assert stop.status_code == 202  # pending: the force delete cancels it

    response = await client.delete(
        f"/api/v1/workspaces/{workspace['id']}?force=true", headers=ALICE
    )

    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "deleted"
    assert body["operations_cancelled"] == 1
    assert body["left_behind"] and "drift repair" in body["left_behind"][0]
    await assert_error(
        await client.get(f"/api/v1/workspaces/{workspace['id']}", headers=ALICE), 404, "NOT_FOUND"
    )
    history = await get_json(client, f"/api/v1/operations?workspace_id={workspace['id']}")
    forced = history[0]
    assert (forced["operation_type"], forced["status"], forced["requested_by"]) == (
        "delete",
        "success",
        "alice",
    )
    assert forced["reason"].startswith("force delete")
    assert history[1]["status"] == "cancelled" and "force-deleted by alice" in history[1]["error"]
    # The name is free again at once, and drift repair removes the folder.
    await create_workspace(client, "stuck")
    run_queued()  # the cancelled stop does not run
    run_janitor(settings)
    assert not provider.is_present(workspace["id"])


async def test_only_the_owner_can_force_and_bad_values_are_refused(client: QuartClient) -> None:
    workspace = await create_workspace(client, "mine")
    path = f"/api/v1/workspaces/{workspace['id']}"

    await assert_error(await client.delete(f"{path}?force=true", headers=BOB), 404, "NOT_FOUND")
    await assert_error(
        await client.delete(f"{path}?force=maybe", headers=ALICE), 400, "INVALID_PARAMETER"
    )
    await assert_error(
        await client.delete(f"{path}?forse=true", headers=ALICE), 400, "INVALID_PARAMETER"
    )
    assert (await get_json(client, path))["status"] == "creating"
