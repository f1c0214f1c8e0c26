"""A page of another site changes nothing; allowed origins get CORS, preflight included."""

from __future__ import annotations

from dataclasses import replace

import pytest
from quart.testing import QuartClient

from models.settings import ConfigError, Settings

WORKSPACES = "/api/v1/workspaces"
DASHBOARD = "http://localhost:3120"
HOSTILE = "https://evil.example"


async def count_workspaces(client: QuartClient) -> int:
    response = await client.get(WORKSPACES, headers={"x-user": "alice"})
    return len(await response.get_json())


async def create(client: QuartClient, name: str, **headers: str) -> tuple[int, dict]:
    response = await client.post(
        WORKSPACES, json={"name": name}, headers={"x-user": "alice", **headers}
    )
    return response.status_code, await response.get_json()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": HOSTILE},
        {"Origin": "null"},
        {"Origin": HOSTILE, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost:3121.evil.example"},
    ],
)
async def test_a_foreign_page_creates_nothing(client: QuartClient, headers: dict) -> None:
    status, body = await create(client, "from-evil", **headers)

    assert (status, body["code"]) == (403, "CROSS_ORIGIN_REFUSED")
    assert await count_workspaces(client) == 0


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT"])
async def test_every_state_changing_method_is_checked(client: QuartClient, method: str) -> None:
    status, _ = await create(client, "mine")
    assert status == 201
    [workspace] = await (await client.get(WORKSPACES, headers={"x-user": "alice"})).get_json()

    response = await client.open(
        f"{WORKSPACES}/{workspace['id']}",
        method=method,
        json={"metadata": {"by": "evil"}},
        headers={"x-user": "alice", "Origin": HOSTILE},
    )

    assert response.status_code == 403
    after = await (await client.get(WORKSPACES, headers={"x-user": "alice"})).get_json()
    assert after[0]["status"] == workspace["status"]
    assert after[0]["metadata"] == workspace["metadata"]


async def test_a_stop_from_a_foreign_page_is_refused_before_the_handler(
    client: QuartClient,
) -> None:
    # even an unknown workspace: the refusal comes first, so nothing about the target leaks
    response = await client.post(
        f"{WORKSPACES}/00000000-0000-0000-0000-000000000000/stop",
        headers={"x-user": "alice", "Origin": HOSTILE},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts, the CLI: no Origin at all
        {"Origin": DASHBOARD},
        {"Origin": "http://127.0.0.1:3120"},
        {"Origin": "http://localhost", "Host": "localhost"},  # the service's own pages
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://proxy.internal"},
        {"Sec-Fetch-Site": "same-site", "Origin": DASHBOARD},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
)
async def test_allowed_callers_change_things(client: QuartClient, headers: dict) -> None:
    status, body = await create(client, "allowed", **headers)

    assert status == 201, body


async def test_reads_from_a_foreign_origin_get_no_cors_headers(client: QuartClient) -> None:
    response = await client.get(WORKSPACES, headers={"x-user": "alice", "Origin": HOSTILE})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers.get("Vary", "")


async def test_an_allowed_origin_gets_cors_headers(client: QuartClient) -> None:
    response = await client.get(WORKSPACES, headers={"x-user": "alice", "Origin": DASHBOARD})

    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "location" in response.headers["Access-Control-Expose-Headers"].lower()


async def test_preflight_from_an_allowed_origin(client: QuartClient) -> None:
    response = await client.options(
        WORKSPACES,
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-user, idempotency-key",
        },
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed == {"content-type", "x-user", "idempotency-key"}
    assert response.headers["Access-Control-Max-Age"] == "600"


async def test_preflight_from_a_foreign_origin_allows_nothing(client: QuartClient) -> None:
    response = await client.options(
        WORKSPACES, headers={"Origin": HOSTILE, "Access-Control-Request-Method": "DELETE"}
    )

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


class TestConfiguredOrigins:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, cors_origins=("https://dash.example.com",))

    async def test_only_the_listed_origins(self, client: QuartClient) -> None:
        allowed, _ = await create(client, "a", Origin="https://dash.example.com")
        default_one, _ = await create(client, "b", Origin=DASHBOARD)

        assert (allowed, default_one) == (201, 403)


def test_cors_origins_setting() -> None:
    assert Settings.from_env({}).cors_origins == (DASHBOARD, "http://127.0.0.1:3120")
    assert Settings.from_env({"VM_API_CORS_ORIGINS": "none"}).cors_origins == ()
    parsed = Settings.from_env({"VM_API_CORS_ORIGINS": "https://A.example.com, http://[::1]:3120"})
    assert parsed.cors_origins == ("https://a.example.com", "http://[::1]:3120")
    for bad in ("*", "https://a.example.com/", "dash.example.com", "ftp://x"):
        with pytest.raises(ConfigError, match="VM_API_CORS_ORIGINS"):
            Settings.from_env({"VM_API_CORS_ORIGINS": bad})
