"""Two Docker hosts on this one machine: the test daemon and a second dockerd of its own
(socket, data root, exec root, pidfile; no bridge, no iptables), each with a consumer bound
to it (VM_API_WORKER_HOST_NAME), behind one web process."""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.errors
import httpx
import pytest
from db_support import query
from docker_support import SecondDaemon, remove_labelled, start_second_daemon
from harness import (
    ServiceConfig,
    ServiceProcess,
    StartService,
    wait_for_gone,
    wait_for_status,
    wait_until,
)
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.slow

SETTINGS = {
    "VM_API_DEFAULT_PROVIDER": "docker",
    "VM_API_HOST_TIMEOUT": "3",  # a killed consumer's host counts as down after 3 s
    "VM_API_PROVISIONER_INTERVAL": "1",  # and the sweep says so on its workspaces within 1 s
    "VM_API_WORKERS": "2",
}


@pytest.fixture(scope="module")
def second_daemon() -> Iterator[SecondDaemon]:
    daemon = start_second_daemon()
    yield daemon
    daemon.stop()


@dataclass
class Cluster:
    config: ServiceConfig
    workers: dict[str, ServiceProcess]
    daemons: dict[str, docker.DockerClient]
    urls: dict[str, str]

    def start_worker(self, host: str) -> ServiceProcess:
        worker = ServiceProcess(self.config, "worker", name=f"worker-{host}")
        worker.start({"VM_API_WORKER_HOST_NAME": host, "DOCKER_HOST": self.urls[host]})
        worker.wait_consumer_ready()
        self.workers[host] = worker
        return worker

    def api(self, user: str = "alice") -> httpx.Client:
        return self.config.client(user)

    def live_hosts(self) -> set[str]:
        rows = query(self.config.settings(), "SELECT name, daemon_error FROM docker_hosts")
        return {name for name, error in rows if error is None}


@pytest.fixture
def cluster(
    start_service: StartService, second_daemon: SecondDaemon, docker_client: docker.DockerClient
) -> Iterator[Cluster]:
    web = start_service("web", **SETTINGS)
    first_url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    second = second_daemon.client()
    cluster = Cluster(
        web.config, {}, {"a": docker_client, "b": second}, {"a": first_url, "b": second_daemon.url}
    )
    try:
        for host in ("a", "b"):
            cluster.start_worker(host)
        wait_until(lambda: cluster.live_hosts() == {"a", "b"}, 30, what="both hosts reporting")
        yield cluster
    finally:
        for worker in cluster.workers.values():
            if worker.returncode is None:
                worker.stop()
        for client in cluster.daemons.values():
            remove_labelled(client, web.config.instance)
        second.close()


def create_running(cluster: Cluster, names: list[str]) -> dict[str, dict[str, object]]:
    with cluster.api() as api:
        ids = []
        for name in names:
            response = api.post("/api/v1/workspaces", json={"name": name, "template": "base"})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        found = {}
        for workspace_id in ids:
            body = wait_for_status(api, workspace_id, ("running", "failed"), 90)
            assert body["status"] == "running", body["error_message"]
            found[workspace_id] = body
    return found


def read_output(terminal: ClientConnection, text: str, timeout: float = 30) -> str:
    """Terminal output until `text` appears in it."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{text!r} not seen; output was {seen!r}"
        message = terminal.recv(timeout=remaining)
        if isinstance(message, bytes):
            seen += message
    return seen.decode(errors="replace")


def container_on(client: docker.DockerClient, workspace_id: str) -> bool:
    try:
        client.containers.get(f"vm-ws-{workspace_id}")
    except docker.errors.NotFound:
        return False
    return True


def test_workspaces_spread_over_two_hosts_and_each_acts_on_its_own(cluster: Cluster) -> None:
    workspaces = create_running(cluster, [f"w{i}" for i in range(6)])
    assert Counter(body["host"] for body in workspaces.values()) == {"a": 3, "b": 3}
    for workspace_id, body in workspaces.items():
        here, there = ("a", "b") if body["host"] == "a" else ("b", "a")
        assert container_on(cluster.daemons[here], workspace_id)
        assert not container_on(cluster.daemons[there], workspace_id)

    on_b = next(w for w, body in workspaces.items() if body["host"] == "b")
    container = cluster.daemons["b"].containers.get(f"vm-ws-{on_b}")
    with cluster.api() as api:
        # exec reaches the daemon of the workspace's host: the hostname is that container's
        ran = api.post(f"/api/v1/workspaces/{on_b}/exec", json={"command": ["hostname"]})
        assert ran.status_code == 200, ran.text
        assert ran.json()["stdout"].strip() == container.attrs["Config"]["Hostname"]
        assert api.get(f"/api/v1/workspaces/{on_b}/logs?tail=5").status_code == 200
        # files too: an upload lands in that container's volume
        put = api.put(f"/api/v1/workspaces/{on_b}/files?path=hello.txt", content=b"on b\n")
        assert put.status_code in (200, 201), put.text
        assert container.exec_run(["cat", "/workspace/hello.txt"]).output == b"on b\n"

        # and the terminal: its shell runs in that container
        url = cluster.config.url.replace("http://", "ws://")
        with connect(
            f"{url}/api/v1/workspaces/{on_b}/terminal",
            additional_headers={"x-user": "alice"},
            open_timeout=30,
        ) as terminal:
            terminal.send(b"cat /workspace/hello.txt; hostname\n")
            shown = read_output(terminal, container.attrs["Config"]["Hostname"])
            assert "on b" in shown

        stopped = api.post(f"/api/v1/workspaces/{on_b}/stop")
        assert stopped.status_code == 202, stopped.text
        operation = stopped.json()["operation_id"]
        assert wait_for_status(api, on_b, ("stopped", "failed"), 60)["status"] == "stopped"
        container.reload()
        assert container.status == "exited"
        # the stop ran on host b's consumer only
        assert f"operation {operation}" in cluster.workers["b"].log_text()
        assert f"operation {operation}" not in cluster.workers["a"].log_text()

        for workspace_id in workspaces:
            assert api.delete(f"/api/v1/workspaces/{workspace_id}").status_code == 202
        for workspace_id in workspaces:
            wait_for_gone(api, workspace_id, 60)
    for client in cluster.daemons.values():
        label = {"label": f"vm-api.service={cluster.config.instance}"}
        assert client.containers.list(all=True, filters=label) == []
        assert client.volumes.list(filters=label) == []


def test_a_dead_hosts_workspaces_say_why_and_new_ones_go_elsewhere(cluster: Cluster) -> None:
    workspaces = create_running(cluster, ["first", "second"])
    assert sorted(body["host"] for body in workspaces.values()) == ["a", "b"]
    on_b = next(w for w, body in workspaces.items() if body["host"] == "b")

    cluster.workers["b"].kill()  # SIGKILL: it says nothing; its reports stop
    with cluster.api() as api:

        def reason() -> str | None:
            body = api.get(f"/api/v1/workspaces/{on_b}").json()
            return body["host_unreachable"]  # type: ignore[no-any-return]

        why = wait_until(reason, 30, interval=0.2, what="host b's workspace to say why")
        assert why.startswith("host b is unreachable: its consumer has not reported since")
        refused = api.post(f"/api/v1/workspaces/{on_b}/exec", json={"command": ["true"]})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "HOST_UNREACHABLE"
        assert refused.json()["error"] == why

    later = create_running(cluster, ["third", "fourth", "fifth"])
    assert {body["host"] for body in later.values()} == {"a"}
    for workspace_id in later:
        assert container_on(cluster.daemons["a"], workspace_id)

    cluster.start_worker("b")  # back: the reason goes, its workspace is reachable again
    with cluster.api() as api:
        wait_until(lambda: reason() is None, 30, interval=0.2, what="the reason to clear")
        ran = api.post(f"/api/v1/workspaces/{on_b}/exec", json={"command": ["true"]})
        assert ran.status_code == 200, ran.text
        assert api.delete(f"/api/v1/workspaces/{on_b}").status_code == 202
        wait_for_gone(api, on_b, 60)
    assert not container_on(cluster.daemons["b"], on_b)


def test_a_consumer_that_stops_cleanly_takes_its_host_out_of_placement_at_once(
    cluster: Cluster,
) -> None:
    assert cluster.workers["b"].stop() == 0
    rows = query(cluster.config.settings(), "SELECT daemon_error FROM docker_hosts WHERE name='b'")
    assert rows and str(rows[0][0]).startswith("its consumer stopped at")
    with contextlib.closing(cluster.api()) as api:
        made = api.post("/api/v1/workspaces", json={"name": "only-a", "template": "base"})
    assert made.status_code == 201 and made.json()["host"] == "a"


def test_a_consumer_given_a_host_name_adopts_the_workspaces_made_before_hosts(
    start_service: StartService, docker_client: docker.DockerClient
) -> None:
    """From one host to many: the one daemon's consumer is restarted with a host name. The
    workspaces it made (host null) with a container there become that host's, and an action
    asked while no consumer ran is done by the named one; a host-less workspace with nothing
    on that daemon is left alone."""
    web = start_service("web", **SETTINGS)
    unnamed = start_service("worker", config=web.config)
    unnamed.wait_consumer_ready()
    named = ServiceProcess(web.config, "worker", name="worker-a")
    try:
        with web.config.client("alice") as api:
            ids = {}
            for name in ("kept", "elsewhere"):
                made = api.post("/api/v1/workspaces", json={"name": name, "template": "base"})
                assert made.status_code == 201, made.text
                assert made.json()["host"] is None  # no host was ever named
                ids[name] = made.json()["id"]
            for workspace_id in ids.values():
                body = wait_for_status(api, workspace_id, ("running", "failed"), 90)
                assert body["status"] == "running", body["error_message"]
            assert unnamed.stop() == 0

            # as if "elsewhere" lived on another daemon: nothing of it on this one
            docker_client.containers.get(f"vm-ws-{ids['elsewhere']}").remove(force=True)
            docker_client.volumes.get(f"vm-ws-{ids['elsewhere']}").remove()
            # asked while no consumer runs: its task waits on the shared queue
            restart = api.post(f"/api/v1/workspaces/{ids['kept']}/restart")
            assert restart.status_code == 202, restart.text
            operation = restart.json()["operation_id"]

            first_url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
            named.start({"VM_API_WORKER_HOST_NAME": "a", "DOCKER_HOST": first_url})
            named.wait_consumer_ready()

            def finished() -> dict[str, object] | None:
                body = api.get(f"/api/v1/operations/{operation}").json()
                return body if body["status"] in ("success", "failed") else None

            done = wait_until(finished, 60, interval=0.2, what="the restart to finish")
            assert done["status"] == "success", done
            assert f"operation {operation}" in named.log_text()
            kept = api.get(f"/api/v1/workspaces/{ids['kept']}").json()
            assert (kept["host"], kept["status"]) == ("a", "running")
            elsewhere = api.get(f"/api/v1/workspaces/{ids['elsewhere']}").json()
            assert elsewhere["host"] is None
            assert "adopted 1 workspaces" in named.log_text()

            # its later actions reach host a's queue too
            assert api.delete(f"/api/v1/workspaces/{ids['kept']}").status_code == 202
            wait_for_gone(api, ids["kept"], 60)
        assert not container_on(docker_client, ids["kept"])
    finally:
        if named.returncode is None and named.process is not None:
            named.stop()
        remove_labelled(docker_client, web.config.instance)
