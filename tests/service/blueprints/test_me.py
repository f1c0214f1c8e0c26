"""/api/v1/me: who the caller is, whether they are an admin, their limits and usage."""

from __future__ import annotations

import pytest
from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from quart.testing import QuartClient

ME = "/api/v1/me"


async def test_me_without_limits(client: QuartClient) -> None:
    body = await get_json(client, ME)

    assert body == {
        "user": "alice",
        "admin": False,
        "limits": {"max_workspaces": None, "max_running": None},
        "usage": {"workspaces": 0, "running": 0, "trash": 0, "trash_bytes": 0},
    }


@pytest.mark.parametrize("overrides", [{"max_workspaces_per_user": 5, "max_running_per_user": 2}])
async def test_me_shows_the_limits(client: QuartClient) -> None:
    body = await get_json(client, ME)

    assert body["limits"] == {"max_workspaces": 5, "max_running": 2}


async def test_usage_counts_live_and_active_workspaces_of_the_caller(client: QuartClient) -> None:
    stopped = await create_workspace(client, "stopped")
    run_queued()
    assert (
        await client.post(f"/api/v1/workspaces/{stopped['id']}/stop", headers=ALICE)
    ).status_code == 202
    run_queued()
    await create_workspace(client, "creating")
    await create_workspace(client, "bobs", BOB)

    usage = (await get_json(client, ME))["usage"]

    assert usage == {
        "workspaces": 2,
        "running": 1,
        "trash": 0,
        "trash_bytes": 0,
    }  # stopped: not running


async def test_deleted_workspaces_do_not_count(client: QuartClient, immediate: None) -> None:
    created = await create_workspace(client, "gone")
    await client.delete(f"/api/v1/workspaces/{created['id']}", headers=ALICE)

    assert (await get_json(client, ME))["usage"] == {
        "workspaces": 0,
        "running": 0,
        "trash": 0,
        "trash_bytes": 0,
    }


@pytest.mark.parametrize("overrides", [{"admins": frozenset({"root"})}])
async def test_an_admin_is_told_so(client: QuartClient) -> None:
    assert (await get_json(client, ME, {"x-user": "root"}))["admin"] is True
    assert (await get_json(client, ME))["admin"] is False


async def test_me_needs_an_identity(client: QuartClient) -> None:
    await assert_error(await client.get(ME), 401, "UNAUTHORIZED")
