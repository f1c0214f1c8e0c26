"""GET /api/v1/admin/hosts and DELETE /api/v1/admin/hosts/{name}; and the create that finds no
live host."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from api_support import ALICE, assert_error, get_json
from db_support import execute
from quart.testing import QuartClient

from models.hosts import report_host
from models.records import sql_time, utcnow
from models.settings import Settings

ROOT = {"x-user": "root"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=frozenset({"root"}), host_timeout=30)


async def test_an_admin_sees_each_host_live_or_why_not(
    client: QuartClient, settings: Settings
) -> None:
    report_host("a", "tcp://10.0.0.1:2376", None)
    report_host("b", "tcp://10.0.0.2:2376", "its Docker daemon does not answer: refused")
    made = await client.post(
        "/api/v1/workspaces", json={"name": "dev", "provider": "docker"}, headers=ALICE
    )
    assert made.status_code == 201, await made.get_data()
    assert (await made.get_json())["host"] == "a"

    hosts = await get_json(client, "/api/v1/admin/hosts", ROOT)
    assert [(h["name"], h["live"], h["active_workspaces"]) for h in hosts] == [
        ("a", True, 1),
        ("b", False, 0),
    ]
    assert hosts[0]["unreachable"] is None and hosts[0]["docker_url"] == "tcp://10.0.0.1:2376"
    assert hosts[1]["unreachable"] == (
        "host b is unreachable: its Docker daemon does not answer: refused"
    )


async def test_a_create_with_no_live_host_is_refused_with_the_reasons(
    client: QuartClient, settings: Settings
) -> None:
    report_host("a", "tcp://10.0.0.1:2376", None)
    then = sql_time(utcnow() - timedelta(seconds=60))
    execute(settings, "UPDATE docker_hosts SET last_seen = ? WHERE name = 'a'", (then,))
    response = await client.post(
        "/api/v1/workspaces", json={"name": "dev", "provider": "docker"}, headers=ALICE
    )
    body = await assert_error(response, 503, "NO_LIVE_HOST")
    assert "host a is unreachable: its consumer has not reported since" in body["error"]
    assert await get_json(client, "/api/v1/workspaces", ALICE) == []  # nothing recorded


async def test_forgetting_a_host(client: QuartClient) -> None:
    report_host("a", "tcp://10.0.0.1:2376", None)
    report_host("gone", "tcp://10.0.0.9:2376", None)
    made = await client.post(
        "/api/v1/workspaces", json={"name": "dev", "provider": "docker"}, headers=ALICE
    )
    assert (await made.get_json())["host"] == "a"  # a tie goes to the first name

    await assert_error(
        await client.delete("/api/v1/admin/hosts/a", headers=ROOT), 409, "HOST_IN_USE"
    )
    assert (await client.delete("/api/v1/admin/hosts/gone", headers=ROOT)).status_code == 204
    await assert_error(
        await client.delete("/api/v1/admin/hosts/gone", headers=ROOT), 404, "NOT_FOUND"
    )
    assert [h["name"] for h in await get_json(client, "/api/v1/admin/hosts", ROOT)] == ["a"]
