"""DockerProvider against the real daemon (no mocks); see tests/docker_support.py for skipping."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import pytest

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.docker import DockerProvider, container_name

pytestmark = pytest.mark.docker

MakeSpec = Callable[..., WorkspaceSpec]


def _container(
    client: docker.DockerClient, spec: WorkspaceSpec
) -> docker.models.containers.Container:
    return client.containers.get(container_name(spec.id))


def _sh(container: docker.models.containers.Container, script: str) -> str:
    result = container.exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def _snapshot_tags(client: docker.DockerClient, workspace_id: str) -> list[str]:
    return [
        tag
        for image in client.images.list(name=f"vm-api-snapshot/{workspace_id}")
        for tag in image.tags
    ]


def test_create_makes_one_labelled_container_without_network(
    provider: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    service_label: str,
) -> None:
    spec = make_spec()
    result = provider.create(spec)

    container = _container(docker_client, spec)
    assert container.status == "running"
    assert result.provider_id == container.id
    assert result.connection_info == {
        "container_id": container.id,
        "container_name": f"vm-ws-{spec.id}",
        "shell": f"docker exec -it vm-ws-{spec.id} sh",
        "ssh_command": f"vm-api ws shell {spec.id}",
        "image": spec.image,
        "workdir": "/workspace",
    }
    assert container.labels["vm-api.workspace-id"] == spec.id
    assert container.labels["vm-api.owner"] == "alice"
    assert container.labels["vm-api.service"] == service_label
    host_config = container.attrs["HostConfig"]
    assert host_config["NetworkMode"] == "none"
    assert host_config["NanoCpus"] == 500_000_000
    assert host_config["Memory"] == 64 * 1024 * 1024
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert container.attrs["Config"]["Cmd"] == list(spec.command)
    assert container.attrs["Config"]["Hostname"] == "my-workspace"  # the name, made a hostname


def test_create_twice_adopts_the_existing_container(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    first = provider.create(spec)
    _container(docker_client, spec).stop(timeout=1)

    second = provider.create(spec)  # e.g. the task re-run after a crash

    assert second.provider_id == first.provider_id
    assert _container(docker_client, spec).status == "running"
    named = docker_client.containers.list(all=True, filters={"name": f"vm-ws-{spec.id}"})
    assert len(named) == 1


def test_stop_start_restart(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    started_at = _container(docker_client, spec).attrs["State"]["StartedAt"]

    began = time.monotonic()
    provider.stop(spec.id)
    assert time.monotonic() - began < 5  # init=True: SIGTERM stops it, no kill timeout
    assert _container(docker_client, spec).status == "exited"
    provider.stop(spec.id)  # already stopped is success

    provider.start(spec.id)
    assert _container(docker_client, spec).status == "running"
    provider.start(spec.id)  # already running is success

    provider.restart(spec.id)
    container = _container(docker_client, spec)
    assert container.status == "running"
    assert container.attrs["State"]["StartedAt"] != started_at


def test_a_workspace_whose_command_dies_comes_back_unless_stopped(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    """The restart policy: what brings running workspaces back after a daemon restart too."""
    spec = make_spec()
    provider.create(spec)
    container = _container(docker_client, spec)
    # SIGTERM to PID 1 (docker-init), which passes it on: the command ends, as in a crash.
    container.exec_run(["kill", "1"])

    def restarted() -> bool:
        container.reload()
        return container.attrs["RestartCount"] >= 1 and container.status == "running"

    deadline = time.monotonic() + 30
    while not restarted():
        assert time.monotonic() < deadline, container.attrs["State"]
        time.sleep(0.2)

    provider.stop(spec.id)
    time.sleep(2)  # Docker's first restart comes after 0.1 s: it would have happened by now
    container.reload()
    assert container.status == "exited"


def test_snapshot_then_restore_brings_the_files_back(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    _sh(_container(docker_client, spec), "mkdir -p /work && echo precious > /work/notes.txt")

    size = provider.snapshot(spec.id, "snap1")
    assert size > 0
    assert provider.snapshot(spec.id, "snap1") == size  # re-run: the image is already there
    assert _snapshot_tags(docker_client, spec.id) == [f"vm-api-snapshot/{spec.id}:snap1"]
    image = docker_client.images.get(f"vm-api-snapshot/{spec.id}:snap1")
    assert image.labels["vm-api.workspace-id"] == spec.id
    assert image.labels["vm-api.snapshot-id"] == "snap1"

    _sh(_container(docker_client, spec), "rm /work/notes.txt")
    result = provider.restore(spec, "snap1")

    container = _container(docker_client, spec)
    assert container.status == "running"
    assert result.provider_id == container.id
    assert _sh(container, "cat /work/notes.txt") == "precious\n"
    assert container.labels["vm-api.workspace-id"] == spec.id
    assert container.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"


def test_restore_of_a_missing_snapshot_leaves_the_workspace_alone(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    created = provider.create(spec)

    expected = f"snapshot nope of workspace {spec.id} no longer exists"
    with pytest.raises(ProviderError, match=expected):
        provider.restore(spec, "nope")
    assert _container(docker_client, spec).id == created.provider_id


def test_delete_snapshot_is_idempotent(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    provider.snapshot(spec.id, "s1")

    provider.delete_snapshot(spec.id, "s1")
    provider.delete_snapshot(spec.id, "s1")

    assert _snapshot_tags(docker_client, spec.id) == []


def test_rebuild_makes_a_fresh_container_from_the_template(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    old = provider.create(spec)
    _sh(_container(docker_client, spec), "mkdir -p /work && touch /work/junk")

    new = provider.rebuild(spec)

    container = _container(docker_client, spec)
    assert new.provider_id == container.id != old.provider_id
    assert container.name == f"vm-ws-{spec.id}"
    assert container.status == "running"
    assert container.attrs["Config"]["Image"] == spec.image
    assert container.labels["vm-api.workspace-id"] == spec.id
    assert container.exec_run(["ls", "/work/junk"]).exit_code != 0


def test_destroy_removes_the_container_and_every_snapshot(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    provider.snapshot(spec.id, "a")
    provider.restore(spec, "a")
    provider.snapshot(spec.id, "b")  # a child of image a
    provider.delete_snapshot(spec.id, "a")  # in use by the container: only untagged

    provider.destroy(spec.id)

    with pytest.raises(docker.errors.NotFound):
        _container(docker_client, spec)
    leftovers = docker_client.images.list(
        all=True, filters={"label": f"vm-api.workspace-id={spec.id}"}
    )
    assert leftovers == []
    provider.destroy(spec.id)  # nothing left is success


def test_owned_workspace_ids_and_is_present(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    running, stopped = make_spec(), make_spec()
    provider.create(running)
    provider.create(stopped)
    provider.stop(stopped.id)

    assert provider.owned_workspace_ids() == {running.id, stopped.id}
    assert provider.is_present(running.id)
    assert provider.is_present(stopped.id)
    assert not provider.is_present("never-created")
    other = DockerProvider(service_label="someone-else")
    try:
        assert running.id not in other.owned_workspace_ids()
    finally:
        other.close()


def test_a_container_removed_behind_our_back(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    _container(docker_client, spec).remove(force=True)

    assert not provider.is_present(spec.id)
    assert spec.id not in provider.owned_workspace_ids()
    for action in (provider.stop, provider.start, provider.restart):
        with pytest.raises(ProviderError, match=f"container vm-ws-{spec.id} no longer exists"):
            action(spec.id)
    with pytest.raises(ProviderError, match="no longer exists"):
        provider.snapshot(spec.id, "s1")
    provider.destroy(spec.id)


def test_an_image_that_cannot_be_pulled(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec(image="vm-api/does-not-exist:1.0")

    with pytest.raises(ProviderError, match=re.escape("vm-api/does-not-exist:1.0")) as caught:
        provider.create(spec)

    assert not caught.value.transient
    assert "could not be pulled" in str(caught.value)
    assert not provider.is_present(spec.id)


def test_an_unreachable_daemon_fails_fast_and_transient(make_spec: MakeSpec) -> None:
    provider = DockerProvider("unix:///nonexistent.sock", timeout=2, attempts=2, backoff=0.1)
    began = time.monotonic()

    with pytest.raises(ProviderError) as caught:
        provider.create(make_spec())

    assert time.monotonic() - began < 5
    assert "Docker daemon not reachable at unix:///nonexistent.sock" in str(caught.value)
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, Exception)
    for call in (provider.is_present, provider.stop, provider.destroy):
        with pytest.raises(ProviderError, match="not reachable"):
            call("x")
    provider.close()


def test_a_daemon_that_never_answers_times_out(make_spec: MakeSpec, tmp_path: Path) -> None:
    # A socket that accepts connections (into its backlog) but never replies: a hung daemon.
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(16)
        provider = DockerProvider(f"unix://{path}", timeout=1, attempts=2, backoff=0.1)
        began = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            provider.is_present("x")
        assert time.monotonic() - began < 5
        assert str(caught.value) == f"Docker daemon not reachable at unix://{path}: timed out"
        assert caught.value.transient
        provider.close()


def test_create_losing_the_name_race_adopts_the_winner(
    provider: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    service_label: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = make_spec()
    winner = docker_client.containers.create(
        spec.image,
        list(spec.command),
        name=f"vm-ws-{spec.id}",
        network_mode="none",
        labels={"vm-api.service": service_label},  # for the fixture's clean-up
    )
    # Another attempt creates the container between our lookup and our create: a 409.
    real_get = provider._get
    lookups: list[str] = []

    def get_missing_once(client: docker.DockerClient, workspace_id: str) -> object:
        lookups.append(workspace_id)
        return None if len(lookups) == 1 else real_get(client, workspace_id)

    monkeypatch.setattr(provider, "_get", get_missing_once)

    result = provider.create(spec)

    assert result.provider_id == winner.id
    assert _container(docker_client, spec).status == "running"


def test_concurrent_creates_of_one_workspace_make_one_container(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    with ThreadPoolExecutor(max_workers=3) as pool:  # one client per thread
        results = list(pool.map(lambda _: provider.create(spec), range(3)))

    assert len({result.provider_id for result in results}) == 1
    named = docker_client.containers.list(all=True, filters={"name": f"vm-ws-{spec.id}"})
    assert [container.id for container in named] == [results[0].provider_id]
    assert named[0].status == "running"
