"""Liveness and readiness: /health always answers; /health/ready names the part that is down."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from db_support import execute
from quart.testing import QuartClient

from models.settings import Settings
from service import __version__
from tasks.queue import huey


async def test_health_answers_with_the_service_and_version(client: QuartClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert await response.get_json() == {
        "status": "ok",
        "service": "vm-api",
        "version": __version__,
    }


async def test_health_needs_no_identity(client: QuartClient) -> None:
    response = await client.get("/health", headers={}, scope_base={"client": ("203.0.113.9", 1)})

    assert response.status_code == 200


async def test_ready_when_database_and_queue_answer(client: QuartClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    body = await response.get_json()
    assert body == {"status": "ready", "database": "connected", "queue": "connected"}


class TestQueueUnavailable:
    @pytest.fixture
    def overrides(self, tmp_path: Path) -> dict[str, Any]:
        return {"queue_path": tmp_path / "queue-folder" / "queue.db"}

    @pytest.mark.sqlite_only  # a queue file: the Redis queue has none
    async def test_not_ready_when_the_queue_file_cannot_be_opened(
        self, client: QuartClient, settings: Settings
    ) -> None:
        # The queue worked at start-up; now its folder becomes a regular file, so the next
        # connection cannot be opened (as if the disk holding the queue went away).
        folder = settings.resolved_queue_path.parent
        huey.storage.close()
        shutil.rmtree(folder)
        folder.write_text("a regular file where the queue's folder was")

        response = await client.get("/health/ready")

        assert response.status_code == 503
        body = await response.get_json()
        assert body == {"status": "not_ready", "database": "connected", "queue": "unavailable"}


async def test_not_ready_when_the_database_is_gone(client: QuartClient, settings: Settings) -> None:
    if settings.database is None:
        execute(settings, "DROP TABLE workspaces")
    else:  # the service's whole schema, tables and all
        assert settings.database.schema is not None
        execute(settings, f'DROP SCHEMA "{settings.database.schema}" CASCADE')

    response = await client.get("/health/ready")

    assert response.status_code == 503
    body = await response.get_json()
    assert body == {"status": "not_ready", "database": "unavailable", "queue": "connected"}
