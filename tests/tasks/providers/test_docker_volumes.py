"""DockerProvider's workspace volumes, clone, snapshots of the volume and progress, against the
real daemon (no mocks); see tests/docker_support.py for skipping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker_support import TEST_IMAGE
from repo_support import HistoryRepo, make_history_repo

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.docker import DockerProvider, container_name

pytestmark = pytest.mark.docker

MakeSpec = Callable[..., WorkspaceSpec]


@pytest.fixture
def cloning(provider: DockerProvider, service_label: str) -> Iterator[DockerProvider]:
    """The test's provider, allowed to clone file:// repositories."""
    cloner = DockerProvider(
        service_label=service_label, timeout=30, attempts=2, backoff=0.1, allow_file_repos=True
    )
    yield cloner
    cloner.close()


@pytest.fixture
def repo(tmp_path: Path) -> HistoryRepo:
    return make_history_repo(tmp_path / "origin")


def _container(client: docker.DockerClient, spec: WorkspaceSpec) -> Container:
    return client.containers.get(container_name(spec.id))


def _sh(client: docker.DockerClient, spec: WorkspaceSpec, script: str) -> str:
    result = _container(client, spec).exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def _volumes(client: docker.DockerClient, workspace_id: str) -> list[str]:
    filters = {"label": f"vm-api.workspace-id={workspace_id}"}
    return sorted(volume.name for volume in client.volumes.list(filters=filters))


def test_create_clones_the_repository_into_a_labelled_volume(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    service_label: str,
) -> None:
    spec = make_spec(repo_url=repo.url)
    lines: list[str] = []

    result = cloning.create(spec, lines.append)

    assert _sh(docker_client, spec, "cat /workspace/README") == "v2\n"
    assert _sh(docker_client, spec, "pwd") == "/workspace\n"  # exec begins in the workdir
    # the repository's history came along, owned by root inside the image
    assert _sh(docker_client, spec, "ls -d /workspace/.git && stat -c %u /workspace/README") == (
        "/workspace/.git\n0\n"
    )
    volume = docker_client.volumes.get(f"vm-ws-{spec.id}")
    assert volume.attrs["Labels"] == {
        "vm-api.workspace-id": spec.id,
        "vm-api.owner": "alice",
        "vm-api.service": service_label,
        "vm-api.template": "base",
    }
    mounts = _container(docker_client, spec).attrs["Mounts"]
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [
        ("volume", f"vm-ws-{spec.id}", "/workspace")
    ]
    assert result.connection_info["workdir"] == "/workspace"
    assert lines[0] == "cloning 0 %"
    assert lines[-3:] == ["cloning 100 %", "copying files", "starting container"]


def test_repo_ref_and_a_workdir_of_the_template(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
) -> None:
    spec = make_spec(repo_url=repo.url, repo_ref="feature", workdir="/home/dev/code")

    cloning.create(spec)

    assert _sh(docker_client, spec, "cat README feature.txt") == "v1\nfeature\n"
    assert _sh(docker_client, spec, "pwd") == "/home/dev/code\n"


def test_files_in_the_volume_survive_stop_start_restart_and_rebuild(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
) -> None:
    spec = make_spec(repo_url=repo.url)
    first = cloning.create(spec)
    _sh(docker_client, spec, "echo mine > /workspace/notes.txt && echo edited > README")

    cloning.stop(spec.id)
    cloning.start(spec.id)
    cloning.restart(spec.id)
    assert _sh(docker_client, spec, "cat notes.txt README") == "mine\nedited\n"

    lines: list[str] = []
    rebuilt = cloning.rebuild(spec, lines.append)

    assert rebuilt.provider_id != first.provider_id
    # the same volume, and no second clone over the person's edit
    assert _sh(docker_client, spec, "cat notes.txt README") == "mine\nedited\n"
    assert not any(line.startswith("cloning") for line in lines)
    assert _volumes(docker_client, spec.id) == [f"vm-ws-{spec.id}"]


def test_restore_brings_back_the_snapshots_volume(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    _sh(docker_client, spec, "echo first > /workspace/notes.txt && head -c 100000 /dev/zero > big")

    size = provider.snapshot(spec.id, "s1")
    assert provider.snapshot(spec.id, "s1") == size  # a re-run finds it taken
    image_size = docker_client.images.get(f"vm-api-snapshot/{spec.id}:s1").attrs["Size"]
    assert size > image_size + 100_000  # the volume's data counts
    assert _container(docker_client, spec).status == "running"  # unpaused after the copy

    _sh(docker_client, spec, "echo second > notes.txt && rm big && touch later")
    lines: list[str] = []
    provider.restore(spec, "s1", lines.append)

    assert _sh(docker_client, spec, "cat notes.txt && ls") == "first\nbig\nnotes.txt\n"
    assert lines == ["copying files", "starting container"]
    assert _volumes(docker_client, spec.id) == sorted(
        [f"vm-ws-{spec.id}", f"vm-ws-{spec.id}-snap-s1"]
    )
    # no helper container is left behind
    named = docker_client.containers.list(all=True, filters={"name": f"vm-ws-{spec.id}"})
    assert [container.name for container in named] == [f"vm-ws-{spec.id}"]


def test_a_snapshot_of_a_stopped_workspace_has_its_files(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    _sh(docker_client, spec, "echo kept > /workspace/a")
    provider.stop(spec.id)

    provider.snapshot(spec.id, "s1")
    provider.start(spec.id)
    _sh(docker_client, spec, "rm /workspace/a")
    provider.restore(spec, "s1")

    assert _sh(docker_client, spec, "cat /workspace/a") == "kept\n"


def test_deleting_a_snapshot_removes_its_volume_and_destroy_removes_every_volume(
    provider: DockerProvider, docker_client: docker.DockerClient, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    provider.create(spec)
    provider.snapshot(spec.id, "s1")
    provider.snapshot(spec.id, "s2")

    provider.delete_snapshot(spec.id, "s1")
    provider.delete_snapshot(spec.id, "s1")
    assert _volumes(docker_client, spec.id) == sorted(
        [f"vm-ws-{spec.id}", f"vm-ws-{spec.id}-snap-s2"]
    )

    provider.destroy(spec.id)

    assert _volumes(docker_client, spec.id) == []
    provider.destroy(spec.id)


def test_a_failed_clone_fails_with_gits_last_line_and_leaves_nothing(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    tmp_path: Path,
) -> None:
    spec = make_spec(repo_url=f"file://{tmp_path}/absent")

    with pytest.raises(ProviderError) as caught:
        cloning.create(spec)

    assert str(caught.value) == "git clone failed: fatal: Could not read from remote repository."
    assert not caught.value.transient
    assert not cloning.is_present(spec.id)
    assert _volumes(docker_client, spec.id) == []


def test_a_create_interrupted_before_its_first_start_is_made_again(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    service_label: str,
) -> None:
    spec = make_spec(repo_url=repo.url)
    # What a worker killed half-way through the copy leaves: a created container on a volume
    # holding part of the files.
    labels = {"vm-api.service": service_label, "vm-api.workspace-id": spec.id}
    docker_client.volumes.create(f"vm-ws-{spec.id}", labels=labels)
    half = docker_client.containers.create(
        TEST_IMAGE,
        ["sleep", "1000"],
        name=f"vm-ws-{spec.id}",
        network_mode="none",
        labels=labels,
        volumes={f"vm-ws-{spec.id}": {"bind": "/workspace", "mode": "rw"}},
    )
    docker_client.api.put_archive(half.id, "/", _tar_of("workspace/partial", b"x"))

    result = cloning.create(spec)

    assert result.provider_id != half.id
    assert _sh(docker_client, spec, "ls /workspace") == "README\n"


def test_orphan_volumes_are_found_for_drift_repair(
    provider: DockerProvider, docker_client: docker.DockerClient, service_label: str
) -> None:
    orphan = "0f7a2c1e-0000-4000-8000-000000000001"
    labels = {"vm-api.service": service_label, "vm-api.workspace-id": orphan}
    docker_client.volumes.create(f"vm-ws-{orphan}", labels=labels)
    docker_client.volumes.create(f"vm-ws-{orphan}-snap-x", labels=labels)

    assert orphan in provider.snapshot_workspace_ids()
    assert orphan not in provider.owned_workspace_ids()
    provider.destroy(orphan)
    assert _volumes(docker_client, orphan) == []
    assert orphan not in provider.snapshot_workspace_ids()


def _tar_of(name: str, data: bytes) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_copy_cut_by_a_transient_failure_is_made_again_not_adopted(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    import tasks.providers.docker as docker_provider

    real_put_stream = docker_provider.put_stream
    calls: list[str] = []

    def cut_once(client: docker.DockerClient, container: str, *args: object) -> int:
        calls.append(container)
        if len(calls) == 1:  # the daemon went away after the .git copy, before the files
            raise requests.exceptions.ConnectionError("connection reset")
        return real_put_stream(client, container, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(docker_provider, "put_stream", cut_once)
    spec = make_spec(repo_url=repo.url)

    result = cloning.create(spec)

    assert len(calls) == 2 and calls[0] != calls[1]  # a second, fresh container
    assert result.provider_id == calls[1]
    assert _sh(docker_client, spec, "cat README") == "v2\n"
