"""What the project promises of every route: /api needs an identity, another user's objects
are not found, and every route is documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_support import (
    ALICE,
    BOB,
    STREAMING_ENDPOINTS,
    assert_error,
    create_workspace,
    get_json,
    open_stream,
    run_queued,
)
from quart import Quart
from quart.testing import QuartClient, WebsocketResponseError
from werkzeug.routing import Rule

# Routes that quart-schema adds for the documentation itself.
DOCUMENTATION_ENDPOINTS = {"openapi", "swagger_ui", "redoc_ui", "scalar_ui"}
# A valid body for each route that takes one, so that only the ownership check can refuse it.
BODIES = {
    ("POST", "/api/v1/workspaces"): {"name": "fresh"},
    ("PATCH", "/api/v1/workspaces/<workspace_id>"): {"name": "renamed"},
    ("POST", "/api/v1/workspaces/<workspace_id>/snapshots"): {"name": "theirs"},
    ("POST", "/api/v1/workspaces/<workspace_id>/exec"): {"command": ["true"]},
    ("POST", "/api/v1/trash/<trash_id>/restore"): {"name": "back"},
}
# A valid query string for each route that needs one.
QUERIES = {"/api/v1/workspaces/<workspace_id>/files": {"path": "."}}
# Reads the owner of a `local` workspace (these tests' provider) is refused with 409, by
# design; the Docker tests (test_workspace_access_docker.py) show the owner reaches them.
DOCKER_ONLY_READS = {"/api/v1/workspaces/<workspace_id>/logs"}


def api_routes(app: Quart) -> list[tuple[str, Rule]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            routes.extend((method, rule) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return routes


ADMIN_PREFIX = "/api/v1/admin/"


def owned_routes(app: Quart) -> list[tuple[str, Rule]]:
    """Routes that act on the caller's own objects (admin routes answer 403 to everyone else)."""
    return [(m, rule) for m, rule in api_routes(app) if not rule.rule.startswith(ADMIN_PREFIX)]


def fill(rule: Rule, values: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values[match.group(1)], rule.rule)


async def call(
    client: QuartClient, method: str, rule: Rule, path: str, headers: dict[str, str]
) -> Any:
    """The route's answer; for a WebSocket route, the answer that refused the handshake."""
    if getattr(rule, "websocket", False):
        return await refused_handshake(client, path, headers)
    if rule.endpoint in STREAMING_ENDPOINTS:
        return await open_stream(client, path, headers)
    body = BODIES.get((method, rule.rule))
    query = QUERIES.get(rule.rule)
    return await client.open(path, method=method, json=body, query_string=query, headers=headers)


async def refused_handshake(client: QuartClient, path: str, headers: dict[str, str]) -> Any:
    try:
        async with client.websocket(path, headers=headers) as ws:
            await ws.receive()
    except WebsocketResponseError as refused:
        return refused.response
    raise AssertionError(f"the WebSocket {path} was accepted")


def test_there_are_api_routes_to_check(app: Quart) -> None:
    assert len(api_routes(app)) >= 17


def test_every_api_route_requires_a_user(app: Quart) -> None:
    unguarded = [
        f"{method} {rule.rule}"
        for method, rule in api_routes(app)
        if not getattr(app.view_functions[rule.endpoint], "requires_user", False)
    ]

    assert unguarded == []


async def test_every_api_route_refuses_an_anonymous_caller(app: Quart, client: QuartClient) -> None:
    # Ids that exist, so that a 404 cannot stand in for the missing 401.
    values = await _objects_of_alice(client)

    for method, rule in api_routes(app):
        response = await call(client, method, rule, fill(rule, values), headers={})
        body = await assert_error(response, 401, "UNAUTHORIZED")
        assert "user" in body["error"], f"{method} {rule.rule}"


async def _objects_of_alice(client: QuartClient) -> dict[str, str]:
    workspace = await create_workspace(client, "alices")
    run_queued()
    response = await client.post(
        f"/api/v1/workspaces/{workspace['id']}/snapshots", json={"name": "s"}, headers=ALICE
    )
    assert response.status_code == 202
    run_queued()
    snapshot = await response.get_json()
    kept = await create_workspace(client, "alices-deleted")
    run_queued()
    response = await client.delete(f"/api/v1/workspaces/{kept['id']}?keep=true", headers=ALICE)
    assert response.status_code == 202
    run_queued()
    return {
        "trash_id": kept["id"],
        "workspace_id": workspace["id"],
        "snapshot_id": snapshot["id"],
        "operation_id": snapshot["operation_id"],
        "task_id": snapshot["operation_id"],  # admin routes take a task or an operation id
        "name": "some-host",  # a Docker host (admin routes)
    }


async def test_another_user_gets_not_found_for_every_owned_object(
    app: Quart, client: QuartClient
) -> None:
    values = await _objects_of_alice(client)
    before = await get_json(client, f"/api/v1/workspaces/{values['workspace_id']}")
    checked = []

    for method, rule in owned_routes(app):
        if not rule.arguments:
            continue
        response = await call(client, method, rule, fill(rule, values), headers=BOB)
        await assert_error(response, 404, "NOT_FOUND")
        checked.append(f"{method} {rule.rule}")

    assert len(checked) >= 12
    # nothing bob sent reached alice's objects
    assert await get_json(client, f"/api/v1/workspaces/{values['workspace_id']}") == before
    snapshots = await get_json(client, f"/api/v1/workspaces/{values['workspace_id']}/snapshots")
    assert [(s["id"], s["status"]) for s in snapshots] == [(values["snapshot_id"], "ready")]
    assert await get_json(client, "/api/v1/workspaces", BOB) == []
    assert await get_json(client, "/api/v1/operations", BOB) == []


async def test_the_owner_reaches_every_owned_object(app: Quart, client: QuartClient) -> None:
    # The counterpart of the test above: the same paths are valid for alice, so bob's 404s
    # come from the ownership check. Reads only, so that nothing changes between the calls.
    values = await _objects_of_alice(client)

    for method, rule in owned_routes(app):
        if rule.arguments and method == "GET" and rule.rule not in DOCKER_ONLY_READS:
            response = await call(client, method, rule, fill(rule, values), headers=ALICE)
            if getattr(rule, "websocket", False):  # refused, but as alice's: a local workspace
                await assert_error(response, 409, "TERMINAL_NOT_SUPPORTED")
                continue
            assert response.status_code == 200, f"{method} {rule.rule}"


async def test_every_admin_route_refuses_a_user_who_is_not_an_admin(
    app: Quart, client: QuartClient
) -> None:
    values = await _objects_of_alice(client)
    admin_routes = [(m, rule) for m, rule in api_routes(app) if rule.rule.startswith(ADMIN_PREFIX)]

    for method, rule in admin_routes:
        response = await call(client, method, rule, fill(rule, values), headers=ALICE)
        await assert_error(response, 403, "ADMIN_REQUIRED")

    assert len(admin_routes) >= 5


async def test_every_route_is_documented(app: Quart, client: QuartClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = (await response.get_json())["paths"]

    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in DOCUMENTATION_ENDPOINTS or rule.endpoint.startswith("docs."):
            continue
        if getattr(rule, "websocket", False):  # OpenAPI cannot describe one: docs/terminal.md
            continue
        if rule.endpoint.startswith("dashboard."):  # the page and its files, not the API
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {rule.rule}")

    assert missing == []


@pytest.mark.parametrize("path", ["/docs", "/swagger-ui"])
async def test_the_documentation_pages_are_html(client: QuartClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/openapi.json" in (await response.get_data(as_text=True))


async def test_nothing_is_served_as_static_files(client: QuartClient) -> None:
    response = await client.get("/static/pyproject.toml")

    await assert_error(response, 404, "NOT_FOUND")


async def test_every_state_changing_api_route_refuses_a_foreign_page(
    app: Quart, client: QuartClient
) -> None:
    values = await _objects_of_alice(client)
    before = await get_json(client, f"/api/v1/workspaces/{values['workspace_id']}")
    checked = []

    for method, rule in api_routes(app):
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            continue
        headers = {**ALICE, "Origin": "https://evil.example"}
        response = await call(client, method, rule, fill(rule, values), headers=headers)
        await assert_error(response, 403, "CROSS_ORIGIN_REFUSED")
        checked.append(f"{method} {rule.rule}")

    assert "POST /api/v1/workspaces/<workspace_id>/exec" in checked
    assert "PUT /api/v1/workspaces/<workspace_id>/files" in checked
    assert await get_json(client, f"/api/v1/workspaces/{values['workspace_id']}") == before


# Routes outside /api: no user identity. /metrics has an access rule of its own (loopback or
# VM_API_METRICS_TOKEN: tests/service/blueprints/test_metrics_access.py).
ROUTES_WITHOUT_USER = {"/health", "/health/ready", "/metrics"}


def test_every_route_outside_api_is_known(app: Quart) -> None:
    outside = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/api/")
        and rule.endpoint not in DOCUMENTATION_ENDPOINTS
        and not rule.endpoint.startswith(("docs.", "dashboard."))  # pages; they call /api
    }

    assert outside == ROUTES_WITHOUT_USER


async def test_metrics_needs_no_user_but_refuses_other_hosts(client: QuartClient) -> None:
    outside = await client.get("/metrics", scope_base={"client": ("198.51.100.7", 1000)})
    await assert_error(outside, 403, "FORBIDDEN")
    local = await client.get("/metrics", scope_base={"client": ("127.0.0.1", 1000)})
    assert local.status_code == 200
