"""The real `vm-api` command end to end: HTTP server, huey consumer and the SQLite queue."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from db_support import Target, execute_together
from harness import (
    RunningService,
    StartService,
    pid_alive,
    wait_for_gone,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.slow

RUNNING_TIMEOUT = 20.0


def create(service: RunningService, name: str, repo: Path | str | None, **fields: object) -> dict:
    body: dict[str, object] = {"name": name, **fields}
    if repo is not None:
        body["repo_url"] = str(repo)
    response = service.client.post("/api/v1/workspaces", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def operations_of(service: RunningService, workspace_id: str, kind: str) -> list[dict]:
    response = service.client.get(
        "/api/v1/operations", params={"workspace_id": workspace_id, "type": kind}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_created_workspace_is_a_clone_of_the_repository(
    service: RunningService, git_repo: Path
) -> None:
    created = create(service, "clone", git_repo)

    running = wait_for_status(service.client, created["id"], ("running", "failed"), RUNNING_TIMEOUT)

    folder = service.config.workspace_dir(created["id"])
    assert running["status"] == "running", running
    assert running["connection_info"] == {
        "path": str(folder),
        "ssh_command": f"cd {folder} && exec $SHELL",
    }
    assert (folder / "README.md").read_text() == "hello from the e2e repository\n"
    assert (folder / ".git").is_dir()


def test_file_url_repository_is_cloned(service: RunningService, git_repo: Path) -> None:
    created = create(service, "file-url", git_repo.as_uri())

    running = wait_for_status(service.client, created["id"], ("running", "failed"), RUNNING_TIMEOUT)

    assert running["status"] == "running", running
    assert (service.config.workspace_dir(created["id"]) / "README.md").is_file()


def test_delete_through_the_api_removes_the_folder(service: RunningService, git_repo: Path) -> None:
    created = create(service, "to-delete", git_repo)
    wait_for_status(service.client, created["id"], ("running",), RUNNING_TIMEOUT)
    folder = service.config.workspace_dir(created["id"])
    assert folder.is_dir()

    response = service.client.delete(f"/api/v1/workspaces/{created['id']}")

    assert response.status_code == 202, response.text
    wait_for_gone(service.client, created["id"], RUNNING_TIMEOUT)
    assert not folder.exists()
    [delete] = operations_of(service, created["id"], "delete")
    assert delete["status"] == "success", delete


def test_janitor_removes_an_expired_workspace(
    service_factory: Callable[..., RunningService], git_repo: Path
) -> None:
    service = service_factory(VM_API_JANITOR_INTERVAL="1")
    created = create(service, "short-lived", git_repo, ttl_seconds=2)
    wait_for_status(service.client, created["id"], ("running",), RUNNING_TIMEOUT)
    folder = service.config.workspace_dir(created["id"])
    assert folder.is_dir()

    # Expires 2 s after creation; the janitor runs every second, then the cleanup task.
    wait_for_gone(service.client, created["id"], 10.0)

    assert not folder.exists()
    [delete] = operations_of(service, created["id"], "delete")
    assert delete["status"] == "success", delete


def test_idle_consumer_picks_up_new_work_within_a_second(
    service_factory: Callable[..., RunningService], git_repo: Path
) -> None:
    # One worker thread, and no janitor or sweep run while idle: nothing resets the poll delay,
    # so huey's own backoff (0.1 s x 1.15 per empty poll, 10 s cap) would reach ~2.3 s by the
    # end of the wait. The consumer's max delay (VM_API_POLL_MAX_DELAY, 0.1 s) must bound it.
    service = service_factory(
        VM_API_WORKERS="1",
        VM_API_JANITOR_INTERVAL="86400",
        VM_API_PROVISIONER_INTERVAL="86400",
    )
    time.sleep(15.5)

    created = create(service, "after-idle", None)
    accepted_at = time.monotonic()
    wait_for_status(service.client, created["id"], ("running",), 1.0)

    assert time.monotonic() - accepted_at < 1.0


def test_sigint_stops_web_and_worker_and_exits_zero(start_service: StartService) -> None:
    process = start_service()
    web, worker = process.child("web"), process.child("worker")

    started = time.monotonic()
    code = process.stop(signal.SIGINT, timeout=10.0)

    assert code == 0, process.describe()
    assert time.monotonic() - started < 5.0
    assert not pid_alive(web)
    assert not pid_alive(worker)
    assert "Shutting down gracefully" in process.log_text()  # the consumer drained


def _sql_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_lost_create(db: Target, owner: str, name: str) -> str:
    """A workspace and its pending create operation, committed but never enqueued."""
    workspace_id, operation_id, now = str(uuid.uuid4()), str(uuid.uuid4()), _sql_now()
    execute_together(
        db,
        (
            "INSERT INTO workspaces (id, owner, name, repo_url, template, provider, status,"
            " created_at, updated_at, ttl_seconds, expires_at, metadata, cpus, memory_mb)"
            " VALUES (?, ?, ?, NULL, 'base', 'local', 'creating', ?, ?, NULL, NULL, '{}',"
            " 1.0, 256)",
            (workspace_id, owner, name, now, now),
        ),
        (
            "INSERT INTO operations (id, workspace_id, owner, operation_type, status,"
            " started_at, attempts) VALUES (?, ?, ?, 'create', 'pending', ?, 0)",
            (operation_id, workspace_id, owner, now),
        ),
    )
    return workspace_id


def test_sweep_enqueues_a_lost_create_within_seconds(
    service_factory: Callable[..., RunningService],
) -> None:
    service = service_factory(VM_API_PROVISIONER_INTERVAL="2", VM_API_REQUEUE_AFTER="1")
    workspace_id = insert_lost_create(service.config.settings(), "alice", "lost")
    inserted_at = time.monotonic()

    # Lost for 1 s, then found by the next sweep (every 2 s): far below huey's 60 s periodic.
    running = wait_for_status(service.client, workspace_id, ("running", "failed"), 8.0)

    assert running["status"] == "running", running
    assert service.config.workspace_dir(workspace_id).is_dir()
    [operation] = operations_of(service, workspace_id, "create")
    assert operation["status"] == "success"
    assert time.monotonic() - inserted_at < 8.0
    assert "re-enqueueing lost operation" in service.process.log_text()


def test_web_and_worker_run_as_separate_commands(
    start_service: StartService, git_repo: Path
) -> None:
    web = start_service("web")
    start_service("worker", config=web.config)
    with web.config.client("bob") as client:
        response = client.post(
            "/api/v1/workspaces", json={"name": "split", "repo_url": str(git_repo)}
        )
        assert response.status_code == 201, response.text

        running = wait_for_status(client, response.json()["id"], ("running",), RUNNING_TIMEOUT)

    assert running["owner"] == "bob"
    assert (web.config.workspace_dir(running["id"]) / "README.md").is_file()


def test_worker_started_later_runs_work_queued_while_it_was_down(
    start_service: StartService,
) -> None:
    web = start_service("web")
    with web.config.client() as client:
        response = client.post("/api/v1/workspaces", json={"name": "queued"})
        assert response.status_code == 201, response.text
        workspace_id = response.json()["id"]
        time.sleep(0.5)
        assert client.get(f"/api/v1/workspaces/{workspace_id}").json()["status"] == "creating"

        start_service("worker", config=web.config)

        wait_for_status(client, workspace_id, ("running",), RUNNING_TIMEOUT)
    assert wait_until(web.config.workspace_dir(workspace_id).is_dir, 1.0)
