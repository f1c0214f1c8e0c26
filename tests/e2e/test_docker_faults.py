"""Docker faults: a worker killed mid-provisioning, and the daemon stopped mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest
from db_support import Target, query
from docker_support import docker_available, remove_labelled
from harness import StartService, command_line, wait_until

pytestmark = pytest.mark.slow

LABEL_WORKSPACE = "vm-api.workspace-id"
RECOVERY = {
    "VM_API_DEFAULT_PROVIDER": "docker",
    "VM_API_HEARTBEAT_TIMEOUT": "3",
    "VM_API_PROVISIONER_INTERVAL": "1",
    "VM_API_REQUEUE_AFTER": "2",
}


def rows(db: Target, sql: str) -> list[tuple]:
    return query(db, sql)


def settled(db: Target) -> bool:
    return (
        rows(db, "SELECT count(*) FROM operations WHERE status IN ('pending', 'running')")[0][0]
        == 0
    )


def test_kill_9_of_the_worker_leaves_exactly_one_container_per_workspace(
    start_service: StartService, docker_client: docker.DockerClient
) -> None:
    web = start_service("web", **RECOVERY)
    worker = start_service("worker", config=web.config)
    db = web.config.settings()
    with web.config.client() as api:
        ids = [
            api.post("/api/v1/workspaces", json={"name": f"d{i}"}).json()["id"] for i in range(10)
        ]
    try:
        wait_until(
            lambda: rows(db, "SELECT count(*) FROM operations WHERE status = 'running'")[0][0] > 0,
            30,
            interval=0.005,
            what="a create in flight",
        )
        worker.kill()
        start_service("worker", config=web.config)
        wait_until(lambda: settled(db), 90, interval=0.2, what="every create settled")
        assert dict(rows(db, "SELECT id, status FROM workspaces")) == {i: "running" for i in ids}
        for workspace_id in ids:
            containers = docker_client.containers.list(
                all=True, filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"}
            )
            assert len(containers) == 1, workspace_id
            assert containers[0].status == "running"
    finally:
        remove_labelled(docker_client, web.config.instance)  # containers and volumes


def _dockerd_command() -> tuple[int, list[str]]:
    for entry in Path("/proc").iterdir():
        command = command_line(int(entry.name)) if entry.name.isdigit() else []
        if command and Path(command[0]).name == "dockerd":
            return int(entry.name), command
    raise LookupError("no dockerd process")


def _stop_dockerd() -> list[str]:
    """Stops the daemon as its service manager would; returns its command line."""
    pid, command = _dockerd_command()
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 60, what="dockerd to stop")
    return command


def _start_dockerd(command: list[str], log_path: Path) -> None:
    with open(log_path, "ab") as log:
        # setsid -f: the daemon outlives this test and is not our child to reap. Without the
        # terminal's COLUMNS/LINES: the daemon's `docker top` would cut command lines to them.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        subprocess.run(["setsid", "-f", *command], stdout=log, stderr=log, check=True, env=env)
    wait_until(docker_available, 60, interval=0.5, what="dockerd to answer again")


def test_work_resumes_after_the_docker_daemon_comes_back(
    start_service: StartService, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """The daemon is stopped, a create is accepted, the daemon returns: the workspace runs.
    The daemon restarts once more: the running workspace's container runs again."""
    service = start_service(**RECOVERY)
    command = _stop_dockerd()
    ids: list[str] = []
    try:
        with service.config.client() as api:
            created = api.post("/api/v1/workspaces", json={"name": "patient"})
            assert created.status_code == 201
            ids.append(created.json()["id"])
            # The provider's own retries (about 3.5 s) run out meanwhile: the first attempt fails.
            time.sleep(6)
            assert api.get(f"/api/v1/workspaces/{ids[0]}").json()["status"] == "creating"
    finally:
        _start_dockerd(command, tmp_path / "dockerd.log")
    try:
        db = service.config.settings()
        wait_until(lambda: settled(db), 90, interval=0.5, what="the create to finish")
        assert rows(db, "SELECT status FROM workspaces") == [("running",)]
        attempts = rows(db, "SELECT attempts FROM operations WHERE operation_type = 'create'")
        assert attempts[0][0] >= 2  # it did fail first, and was retried
        assert "retrying in" in service.log_text()

        # Stopping the daemon stops its containers; the restart policy brings ours back.
        _start_dockerd(_stop_dockerd(), tmp_path / "dockerd.log")
        client = docker.from_env(timeout=30)
        try:
            container = client.containers.get(f"vm-ws-{ids[0]}")

            def running_again() -> bool:
                container.reload()
                return container.status == "running"

            wait_until(running_again, 30, interval=0.5, what="the container to run again")
            assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        finally:
            client.close()
    finally:
        cleaner = docker.from_env(timeout=30)
        remove_labelled(cleaner, service.config.instance)
        cleaner.close()
