"""A workspace people can work in, through the real `vm-api` (web + consumer) on the real Docker
daemon: the repository cloned into the volume, files that last through stop/start, rebuild and
restore, progress served by the logs endpoint, nothing left after delete."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker_support import remove_labelled
from harness import RunningService, git_repository, wait_for_gone, wait_for_status, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture
def docker_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    running = service_factory(VM_API_DEFAULT_PROVIDER="docker")
    yield running
    remove_labelled(docker_client, running.config.instance)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = git_repository(tmp_path / "origin", {"README.md": "from main\n", "app.py": "x\n"})
    env = {"GIT_AUTHOR_NAME": "e", "GIT_AUTHOR_EMAIL": "e@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "e", "GIT_COMMITTER_EMAIL": "e@x.invalid", "PATH": "/usr/bin"}
    for command in (
        ["git", "checkout", "--quiet", "-b", "topic"],
        ["sh", "-c", "echo from topic > README.md"],
        ["git", "commit", "--quiet", "-am", "topic"],
        ["git", "checkout", "--quiet", "main"],
    ):
        subprocess.run(command, cwd=path, env=env, check=True, capture_output=True, timeout=30)
    return path


def _exec(client: docker.DockerClient, workspace_id: str, script: str) -> str:
    result = client.containers.get(f"vm-ws-{workspace_id}").exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def _act(service: RunningService, path: str, body: Any = None) -> dict[str, Any]:
    response = service.client.post(path, json=body)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def _settled(service: RunningService, workspace_id: str) -> dict[str, Any]:
    found = wait_for_status(service.client, workspace_id, ("running", "failed", "stopped"), 60)
    assert found["status"] != "failed", found["error_message"]
    return found


def test_clone_files_last_through_stop_rebuild_and_restore_then_nothing_is_left(
    docker_service: RunningService, docker_client: docker.DockerClient, repo: Path
) -> None:
    api = docker_service.client
    created = api.post(
        "/api/v1/workspaces",
        json={"name": "code", "repo_url": f"file://{repo}", "repo_ref": "topic"},
    )
    assert created.status_code == 201, created.text
    ws = created.json()
    assert ws["repo_ref"] == "topic"
    running = _settled(docker_service, ws["id"])
    assert running["connection_info"]["workdir"] == "/workspace"

    assert _exec(docker_client, ws["id"], "cat README.md app.py") == "from topic\nx\n"
    create_op = api.get("/api/v1/operations", params={"workspace_id": ws["id"]}).json()[0]
    logs = api.get(f"/api/v1/operations/{create_op['id']}/logs").json()["lines"]
    lines = [item["line"] for item in logs]
    assert lines[0] == "cloning 0 %"
    # git wrote straight into the volume's folder (the worker is root beside its daemon)
    assert lines[-2:] == ["cloning 100 %", "starting container"]
    assert create_op["progress"] == "starting container"
    other = docker_service.config.client("bob")
    try:
        assert other.get(f"/api/v1/operations/{create_op['id']}/logs").status_code == 404
    finally:
        other.close()

    _exec(docker_client, ws["id"], "echo one > notes.txt")
    _act(docker_service, f"/api/v1/workspaces/{ws['id']}/stop")
    assert _settled(docker_service, ws["id"])["status"] == "stopped"
    _act(docker_service, f"/api/v1/workspaces/{ws['id']}/start")
    _settled(docker_service, ws["id"])
    assert _exec(docker_client, ws["id"], "cat notes.txt") == "one\n"

    snapshot = _act(docker_service, f"/api/v1/workspaces/{ws['id']}/snapshots", {"name": "one"})

    def ready() -> dict[str, Any] | None:
        listed = api.get(f"/api/v1/workspaces/{ws['id']}/snapshots").json()
        return next((s for s in listed if s["status"] == "ready"), None)

    taken = wait_until(ready, 60, what="snapshot ready")
    image = docker_client.images.get(f"vm-api-snapshot/{ws['id']}:{snapshot['id']}")
    assert taken["size_bytes"] > image.attrs["Size"]  # the volume's data counts

    _exec(docker_client, ws["id"], "echo two > notes.txt && echo mine > README.md")
    _act(docker_service, f"/api/v1/workspaces/{ws['id']}/rebuild")
    _settled(docker_service, ws["id"])
    # the volume stayed and the repository was not cloned over the person's edits
    assert _exec(docker_client, ws["id"], "cat notes.txt README.md") == "two\nmine\n"

    _act(docker_service, f"/api/v1/workspaces/{ws['id']}/snapshots/{snapshot['id']}/restore")
    _settled(docker_service, ws["id"])
    assert _exec(docker_client, ws["id"], "cat notes.txt README.md") == "one\nfrom topic\n"

    assert api.delete(f"/api/v1/workspaces/{ws['id']}").status_code == 202
    wait_for_gone(api, ws["id"], 60)
    label = {"label": f"vm-api.workspace-id={ws['id']}"}
    assert docker_client.volumes.list(filters=label) == []
    assert docker_client.containers.list(all=True, filters=label) == []


def test_a_failed_clone_fails_the_create_with_gits_last_line(
    docker_service: RunningService, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    api = docker_service.client
    created = api.post(
        "/api/v1/workspaces", json={"name": "broken", "repo_url": f"file://{tmp_path}/absent"}
    )
    assert created.status_code == 201, created.text

    failed = wait_for_status(api, created.json()["id"], ("running", "failed"), 60)

    message = "git clone failed: fatal: Could not read from remote repository."
    assert (failed["status"], failed["error_message"]) == ("failed", message)
    operation = api.get("/api/v1/operations", params={"workspace_id": failed["id"]}).json()[0]
    assert (operation["status"], operation["error"], operation["attempts"]) == (
        "failed",
        message,
        1,  # not transient: no retry
    )
    label = {"label": f"vm-api.workspace-id={failed['id']}"}
    assert docker_client.containers.list(all=True, filters=label) == []
