"""Nothing lost at expiry, through the real `vm-api` (web + consumer + janitor) on the real
Docker daemon: an expired workspace goes to the trash with its volume's files, comes back from
it with them, and a purge leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from docker_support import remove_labelled
from harness import RunningService, wait_for_gone, wait_for_status, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture
def docker_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    running = service_factory(VM_API_DEFAULT_PROVIDER="docker", VM_API_JANITOR_INTERVAL="1")
    yield running
    remove_labelled(docker_client, running.config.instance)


def _exec(client: docker.DockerClient, workspace_id: str, script: str) -> str:
    result = client.containers.get(f"vm-ws-{workspace_id}").exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def _trash(service: RunningService) -> list[dict[str, Any]]:
    response = service.client.get("/api/v1/trash")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_expiry_trash_restore_and_purge(
    docker_service: RunningService, docker_client: docker.DockerClient
) -> None:
    api = docker_service.client
    created = api.post("/api/v1/workspaces", json={"name": "brief", "ttl_seconds": 4})
    assert created.status_code == 201, created.text
    ws = created.json()
    found = wait_for_status(api, ws["id"], ("running", "failed"), 60)
    assert found["status"] == "running", found["error_message"]
    _exec(docker_client, ws["id"], "echo 'unsaved work' > /workspace/notes.txt")

    # The janitor (every second) expires it; the consumer snapshots, then deletes.
    wait_for_gone(api, ws["id"], 60)
    entries = wait_until(lambda: _trash(docker_service), timeout=30, what="the trash entry")
    assert [(e["id"], e["reason"], e["snapshot"]["status"]) for e in entries] == [
        (ws["id"], "ttl expired", "ready")
    ]
    label = {"label": f"vm-api.workspace-id={ws['id']}"}
    assert docker_client.containers.list(all=True, filters=label) == []
    kept_volumes = [v.name for v in docker_client.volumes.list(filters=label)]
    assert kept_volumes == [f"vm-ws-{ws['id']}-snap-{entries[0]['snapshot']['id']}"]

    restored = api.post(f"/api/v1/trash/{ws['id']}/restore")
    assert restored.status_code == 202, restored.text
    # Its 4 s start over: longer, so that it does not expire again while this test looks.
    assert api.patch(f"/api/v1/workspaces/{ws['id']}", json={"ttl_seconds": 3600}).is_success
    back = wait_for_status(api, ws["id"], ("running", "failed"), 60)
    assert back["status"] == "running", back["error_message"]
    assert _exec(docker_client, ws["id"], "cat /workspace/notes.txt") == "unsaved work\n"
    assert _trash(docker_service) == []

    # A person's own delete may keep it too; this time it is purged by hand.
    assert api.delete(f"/api/v1/workspaces/{ws['id']}", params={"keep": "true"}).status_code == 202
    wait_for_gone(api, ws["id"], 60)
    again = wait_until(lambda: _trash(docker_service), timeout=30, what="the second entry")
    assert (again[0]["deleted_by"], again[0]["reason"]) == ("alice", None)
    purged = api.delete(f"/api/v1/trash/{ws['id']}")
    assert purged.status_code == 202, purged.text
    assert _trash(docker_service) == []
    wait_until(
        lambda: (
            not docker_client.volumes.list(filters=label)
            and not docker_client.images.list(filters=label)
        ),
        timeout=60,
        what="the final snapshot's volume and image removed",
    )
