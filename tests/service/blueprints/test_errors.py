"""Every failure is JSON {"error", "code"} with the status that fits, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ALICE, assert_error, create_workspace, get_json
from db_support import execute
from quart.testing import QuartClient

from models.settings import Settings

WORKSPACES = "/api/v1/workspaces"
JSON = {**ALICE, "content-type": "application/json"}


@pytest.fixture
async def workspace_id(client: QuartClient) -> str:
    return (await create_workspace(client, "target"))["id"]  # type: ignore[no-any-return]


async def send_to_each(client: QuartClient, workspace_id: str, **kwargs: Any) -> list[Any]:
    """The same request to the three routes that take a body: create, update, snapshot."""
    return [
        await client.post(WORKSPACES, **kwargs),
        await client.patch(f"{WORKSPACES}/{workspace_id}", **kwargs),
        await client.post(f"{WORKSPACES}/{workspace_id}/snapshots", **kwargs),
    ]


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b'{"name": "x",}', b"", b"{'name': 'x'}", b'{"name": "x"} trailing', b"\xef\xbb"],
)
async def test_malformed_json(client: QuartClient, workspace_id: str, raw: bytes) -> None:
    for response in await send_to_each(client, workspace_id, data=raw, headers=JSON):
        body = await assert_error(response, 400, "BAD_REQUEST")
        assert "JSON" in body["error"]


async def test_a_body_that_is_not_utf8(client: QuartClient, workspace_id: str) -> None:
    raw = '{"name": "café"}'.encode("latin-1")

    for response in await send_to_each(client, workspace_id, data=raw, headers=JSON):
        body = await assert_error(response, 400, "BAD_REQUEST")
        assert "UTF-8" in body["error"]


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
async def test_deeply_nested_json(
    client: QuartClient, workspace_id: str, opening: str, closing: str
) -> None:
    raw = (opening * 100_000 + "1" + closing * 100_000).encode()

    for response in await send_to_each(client, workspace_id, data=raw, headers=JSON):
        body = await assert_error(response, 400, "BAD_REQUEST")
        assert "nested" in body["error"]


async def test_json_constants_that_are_not_json(client: QuartClient, workspace_id: str) -> None:
    for value in ("NaN", "Infinity", "-Infinity"):
        raw = f'{{"name": "n", "cpus": {value}, "ttl_seconds": {value}}}'.encode()
        for response in await send_to_each(client, workspace_id, data=raw, headers=JSON):
            await assert_error(response, 400, "BAD_REQUEST")


async def test_nan_is_refused_inside_metadata(client: QuartClient) -> None:
    raw = b'{"name": "n", "metadata": {"x": NaN}}'

    await assert_error(await client.post(WORKSPACES, data=raw, headers=JSON), 400, "BAD_REQUEST")
    assert await get_json(client, WORKSPACES) == []


async def test_a_body_that_is_not_an_object(client: QuartClient, workspace_id: str) -> None:
    for body in ([], [{"name": "x"}], "name", 5, None, True):
        for response in await send_to_each(client, workspace_id, json=body, headers=ALICE):
            error = await assert_error(response, 400, "VALIDATION_ERROR")
            assert "JSON object" in error["error"]


async def test_a_body_without_a_json_content_type(client: QuartClient, workspace_id: str) -> None:
    headers = {**ALICE, "content-type": "text/plain"}

    for response in await send_to_each(
        client, workspace_id, data=b'{"name": "x"}', headers=headers
    ):
        await assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": 5}, "name"),
        ({"name": "n", "ttl_seconds": "60"}, "ttl_seconds"),
        ({"name": "n", "metadata": "x"}, "metadata"),
        ({"name": "n", "cpus": "2"}, "cpus"),
        ({"name": "n", "memory_mb": 1.5}, "memory_mb"),
        ({"name": "n", "repo_url": 5}, "repo_url"),
        ({"name": "n", "template": ["base"]}, "template"),
        ({"name": "n", "provider": None, "cpus": True}, "cpus"),
    ],
)
async def test_wrong_types_name_the_field(
    client: QuartClient, body: dict[str, Any], named: str
) -> None:
    response = await client.post(WORKSPACES, json=body, headers=ALICE)

    error = await assert_error(response, 400, "VALIDATION_ERROR")
    assert named in error["error"]


async def test_a_missing_field_is_named(client: QuartClient) -> None:
    response = await client.post(WORKSPACES, json={"template": "base"}, headers=ALICE)

    error = await assert_error(response, 400, "VALIDATION_ERROR")
    assert "missing field 'name'" in error["error"]


@pytest.mark.parametrize("typo", ["ttl", "Name", "memory", "repo"])
async def test_an_unknown_field_is_named(client: QuartClient, typo: str) -> None:
    response = await client.post(WORKSPACES, json={"name": "n", typo: 1}, headers=ALICE)

    error = await assert_error(response, 400, "VALIDATION_ERROR")
    assert f"unknown field '{typo}'" in error["error"]
    assert await get_json(client, WORKSPACES) == []


async def test_a_body_over_1_mib(client: QuartClient) -> None:
    padding = "x" * (1024 * 1024)
    raw = f'{{"name": "big", "metadata": {{"pad": "{padding}"}}}}'.encode()

    response = await client.post(WORKSPACES, data=raw, headers=JSON)

    error = await assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "1 MiB" in error["error"]


async def test_a_body_just_under_1_mib_reaches_validation(client: QuartClient) -> None:
    padding = "x" * (1024 * 1024 - 100)
    raw = f'{{"name": "big", "metadata": {{"pad": "{padding}"}}}}'.encode()
    assert len(raw) < 1024 * 1024

    response = await client.post(WORKSPACES, data=raw, headers=JSON)

    error = await assert_error(response, 400, "VALIDATION_ERROR")  # metadata over 16 KiB
    assert "metadata" in error["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", WORKSPACES),
        ("delete", WORKSPACES),
        ("patch", "/api/v1/operations"),
        ("post", "/api/v1/templates"),
        ("post", "/health"),
        ("get", f"{WORKSPACES}/00000000-0000-4000-8000-000000000000/start"),
    ],
)
async def test_a_wrong_method(client: QuartClient, method: str, path: str) -> None:
    response = await getattr(client, method)(path, headers=ALICE)

    error = await assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert method.upper() in error["error"]


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/workspaces", "/api/v1/"])
async def test_an_unknown_path(client: QuartClient, path: str) -> None:
    response = await client.get(path, headers=ALICE)

    error = await assert_error(response, 404, "NOT_FOUND")
    assert path in error["error"]


async def test_identity_is_checked_before_the_body(client: QuartClient) -> None:
    response = await client.post(
        WORKSPACES, data=b"{bad", headers={"content-type": "application/json"}
    )

    await assert_error(response, 401, "UNAUTHORIZED")


async def test_an_unexpected_failure_is_a_json_500(client: QuartClient, settings: Settings) -> None:
    # A real fault, not bad input: the operations table is gone.
    # CASCADE on PostgreSQL: the foreign keys that point at it go too (SQLite has no CASCADE).
    cascade = "" if settings.database is None else " CASCADE"
    execute(settings, f"DROP TABLE operations{cascade}")

    response = await client.get("/api/v1/operations", headers=ALICE)

    error = await assert_error(response, 500, "INTERNAL_ERROR")
    assert "operations" not in error["error"]  # no internals in the answer
