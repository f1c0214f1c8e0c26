"""Who may read /metrics: loopback callers not behind a proxy, or the bearer of the token."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from models.settings import Settings

OUTSIDE = {"client": ("203.0.113.5", 40000)}
LOOPBACK = {"client": ("127.0.0.1", 40000)}


async def _get(app: Quart, headers: dict[str, str] | None = None, scope: Any = None) -> Any:
    client = app.test_client()
    return await client.get("/metrics", headers=headers or {}, scope_base=scope or LOOPBACK)


async def test_loopback_reads_the_metrics(app: Quart) -> None:
    response = await _get(app)
    assert response.status_code == 200
    assert "vm_api_workspaces" in await response.get_data(as_text=True)


async def test_another_host_is_refused_without_a_token(app: Quart) -> None:
    response = await _get(app, scope=OUTSIDE)
    assert response.status_code == 403
    assert (await response.get_json())["code"] == "FORBIDDEN"


@pytest.mark.parametrize("overrides", [{"metrics_token": "t0ken"}])
async def test_the_token_opens_it_to_any_host(app: Quart, settings: Settings) -> None:
    assert settings.metrics_token == "t0ken"
    ok = await _get(app, {"Authorization": "Bearer t0ken"}, OUTSIDE)
    assert ok.status_code == 200
    missing = await _get(app)  # loopback too needs it once a token is set
    assert missing.status_code == 401
    assert (await _get(app, {"Authorization": "Bearer nope"})).status_code == 403
