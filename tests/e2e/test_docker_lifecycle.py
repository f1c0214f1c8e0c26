"""The whole workspace lifecycle on a real Docker daemon, through the real `vm-api` process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from db_support import execute, query
from docker.models.containers import Container
from harness import RunningService, wait_for_gone, wait_for_status, wait_until

pytestmark = pytest.mark.slow

LABEL_WORKSPACE = "vm-api.workspace-id"


@pytest.fixture
def docker_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    running = service_factory(VM_API_DEFAULT_PROVIDER="docker", VM_API_JANITOR_INTERVAL="1")
    yield running
    # Whatever a failed test left behind: containers, volumes and snapshot images of this service's
    # workspaces (the service itself is stopped by the fixture that started it).
    ids = [row[0] for row in query(running.config.settings(), "SELECT id FROM workspaces")]
    for workspace_id in ids:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"}, ignore_removed=True
        ):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        for image in docker_client.images.list(
            filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"}
        ):
            with contextlib.suppress(docker.errors.APIError):
                docker_client.images.remove(image.id, force=True)
        for volume in docker_client.volumes.list(
            filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"}
        ):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)


def container_of(client: docker.DockerClient, workspace_id: str) -> Container:
    return client.containers.get(f"vm-ws-{workspace_id}")


def act(service: RunningService, path: str, expected: str, timeout: float = 60) -> dict[str, Any]:
    response = service.client.post(path)
    assert response.status_code == 202, response.text
    workspace_id = response.json()["id"]
    return wait_for_status(service.client, workspace_id, (expected, "failed"), timeout)


def test_create_stop_start_restart_snapshot_restore_rebuild_delete(
    docker_service: RunningService, docker_client: docker.DockerClient
) -> None:
    api = docker_service.client
    created = api.post(
        "/api/v1/workspaces",
        json={"name": "dev", "template": "base", "cpus": 0.5, "memory_mb": 128},
    )
    assert created.status_code == 201, created.text
    ws_id = created.json()["id"]
    running = wait_for_status(api, ws_id, ("running", "failed"), 60)
    assert running["status"] == "running", running["error_message"]

    container = container_of(docker_client, ws_id)
    labels = container.labels
    assert labels[LABEL_WORKSPACE] == ws_id
    assert labels["vm-api.owner"] == "alice"
    assert labels["vm-api.service"] == docker_service.config.instance
    host_config = container.attrs["HostConfig"]
    assert host_config["NanoCpus"] == 500_000_000
    assert host_config["Memory"] == 128 * 1024 * 1024
    assert host_config["NetworkMode"] == "none"
    assert running["connection_info"]["shell"] == f"docker exec -it vm-ws-{ws_id} sh"
    assert running["provider_id"] == container.id

    stopped = act(docker_service, f"/api/v1/workspaces/{ws_id}/stop", "stopped")
    assert stopped["status"] == "stopped"
    assert container_of(docker_client, ws_id).status == "exited"

    assert act(docker_service, f"/api/v1/workspaces/{ws_id}/start", "running")["status"] == (
        "running"
    )
    before_restart = container_of(docker_client, ws_id).attrs["State"]["StartedAt"]
    assert act(docker_service, f"/api/v1/workspaces/{ws_id}/restart", "running")["status"] == (
        "running"
    )
    restarted = container_of(docker_client, ws_id)
    assert restarted.status == "running"
    assert restarted.attrs["State"]["StartedAt"] != before_restart

    # Snapshot: a file written before it and deleted after it is back after the restore.
    assert restarted.exec_run(["sh", "-c", "echo precious > /precious.txt"]).exit_code == 0
    taken = api.post(f"/api/v1/workspaces/{ws_id}/snapshots", json={"name": "before"})
    assert taken.status_code == 202, taken.text
    assert taken.json()["status"] == "creating"
    snapshot_id = taken.json()["id"]

    def snapshot_ready() -> dict[str, Any] | None:
        listed = api.get(f"/api/v1/workspaces/{ws_id}/snapshots").json()
        return next(
            (s for s in listed if s["id"] == snapshot_id and s["status"] != "creating"), None
        )

    snapshot = wait_until(snapshot_ready, 60, what="snapshot ready")
    assert snapshot["status"] == "ready"
    image = docker_client.images.get(f"vm-api-snapshot/{ws_id}:{snapshot_id}")
    # the image and the copy of the volume (an empty folder's tar here)
    assert snapshot["size_bytes"] > image.attrs["Size"] > 0

    assert container_of(docker_client, ws_id).exec_run(["rm", "/precious.txt"]).exit_code == 0
    restored = act(
        docker_service, f"/api/v1/workspaces/{ws_id}/snapshots/{snapshot_id}/restore", "running"
    )
    assert restored["status"] == "running"
    back = container_of(docker_client, ws_id).exec_run(["cat", "/precious.txt"])
    assert (back.exit_code, back.output) == (0, b"precious\n")

    old_container_id = container_of(docker_client, ws_id).id
    rebuilt = act(docker_service, f"/api/v1/workspaces/{ws_id}/rebuild", "running")
    assert rebuilt["status"] == "running"
    fresh = container_of(docker_client, ws_id)
    assert fresh.id != old_container_id
    assert fresh.exec_run(["cat", "/precious.txt"]).exit_code != 0  # from the template image

    deleted = api.delete(f"/api/v1/workspaces/{ws_id}")
    assert deleted.status_code == 202
    wait_for_gone(api, ws_id, 60)
    label = {"label": f"{LABEL_WORKSPACE}={ws_id}"}
    assert docker_client.containers.list(all=True, filters=label) == []
    assert docker_client.images.list(filters=label) == []
    operations = api.get("/api/v1/operations", params={"workspace_id": ws_id}).json()
    assert {op["operation_type"]: op["status"] for op in operations} == {
        "create": "success",
        "stop": "success",
        "start": "success",
        "restart": "success",
        "snapshot": "success",
        "snapshot_restore": "success",
        "rebuild": "success",
        "delete": "success",
    }


def test_a_provision_run_twice_leaves_one_container(
    docker_service: RunningService, docker_client: docker.DockerClient
) -> None:
    """Re-run the create operation through the real queue: the retry adopts the container."""
    from models.store import open_store
    from tasks.provision import provision_workspace
    from tasks.queue import configure_queue

    api = docker_service.client
    ws_id = api.post("/api/v1/workspaces", json={"name": "twice"}).json()["id"]
    wait_for_status(api, ws_id, ("running",), 60)
    first_container = container_of(docker_client, ws_id).id
    settings = docker_service.config.settings()
    ((op_id,),) = query(
        settings,
        "SELECT id FROM operations WHERE workspace_id = ? AND operation_type = 'create'",
        (ws_id,),
    )
    # As if the worker had died after creating the container but before recording it.
    execute(settings, "UPDATE operations SET status = 'pending' WHERE id = ?", (op_id,))
    execute(settings, "UPDATE workspaces SET status = 'creating' WHERE id = ?", (ws_id,))
    open_store(settings.data_target)
    configure_queue(settings)
    provision_workspace(op_id)
    provision_workspace(op_id)  # and once more, for good measure

    def finished() -> bool:
        rows = query(settings, "SELECT status, attempts FROM operations WHERE id = ?", (op_id,))
        return rows == [("success", 2)]

    wait_until(finished, 60, what="the re-run create to finish")
    assert wait_for_status(api, ws_id, ("running",), 10)["provider_id"] == first_container
    containers = docker_client.containers.list(
        all=True, filters={"label": f"{LABEL_WORKSPACE}={ws_id}"}
    )
    assert [c.id for c in containers] == [first_container]


def test_drift_is_repaired_by_the_janitor(
    docker_service: RunningService, docker_client: docker.DockerClient
) -> None:
    api = docker_service.client
    ws_id = api.post("/api/v1/workspaces", json={"name": "drift"}).json()["id"]
    wait_for_status(api, ws_id, ("running",), 60)

    container_of(docker_client, ws_id).remove(force=True)  # behind the service's back
    failed = wait_for_status(api, ws_id, ("failed",), 30)
    assert "disappeared outside vm-api" in failed["error_message"]

    orphan_id, foreign_id = str(uuid.uuid4()), str(uuid.uuid4())

    def labelled(workspace_id: str, instance: str) -> Container:
        return docker_client.containers.create(
            "vm-api/test-base:latest",
            ["sleep", "2147483647"],
            name=f"vm-ws-{workspace_id}",
            labels={LABEL_WORKSPACE: workspace_id, "vm-api.service": instance, "vm-api.owner": "x"},
            network_mode="none",
        )

    orphan = labelled(orphan_id, docker_service.config.instance)
    # Another installation's container on the same daemon: never ours to remove.
    foreign = labelled(foreign_id, "another-installation")
    try:

        def orphan_removed() -> bool:
            # ignore_removed: the janitor may remove it between the list and its inspect
            return not docker_client.containers.list(
                all=True, filters={"id": orphan.id}, ignore_removed=True
            )

        wait_until(orphan_removed, 30, what="the orphan container to be removed")
        assert "removing docker resources of workspace " + orphan_id in (
            docker_service.process.log_text()
        )
        assert docker_client.containers.list(all=True, filters={"id": foreign.id})
    finally:
        foreign.remove(force=True)
