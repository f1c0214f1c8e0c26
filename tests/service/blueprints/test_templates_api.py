"""/api/v1/templates: the operator's catalogue, as configured."""

from __future__ import annotations

import pytest
from api_support import assert_error, get_json
from quart.testing import QuartClient

TEMPLATES = "/api/v1/templates"


async def test_the_configured_catalogue(client: QuartClient) -> None:
    body = await get_json(client, TEMPLATES)

    assert body == [
        {
            "name": "base",
            "image": "vm-api/test-base:latest",
            "command": ["sleep", "2147483647"],
            "description": "busybox shell",
            "cpus": 1.0,
            "memory_mb": 256,
            "max_cpus": 2.0,
            "max_memory_mb": 1024,
            "aliases": ["busybox"],
            "workdir": "/workspace",
            "shell": "/bin/sh",
            "network": "none",
            "idle_timeout_seconds": None,
        },
        {
            "name": "missing",
            "image": "vm-api/does-not-exist:latest",
            "command": ["sleep", "2147483647"],
            "description": "an image no registry has, for failure tests",
            "cpus": None,
            "memory_mb": None,
            "max_cpus": None,
            "max_memory_mb": None,
            "aliases": [],
            "workdir": "/workspace",
            "shell": "/bin/sh",
            "network": "none",
            "idle_timeout_seconds": None,
        },
    ]


@pytest.mark.parametrize("overrides", [{"templates_file": None}])
async def test_the_builtin_catalogue_without_a_file(client: QuartClient) -> None:
    body = await get_json(client, TEMPLATES)

    assert [t["name"] for t in body] == ["debian", "python", "node", "rust", "go"]
    assert {t["name"]: t["aliases"] for t in body}["node"] == ["nodejs"]
    assert body[0]["image"] == "debian:bookworm-slim"


@pytest.mark.parametrize("overrides", [{"templates_file": None}])
async def test_a_workspace_takes_the_builtin_default_template(client: QuartClient) -> None:
    response = await client.post(
        "/api/v1/workspaces", json={"name": "w"}, headers={"x-user": "alice"}
    )

    body = await response.get_json()
    assert response.status_code == 201, body
    assert (body["template"], body["cpus"], body["memory_mb"]) == ("debian", 2.0, 2048)


async def test_templates_need_an_identity(client: QuartClient) -> None:
    await assert_error(await client.get(TEMPLATES), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("overrides", [{"templates_file": None}])
@pytest.mark.parametrize(
    ("asked", "recorded"),
    [("nodejs", "node"), ("node", "node"), ("py", "python"), ("rust", "rust"), ("go", "go")],
)
async def test_the_originals_template_names_work(
    client: QuartClient, asked: str, recorded: str
) -> None:
    response = await client.post(
        "/api/v1/workspaces", json={"name": "w", "template": asked}, headers={"x-user": "alice"}
    )

    body = await response.get_json()
    assert response.status_code == 201, body
    assert body["template"] == recorded


@pytest.mark.parametrize("overrides", [{"templates_file": None}])
async def test_an_unknown_template_lists_the_known_ones(client: QuartClient) -> None:
    response = await client.post(
        "/api/v1/workspaces", json={"name": "w", "template": "cobol"}, headers={"x-user": "alice"}
    )

    body = await assert_error(response, 400, "UNKNOWN_TEMPLATE")
    assert "debian, python, node, rust, go" in body["error"]
