"""Exec, logs (followed) and files through the real `vm-api` (Hypercorn + consumer) on the real
Docker daemon."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from docker_support import remove_labelled
from harness import RunningService, wait_for_status, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.docker]

MIB = 1024 * 1024


@pytest.fixture
def docker_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    running = service_factory(VM_API_DEFAULT_PROVIDER="docker", VM_API_MAX_UPLOAD_MB="3")
    yield running
    remove_labelled(docker_client, running.config.instance)


def sockets_of(pid: int) -> int:
    folder = Path(f"/proc/{pid}/fd")
    count = 0
    for entry in folder.iterdir():
        try:
            count += os.readlink(entry).startswith("socket:")
        except OSError:
            continue
    return count


def test_exec_logs_and_files_through_the_real_server(
    docker_service: RunningService, docker_client: docker.DockerClient
) -> None:
    api = docker_service.client
    created = api.post("/api/v1/workspaces", json={"name": "dev", "template": "base"})
    assert created.status_code == 201, created.text
    ws_id = created.json()["id"]
    assert wait_for_status(api, ws_id, ("running", "failed"), 60)["status"] == "running"
    container = docker_client.containers.get(f"vm-ws-{ws_id}")
    container.exec_run(["mkdir", "-p", "/workspace"])  # no volume in this branch yet

    # exec
    result = api.post(f"/api/v1/workspaces/{ws_id}/exec", json={"command": "echo hi; exit 5"})
    assert result.status_code == 200, result.text
    assert (result.json()["stdout"], result.json()["exit_code"]) == ("hi\n", 5)

    # an upload past Quart's default body limits, and one past ours
    data = os.urandom(2 * MIB + 7)
    put = api.put(f"/api/v1/workspaces/{ws_id}/files", params={"path": "a/b.bin"}, content=data)
    assert put.status_code == 200, put.text
    got = api.get(f"/api/v1/workspaces/{ws_id}/files", params={"path": "a/b.bin"})
    assert (got.status_code, got.content) == (200, data)
    too_big = api.put(
        f"/api/v1/workspaces/{ws_id}/files", params={"path": "c"}, content=b"x" * (3 * MIB + 1)
    )
    assert (too_big.status_code, too_big.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")

    # logs, followed: a line written after the request started arrives, and leaving ends it
    container.exec_run(["sh", "-c", "echo before > /proc/1/fd/1"])
    web = docker_service.process.child("web")
    assert api.get(f"/api/v1/workspaces/{ws_id}/logs").text == "before\n"
    idle_sockets = sockets_of(web)
    received: list[str] = []
    with (
        httpx.Client(base_url=docker_service.config.url, headers={"x-user": "alice"}) as follower,
        follower.stream(
            "GET", f"/api/v1/workspaces/{ws_id}/logs", params={"tail": "1", "follow": "true"}
        ) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        received.append(next(lines))
        writer = threading.Timer(
            0.5, lambda: container.exec_run(["sh", "-c", "echo after > /proc/1/fd/1"])
        )
        writer.start()
        began = time.monotonic()
        received.append(next(lines))
        assert time.monotonic() - began < 10
        writer.join()
        assert sockets_of(web) > idle_sockets
    assert received == ["before", "after"]
    wait_until(lambda: sockets_of(web) <= idle_sockets, 10, what="the follow's sockets closed")

    # who ran what
    ops = api.get("/api/v1/operations", params={"workspace_id": ws_id}).json()
    kinds = [(o["operation_type"], o["requested_by"], o["status"]) for o in ops]
    assert kinds[:3] == [
        ("file_download", "alice", "success"),
        ("file_upload", "alice", "success"),
        ("exec", "alice", "failed"),
    ]


def _download_and_hang_up(port: int, path: str) -> int:
    """GET a file over a raw socket, read exactly its Content-Length, and close at once: what
    curl and most clients do. Returns the bytes read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-user: alice\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(65536)
        head, body = received.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])  # type: ignore[index]
        while len(body) < length:
            body += conn.recv(65536)
    return len(body)


@pytest.fixture
def swept_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    """A sweep every second that fails access records whose heartbeat is 3 s old."""
    running = service_factory(
        VM_API_DEFAULT_PROVIDER="docker",
        VM_API_HEARTBEAT_TIMEOUT="3",
        VM_API_PROVISIONER_INTERVAL="1",
    )
    yield running
    remove_labelled(docker_client, running.config.instance)


def test_downloads_are_recorded_as_they_ended(swept_service: RunningService) -> None:
    running = swept_service
    api = running.client
    created = api.post("/api/v1/workspaces", json={"name": "dl", "template": "base"})
    ws_id = created.json()["id"]
    assert wait_for_status(api, ws_id, ("running", "failed"), 60)["status"] == "running"
    made = api.post(
        f"/api/v1/workspaces/{ws_id}/exec",
        json={"command": "head -c 1000 /dev/urandom > small; head -c 41943040 /dev/zero > big"},
    )
    assert made.json()["exit_code"] == 0, made.text
    files = f"/api/v1/workspaces/{ws_id}/files"

    # The client has every byte and hangs up: done, not "the client went away".
    for _ in range(5):
        assert _download_and_hang_up(running.config.port, f"{files}?path=small") == 1000

    # A slow reader: the download outlives the heartbeat timeout several times over.
    with (
        httpx.Client(base_url=running.config.url, headers={"x-user": "alice"}) as slow,
        slow.stream("GET", files, params={"path": "big"}) as stream,
    ):
        chunks = stream.iter_raw(65536)
        size = len(next(chunks))
        time.sleep(8)
        during = [o for o in downloads(api, ws_id) if o["detail"]["path"] == "big"]
        size += sum(len(chunk) for chunk in chunks)
    assert size == 40 * MIB
    assert [o["status"] for o in during] == ["running"]

    wait_until(
        lambda: all(o["status"] != "running" for o in downloads(api, ws_id)),
        10,
        what="every download recorded",
    )
    ended = [
        (o["detail"]["path"], o["status"], o["detail"]["size_bytes"]) for o in downloads(api, ws_id)
    ]
    assert ended == [("big", "success", 40 * MIB)] + [("small", "success", 1000)] * 5


def downloads(api: httpx.Client, ws_id: str) -> list[dict[str, Any]]:
    ops = api.get("/api/v1/operations", params={"workspace_id": ws_id, "limit": 50}).json()
    return [o for o in ops if o["operation_type"] == "file_download"]
