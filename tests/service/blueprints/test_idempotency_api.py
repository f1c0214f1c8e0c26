"""Idempotency-Key on every POST: replay, mismatch, concurrency, identity, and restarts."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from api_support import ALICE, BOB, assert_error, create_workspace, get_json, run_queued
from db_support import execute, query
from quart import Quart
from quart.testing import QuartClient

from models.idempotency import ABANDONED_AFTER, Claimed, Fingerprint, claim_key, select_key
from models.records import sql_time, utcnow
from models.settings import Settings
from models.store import close_store
from service.app import create_app
from service.prestart import run_prestart
from tasks.providers import reset_providers

WORKSPACES = "/api/v1/workspaces"
BODY = {"name": "dev", "ttl_seconds": 3600}


def keyed(key: str, user: dict[str, str] = ALICE) -> dict[str, str]:
    return {**user, "Idempotency-Key": key}


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


async def post(client: QuartClient, key: str, body: Any = BODY, **kwargs: Any) -> Any:
    # raw bytes: the key covers the body byte for byte
    headers = {**keyed(key, **kwargs), "Content-Type": "application/json"}
    return await client.post(WORKSPACES, data=raw(body), headers=headers)


def count_rows(settings: Settings, table: str) -> int:
    return int(query(settings, f"SELECT count(*) FROM {table}")[0][0])


async def test_a_retry_replays_the_first_answer_and_creates_nothing(
    client: QuartClient, settings: Settings
) -> None:
    first = await post(client, "create-dev-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers

    again = await post(client, "create-dev-1")

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.mimetype == "application/json"
    assert await again.get_json() == await first.get_json()
    assert [w["name"] for w in await get_json(client, WORKSPACES)] == ["dev"]
    assert count_rows(settings, "operations") == 1


async def test_the_same_key_with_another_body_is_422(client: QuartClient) -> None:
    assert (await post(client, "k")).status_code == 201

    response = await post(client, "k", {"name": "other"})

    error = await assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key" in error["error"]
    assert [w["name"] for w in await get_json(client, WORKSPACES)] == ["dev"]


async def test_the_same_key_on_another_path_is_422(client: QuartClient) -> None:
    workspace = (await (await post(client, "k")).get_json())["id"]

    response = await client.post(f"{WORKSPACES}/{workspace}/stop", headers=keyed("k"))

    await assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_a_key_of_another_user_is_independent(client: QuartClient) -> None:
    alice = await post(client, "shared-key")
    bob = await post(client, "shared-key", user=BOB)

    assert (alice.status_code, bob.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in bob.headers
    assert (await bob.get_json())["owner"] == "bob"
    assert (await bob.get_json())["id"] != (await alice.get_json())["id"]
    bob_other_body = await post(client, "shared-key", {"name": "bobs"}, user=BOB)
    await assert_error(bob_other_body, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_requests_without_a_key_are_not_deduplicated(client: QuartClient) -> None:
    await create_workspace(client, "one")
    await create_workspace(client, "two")

    assert len(await get_json(client, WORKSPACES)) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there", "bell\x07", "caf\xe9"])
async def test_a_malformed_key_is_400_and_nothing_is_created(
    client: QuartClient, settings: Settings, key: str
) -> None:
    response = await post(client, key)

    await assert_error(response, 400, "INVALID_IDEMPOTENCY_KEY")
    assert await get_json(client, WORKSPACES) == []
    assert count_rows(settings, "idempotency_keys") == 0


@pytest.mark.parametrize("key", ["a", "x" * 255, "9f1c2e3a-uuid-like", "with spaces ~!@#$%^&*()"])
async def test_printable_keys_of_1_to_255_characters_are_accepted(
    client: QuartClient, key: str
) -> None:
    assert (await post(client, key)).status_code == 201
    assert (await post(client, key)).headers["Idempotent-Replayed"] == "true"


async def test_an_anonymous_request_with_a_key_is_401_and_stores_nothing(
    client: QuartClient, settings: Settings
) -> None:
    response = await client.post(WORKSPACES, json=BODY, headers={"Idempotency-Key": "k"})

    await assert_error(response, 401, "UNAUTHORIZED")
    assert count_rows(settings, "idempotency_keys") == 0
    assert (await post(client, "k")).status_code == 201


async def test_a_refusal_is_final_and_replayed(client: QuartClient) -> None:
    first = await post(client, "k", {"name": "dev", "ttl": 5})
    await assert_error(first, 400, "VALIDATION_ERROR")

    again = await post(client, "k", {"name": "dev", "ttl": 5})

    await assert_error(again, 400, "VALIDATION_ERROR")
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_server_error_releases_the_key_so_that_a_retry_does_the_work(
    client: QuartClient, settings: Settings
) -> None:
    # A real fault: the create cannot record its operation while the table is away.
    execute(settings, "ALTER TABLE operations RENAME TO operations_away")
    await assert_error(await post(client, "k"), 500, "INTERNAL_ERROR")
    assert select_key("alice", "k") is None
    execute(settings, "ALTER TABLE operations_away RENAME TO operations")

    retry = await post(client, "k")

    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    assert [w["name"] for w in await get_json(client, WORKSPACES)] == ["dev"]


def claim_as_another_request(key: str) -> None:
    """What a request running at this moment in another process has done: claimed the key."""
    fingerprint = Fingerprint("POST", WORKSPACES, hashlib.sha256(raw(BODY)).hexdigest())
    assert isinstance(claim_key("alice", key, fingerprint), Claimed)


async def test_a_key_whose_first_request_still_runs_is_409(client: QuartClient) -> None:
    claim_as_another_request("k")

    response = await post(client, "k")

    await assert_error(response, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert response.headers["Retry-After"] == "1"
    assert await get_json(client, WORKSPACES) == []


async def test_an_abandoned_claim_is_taken_over(client: QuartClient, settings: Settings) -> None:
    claim_as_another_request("k")
    abandoned_at = sql_time(utcnow() - ABANDONED_AFTER - timedelta(seconds=1))
    assert execute(settings, "UPDATE idempotency_keys SET claimed_at = ?", (abandoned_at,)) == 1

    response = await post(client, "k")

    assert response.status_code == 201
    assert (await post(client, "k")).headers["Idempotent-Replayed"] == "true"


async def test_an_action_is_replayed_without_a_second_operation(
    client: QuartClient, settings: Settings
) -> None:
    workspace = await create_workspace(client, "dev")
    run_queued()
    stop = f"{WORKSPACES}/{workspace['id']}/stop"

    first = await client.post(stop, headers=keyed("stop-1"))
    again = await client.post(stop, headers=keyed("stop-1"))

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.get_json() == await first.get_json()
    assert count_rows(settings, "operations") == 2  # the create and one stop


async def test_a_key_survives_a_restart(settings: Settings) -> None:
    run_prestart(settings)
    reset_providers()

    async def post_once(app: Quart) -> Any:
        async with app.test_app():
            response = await post(app.test_client(), "k")
            return response.status_code, response.headers, await response.get_json()

    try:
        first = await post_once(create_app(settings))
        close_store()
        second = await post_once(create_app(settings))  # a new process on the same database
    finally:
        close_store()

    assert (first[0], second[0]) == (201, 201)
    assert second[1]["Idempotent-Replayed"] == "true"
    assert second[2] == first[2]
    assert count_rows(settings, "workspaces") == 1


async def test_every_post_documents_the_key_and_nothing_else_does(client: QuartClient) -> None:
    paths = (await (await client.get("/openapi.json")).get_json())["paths"]

    for path, operations in paths.items():
        for method, operation in operations.items():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            documented = "Idempotency-Key" in names
            assert documented == (method == "post" and path.startswith("/api/")), (method, path)
            if documented:
                assert "422" in operation["responses"]
