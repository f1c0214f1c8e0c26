"""POST /api/v1/operations/{id}/cancel: pending work is cancelled; running or finished is 409."""

from __future__ import annotations

from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from quart.testing import QuartClient

from models.work import claim_operation, release_operation


async def test_a_pending_stop_is_cancelled_and_never_runs(client: QuartClient) -> None:
    workspace = await create_workspace(client, "w")
    run_queued()
    stop = await (
        await client.post(f"/api/v1/workspaces/{workspace['id']}/stop", headers=ALICE)
    ).get_json()
    path = f"/api/v1/operations/{stop['operation_id']}/cancel"

    await assert_error(await client.post(path, headers=BOB), 404, "NOT_FOUND")
    response = await client.post(path, headers=ALICE)

    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "cancelled" and body["error"] == "cancelled by alice"
    assert (await get_json(client, f"/api/v1/workspaces/{workspace['id']}"))["status"] == "running"
    run_queued()  # its task finds nothing to do
    assert (await get_json(client, f"/api/v1/workspaces/{workspace['id']}"))["status"] == "running"
    again = await assert_error(await client.post(path, headers=ALICE), 409, "OPERATION_FINISHED")
    assert "cancelled" in again["error"]


async def test_a_running_operation_is_not_cancelled(client: QuartClient) -> None:
    workspace = await create_workspace(client, "busy")
    operations = await get_json(client, f"/api/v1/operations?workspace_id={workspace['id']}")
    claim_operation(operations[0]["id"], 3)  # a worker has it

    body = await assert_error(
        await client.post(f"/api/v1/operations/{operations[0]['id']}/cancel", headers=ALICE),
        409,
        "OPERATION_RUNNING",
    )
    assert "running" in body["error"]


async def asked_of_a_running_workspace(
    client: QuartClient, name: str, action: str
) -> tuple[str, str]:
    """A running workspace's path and the pending operation of `action` asked of it."""
    workspace = await create_workspace(client, name)
    run_queued()
    path = f"/api/v1/workspaces/{workspace['id']}"
    asked = await (await client.post(f"{path}/{action}", headers=ALICE)).get_json()
    return path, str(asked["operation_id"])


async def test_a_restart_cancelled_before_it_started_leaves_the_workspace_as_it_was(
    client: QuartClient,
) -> None:
    path, operation_id = await asked_of_a_running_workspace(client, "kept", "restart")
    assert (await get_json(client, path))["status"] == "restarting"

    response = await client.post(f"/api/v1/operations/{operation_id}/cancel", headers=ALICE)

    assert response.status_code == 200
    body = await response.get_json()
    assert body["detail"] == {"from_status": "running", "cancelled_by": "alice"}
    after = await get_json(client, path)
    assert (after["status"], after["error_message"]) == ("running", None)  # nothing was done


async def test_a_rebuild_given_back_after_an_attempt_is_failed_when_cancelled(
    client: QuartClient,
) -> None:
    path, operation_id = await asked_of_a_running_workspace(client, "half", "rebuild")
    claim_operation(operation_id, 3)  # a worker started it, then gave it back for a retry
    release_operation(operation_id)

    response = await client.post(f"/api/v1/operations/{operation_id}/cancel", headers=ALICE)

    assert response.status_code == 200
    after = await get_json(client, path)
    # it may have removed the container already: the workspace is failed, rebuild it again
    assert (after["status"], after["error_message"]) == ("failed", "rebuild cancelled by alice")
