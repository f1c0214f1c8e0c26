"""kill_exec ends what an exec started, which closing the exec's socket does not."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker

from tasks.providers.base import WorkspaceSpec
from tasks.providers.docker import DockerProvider
from tasks.providers.docker_processes import kill_exec


def _commands(client: docker.DockerClient, container_id: str) -> list[str]:
    return [row[-1] for row in client.api.top(container_id)["Processes"]]


def test_kill_exec_ends_a_running_exec_and_its_children(
    provider: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., WorkspaceSpec],
) -> None:
    container_id = provider.create(make_spec()).provider_id
    exec_id = docker_client.api.exec_create(container_id, ["sh", "-c", "sleep 301 & sleep 302"])[
        "Id"
    ]
    sock = docker_client.api.exec_start(exec_id, socket=True)
    deadline = time.monotonic() + 10
    while not any("sleep 302" in c for c in _commands(docker_client, container_id)):
        assert time.monotonic() < deadline, "the exec never started"
        time.sleep(0.05)

    sock._sock.close()  # the raw socket under docker's SocketIO wrapper
    sock.close()
    assert any("sleep 302" in c for c in _commands(docker_client, container_id))
    assert kill_exec(docker_client, container_id, exec_id)

    left = _commands(docker_client, container_id)
    assert not any("sleep 30" in c for c in left), left
    assert not docker_client.api.exec_inspect(exec_id)["Running"]


def test_kill_exec_of_a_finished_exec_is_success(
    provider: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: Callable[..., WorkspaceSpec],
) -> None:
    container_id = provider.create(make_spec()).provider_id
    exec_id = docker_client.api.exec_create(container_id, ["true"])["Id"]
    docker_client.api.exec_start(exec_id)

    assert kill_exec(docker_client, container_id, exec_id)
