"""Idempotency-Key across processes: two `vm-api web` processes on one database, and many
clients sending one create with one key at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from db_support import query, writers_held
from harness import StartService, wait_until

pytestmark = pytest.mark.slow

CLIENTS = 16
ROUNDS = 5


def fire_at_once(urls: list[str], key: str, body: dict[str, str]) -> list[httpx.Response]:
    """CLIENTS requests, spread over `urls`, released together by a barrier."""
    barrier = threading.Barrier(CLIENTS)

    def one(index: int) -> httpx.Response:
        headers = {"x-user": "alice", "Idempotency-Key": key}
        with httpx.Client(base_url=urls[index % len(urls)], headers=headers, timeout=30) as api:
            barrier.wait(timeout=30)
            return api.post("/api/v1/workspaces", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def test_one_key_sent_at_once_to_two_processes_creates_one_workspace(
    start_service: StartService,
) -> None:
    first = start_service("web")
    shared = first.config
    same_data = {"VM_API_DB_PATH": str(shared.db_path), "VM_API_DATA_DIR": str(shared.data_dir)}
    if shared.database_url is not None:
        same_data["VM_API_DATABASE_URL"] = shared.database_url
    second = start_service("web", **same_data)
    urls = [first.url, second.url]

    for round_number in range(ROUNDS):
        key, name = f"create-{round_number}", f"dev-{round_number}"
        answers = fire_at_once(urls, key, {"name": name})

        created = [r for r in answers if r.status_code == 201]
        busy = [r for r in answers if r.status_code == 409]
        assert len(created) + len(busy) == CLIENTS, [(r.status_code, r.text) for r in answers]
        assert all(r.json()["code"] == "IDEMPOTENCY_IN_PROGRESS" for r in busy)
        assert created, "some request must have done the work"
        assert len({r.text for r in created}) == 1  # one answer, whoever gave it
        assert len({r.headers["Location"] for r in created}) == 1
        fresh = [r for r in created if "Idempotent-Replayed" not in r.headers]
        assert len(fresh) == 1  # the one request that did the work
        assert all(
            r.headers.get("Idempotent-Replayed") == "true" for r in created if r not in fresh
        )
        # Once the first request is done, every retry, to either process, is the replay.
        for url in urls:
            with httpx.Client(base_url=url, timeout=30) as api:
                retry = api.post(
                    "/api/v1/workspaces",
                    json={"name": name},
                    headers={"x-user": "alice", "Idempotency-Key": key},
                )
            assert retry.status_code == 201, retry.text
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert retry.text == created[0].text

    data = shared.settings()
    names = sorted(name for (name,) in query(data, "SELECT name FROM workspaces"))
    ((creates,),) = query(data, "SELECT count(*) FROM operations WHERE operation_type = 'create'")
    assert names == [f"dev-{n}" for n in range(ROUNDS)]
    assert creates == ROUNDS


def test_a_client_that_hangs_up_gets_the_answer_on_its_retry(start_service: StartService) -> None:
    web = start_service("web")
    headers = {"x-user": "alice", "Idempotency-Key": "slow-create"}
    body = {"name": "slow"}
    # Another writer holds the database, so the create waits; the client gives up meanwhile.
    data = web.config.settings()
    with writers_held(data):
        with (
            httpx.Client(base_url=web.url, headers=headers, timeout=1.0) as api,
            pytest.raises(httpx.ReadTimeout),
        ):
            api.post("/api/v1/workspaces", json=body)
        time.sleep(0.5)  # the server has seen the disconnect and cancelled the handler

    def answered() -> bool:
        return query(data, "SELECT status FROM idempotency_keys") == [("completed",)]

    wait_until(answered, 30, what="the abandoned request to store its answer")
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as api:
        retry = api.post("/api/v1/workspaces", json=body)

    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["name"] == "slow"
