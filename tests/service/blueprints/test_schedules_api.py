"""Schedules through the API: set on create, changed and cleared with PATCH, bad ones refused."""

from __future__ import annotations

import pytest
from api_support import ALICE, assert_error, create_workspace
from quart.testing import QuartClient

SCHEDULE = {"autostart": "30 8 * * 1-5", "autostop": "0 19 * * 1-5", "timezone": "Europe/Berlin"}


async def test_a_schedule_is_set_on_create_and_shown(client: QuartClient) -> None:
    created = await create_workspace(client, "office-hours", schedule=SCHEDULE)

    assert created["schedule"] == SCHEDULE
    shown = await client.get(f"/api/v1/workspaces/{created['id']}", headers=ALICE)
    assert (await shown.get_json())["schedule"] == SCHEDULE
    listed = await client.get("/api/v1/workspaces", headers=ALICE)
    assert (await listed.get_json())[0]["schedule"] == SCHEDULE


async def test_patch_changes_and_clears_it(client: QuartClient) -> None:
    created = await create_workspace(client, "later")
    path = f"/api/v1/workspaces/{created['id']}"
    assert created["schedule"] is None

    changed = await client.patch(path, json={"schedule": {"autostop": "0 20 * * *"}}, headers=ALICE)
    assert (await changed.get_json())["schedule"] == {"autostop": "0 20 * * *", "timezone": "UTC"}
    renamed = await client.patch(path, json={"name": "renamed"}, headers=ALICE)
    assert (await renamed.get_json())["schedule"]["autostop"] == "0 20 * * *"  # untouched
    cleared = await client.patch(path, json={"schedule": None}, headers=ALICE)
    assert (await cleared.get_json())["schedule"] is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"autostart": "every morning"}, "5-field cron"),
        ({"autostop": "0 25 * * *"}, "not a valid cron"),
        ({"autostop": "0 19 * * *", "timezone": "Nowhere/City"}, "unknown time zone"),
        ({"timezone": "UTC"}, "needs autostart, autostop or both"),
    ],
)
async def test_a_bad_schedule_is_refused_and_nothing_is_made(
    client: QuartClient, schedule: dict[str, str], message: str
) -> None:
    response = await client.post(
        "/api/v1/workspaces", json={"name": "bad", "schedule": schedule}, headers=ALICE
    )

    body = await assert_error(response, 400, "INVALID_SCHEDULE")
    assert message in body["error"]
    listed = await client.get("/api/v1/workspaces", headers=ALICE)
    assert await listed.get_json() == []
