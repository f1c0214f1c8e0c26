"""The same service with its queue on Redis (VM_API_QUEUE_URL) instead of SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from harness import RunningService, wait_for_gone, wait_for_status

pytestmark = pytest.mark.slow

# A database number of its own on the machine's Redis, emptied before and after.
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_workspaces_are_provisioned_through_a_redis_queue(
    service_factory: Callable[..., RunningService], redis_db: redis.Redis
) -> None:
    running = service_factory(VM_API_QUEUE_URL=REDIS_URL, VM_API_JANITOR_INTERVAL="1")
    api = running.client
    ready = api.get("/health/ready").json()
    assert ready == {"status": "ready", "database": "connected", "queue": "connected"}

    created = api.post("/api/v1/workspaces", json={"name": "on-redis", "ttl_seconds": 3})
    assert created.status_code == 201
    workspace_id = created.json()["id"]
    assert wait_for_status(api, workspace_id, ("running",), 10)["status"] == "running"
    assert any(key.startswith(b"huey") for key in redis_db.keys("*"))  # the queue lives here
    assert not (running.config.db_path.parent / "queue.db").exists()  # and not in SQLite

    wait_for_gone(api, workspace_id, 30)  # the janitor, scheduled through Redis, expired it
