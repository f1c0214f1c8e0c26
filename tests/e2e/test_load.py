"""A bounded load test on loopback: 32 clients mixing every workspace call for a fixed time
against the real web server and consumer together."""

from __future__ import annotations

import collections
import os
import random
import statistics
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from db_support import query
from harness import RunningService, wait_until

pytestmark = pytest.mark.slow

CLIENTS = 32
USERS = 16
DURATION_SECONDS = float(os.environ.get("VM_API_LOAD_SECONDS", "20"))


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.latencies: list[float] = []
        self.created: set[str] = set()
        self.deleted: set[str] = set()
        self.transport_errors = 0

    def record(self, response: httpx.Response, seconds: float) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            self.latencies.append(seconds)


def client_loop(url: str, index: int, tally: Tally, deadline: float) -> None:
    rng = random.Random(index)
    user = f"user{index % USERS}"
    mine: list[str] = []
    with httpx.Client(base_url=url, headers={"x-user": user}, timeout=30) as api:
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            roll = rng.random()
            try:
                started = time.perf_counter()
                if roll < 0.3 or not mine:
                    body = {"name": f"c{index}-{sequence}", "metadata": {"n": sequence}}
                    response = api.post("/api/v1/workspaces", json=body)
                    if response.status_code == 201:
                        mine.append(response.json()["id"])
                        with tally.lock:
                            tally.created.add(mine[-1])
                elif roll < 0.55:
                    response = api.get("/api/v1/workspaces", params={"limit": 50})
                elif roll < 0.8:
                    response = api.get(f"/api/v1/workspaces/{rng.choice(mine)}")
                elif roll < 0.9:
                    target = rng.choice(mine)
                    response = api.patch(
                        f"/api/v1/workspaces/{target}", json={"metadata": {"patched": sequence}}
                    )
                else:
                    target = mine.pop(rng.randrange(len(mine)))
                    response = api.delete(f"/api/v1/workspaces/{target}")
                    if response.status_code == 202:
                        with tally.lock:
                            tally.deleted.add(target)
                tally.record(response, time.perf_counter() - started)
            except httpx.TransportError:
                with tally.lock:
                    tally.transport_errors += 1


def test_mixed_load_has_no_server_errors_and_loses_nothing(
    service_factory: Callable[..., RunningService],
) -> None:
    running = service_factory(VM_API_JANITOR_INTERVAL="5", VM_API_PROVISIONER_INTERVAL="2")
    tally = Tally()
    deadline = time.monotonic() + DURATION_SECONDS
    threads = [
        threading.Thread(target=client_loop, args=(running.config.url, i, tally, deadline))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION_SECONDS + 60)

    db = running.config.settings()

    def settled() -> bool:
        ((open_ops,),) = query(
            db, "SELECT count(*) FROM operations WHERE status IN ('pending', 'running')"
        )
        return open_ops == 0

    wait_until(settled, 120, interval=0.5, what="every accepted operation to finish")
    status_of = dict(query(db, "SELECT id, status FROM workspaces"))
    ((failed_without_reason,),) = query(
        db, "SELECT count(*) FROM workspaces WHERE status = 'failed' AND error_message IS NULL"
    )

    total = sum(tally.statuses.values())
    ordered = sorted(tally.latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(
        f"\nload: {total} requests in {DURATION_SECONDS:.0f} s ({total / DURATION_SECONDS:.0f}/s),"
        f" statuses {dict(sorted(tally.statuses.items()))},"
        f" transport errors {tally.transport_errors}, p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" {len(tally.created)} created, {len(tally.deleted)} deleted"
    )
    assert total > 0 and tally.created
    assert not [code for code in tally.statuses if code >= 500]
    assert tally.transport_errors == 0
    assert "database is locked" not in running.process.log_text()
    assert all(status_of[i] == "deleted" for i in tally.deleted)
    kept = tally.created - tally.deleted
    assert {status_of[i] for i in kept} <= {"running", "failed"}
    assert failed_without_reason == 0
