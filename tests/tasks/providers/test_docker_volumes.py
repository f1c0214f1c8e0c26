"""DockerProvider's workspace volumes, clone, snapshots of the volume and progress, against the
real daemon (no mocks); see tests/docker_support.py for skipping."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker_support import TEST_IMAGE
from repo_support import HistoryRepo, make_history_repo

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.docker import DockerProvider, container_name
from tasks.providers.docker_volumes import folder_entries, put_stream, writable_folder

pytestmark = pytest.mark.docker

MakeSpec = Callable[..., WorkspaceSpec]


def _cloner(service_label: str, in_place: bool) -> DockerProvider:
    return DockerProvider(
        service_label=service_label,
        timeout=30,
        attempts=2,
        backoff=0.1,
        allow_file_repos=True,
        clone_in_place=in_place,
    )


@pytest.fixture
def cloning(provider: DockerProvider, service_label: str) -> Iterator[DockerProvider]:
    """The test's provider, allowed to clone file:// repositories. As root with the daemon
    here (this suite), git writes straight into the volume's folder."""
    cloner = _cloner(service_label, in_place=True)
    yield cloner
    cloner.close()


@pytest.fixture
def via_daemon(provider: DockerProvider, service_label: str) -> Iterator[DockerProvider]:
    """The same, with the files going into the volume through the daemon (put_archive), as
    for a remote or rootless daemon."""
    cloner = _cloner(service_label, in_place=False)
    yield cloner
    cloner.close()


@pytest.fixture(params=["in place", "via the daemon"])
def either_way(
    request: pytest.FixtureRequest, cloning: DockerProvider, via_daemon: DockerProvider
) -> DockerProvider:
    return cloning if request.param == "in place" else via_daemon


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
    either_way: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    service_label: str,
) -> None:
    spec = make_spec(repo_url=repo.url)
    lines: list[str] = []

    result = either_way.create(spec, lines.append)

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
    if either_way.clone_in_place:  # git wrote the files itself: nothing to copy
        assert lines[-2:] == ["cloning 100 %", "starting container"]
        assert "copying files" not in lines
    else:
        assert lines[-3:] == ["cloning 100 %", "copying files", "starting container"]


def test_repo_ref_and_a_workdir_of_the_template(
    either_way: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
) -> None:
    spec = make_spec(repo_url=repo.url, repo_ref="feature", workdir="/home/dev/code")

    either_way.create(spec)

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
    either_way: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    tmp_path: Path,
) -> None:
    spec = make_spec(repo_url=f"file://{tmp_path}/absent")

    with pytest.raises(ProviderError) as caught:
        either_way.create(spec)

    assert str(caught.value) == "git clone failed: fatal: Could not read from remote repository."
    assert not caught.value.transient
    assert not either_way.is_present(spec.id)
    assert _volumes(docker_client, spec.id) == []


def test_an_unknown_ref_fails_and_removes_what_was_made_during_the_clone(
    either_way: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
) -> None:
    # The container and volume are made while git works; the ref fails only after the clone.
    spec = make_spec(repo_url=repo.url, repo_ref="nope")

    with pytest.raises(ProviderError, match=r"^git checkout nope failed: (fatal|error): "):
        either_way.create(spec)

    assert not either_way.is_present(spec.id)
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


def test_a_volume_left_by_a_clone_cut_before_any_container_is_made_again(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    service_label: str,
) -> None:
    # A worker killed while git wrote into the volume, before the container was made.
    spec = make_spec(repo_url=repo.url)
    labels = {"vm-api.service": service_label, "vm-api.workspace-id": spec.id}
    volume = docker_client.volumes.create(f"vm-ws-{spec.id}", labels=labels)
    (Path(volume.attrs["Mountpoint"]) / "half-written").write_text("x")

    cloning.create(spec)

    assert _sh(docker_client, spec, "ls /workspace") == "README\n"


def test_a_start_cut_by_a_transient_failure_keeps_the_clone_in_place(
    cloning: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests
    from docker.api.client import APIClient

    real_start = APIClient.start
    started: list[str] = []

    def cut_once(api: APIClient, container: str, *args: object, **kwargs: object) -> None:
        started.append(container)
        if len(started) == 1:  # the daemon went away as the container was to start
            raise requests.exceptions.ConnectionError("connection reset")
        real_start(api, container, *args, **kwargs)

    monkeypatch.setattr(APIClient, "start", cut_once)
    spec = make_spec(repo_url=repo.url)
    lines: list[str] = []

    result = cloning.create(spec, lines.append)

    assert len(started) == 2 and started[0] != started[1]  # a second, fresh container
    assert result.provider_id == started[1]
    assert lines.count("cloning 0 %") == 1  # on the same clone, in the volume
    assert _sh(docker_client, spec, "cat README") == "v2\n"


def test_only_a_plain_local_volumes_folder_is_written_directly(
    provider: DockerProvider, docker_client: docker.DockerClient, service_label: str
) -> None:
    labels = {"vm-api.service": service_label}
    plain = docker_client.volumes.create(f"vm-ws-plain-{service_label}", labels=labels)
    tmpfs = docker_client.volumes.create(
        f"vm-ws-tmpfs-{service_label}",
        driver_opts={"type": "tmpfs", "device": "tmpfs"},
        labels=labels,
    )

    assert writable_folder(docker_client, plain.name) == Path(plain.attrs["Mountpoint"])
    assert writable_folder(docker_client, tmpfs.name) is None  # mounted only when used


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
    via_daemon: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    repo: HistoryRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    import tasks.providers.docker_clone as docker_clone

    real_put_stream = docker_clone.put_stream
    calls: list[str] = []

    def cut_once(client: docker.DockerClient, container: str, *args: object) -> int:
        calls.append(container)
        if len(calls) == 1:  # the daemon went away during the copy
            raise requests.exceptions.ConnectionError("connection reset")
        return real_put_stream(client, container, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(docker_clone, "put_stream", cut_once)
    spec = make_spec(repo_url=repo.url)

    result = via_daemon.create(spec)

    assert len(calls) == 2 and calls[0] != calls[1]  # a second, fresh container
    assert result.provider_id == calls[1]
    assert _sh(docker_client, spec, "cat README") == "v2\n"


def test_a_folder_and_another_archive_arrive_in_one_upload(
    provider: DockerProvider,
    docker_client: docker.DockerClient,
    make_spec: MakeSpec,
    tmp_path: Path,
) -> None:
    """folder_entries() leaves the archive open: the tar after it lands in the same upload,
    and the folder keeps its modes, times and links, owned by root."""
    folder = tmp_path / "history"
    (folder / "objects" / "pack").mkdir(parents=True)
    pack = folder / "objects" / "pack" / "p.pack"
    pack.write_bytes(os.urandom(300_000))  # more than one chunk, not a whole number of blocks
    (folder / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "HEAD").chmod(0o644)
    (folder / "empty").write_bytes(b"")
    (folder / "hooks").mkdir()
    (folder / "hooks" / "run").write_text("#!/bin/sh\n")
    (folder / "hooks" / "run").chmod(0o750)
    os.utime(folder / "HEAD", (1_000_000_000, 1_000_000_000))
    (folder / "link").symlink_to("HEAD")
    os.link(folder / "HEAD", folder / "hard")
    spec = make_spec()
    provider.create(spec)
    target = _container(docker_client, spec).id

    stream = chain(folder_entries(folder, ".git"), [_tar_of("after/file", b"next archive")])
    size = put_stream(docker_client, target, stream, "/workspace")

    assert size % 512 == 0
    script = (
        "cd /workspace && cat after/file && echo && cat .git/link .git/hard"
        " && stat -c '%n %u %g %a %Y' .git/HEAD .git/hooks/run .git/empty"
        " && readlink .git/link && stat -c %h .git/HEAD && md5sum .git/objects/pack/p.pack"
    )
    lines = _sh(docker_client, spec, script).splitlines()
    assert lines[:3] == ["next archive", "ref: refs/heads/main", "ref: refs/heads/main"]
    assert lines[3] == ".git/HEAD 0 0 644 1000000000"
    assert lines[4].startswith(".git/hooks/run 0 0 750 ")
    assert lines[5].startswith(".git/empty 0 0 ")
    assert lines[6:8] == ["HEAD", "2"]  # the symbolic link, and the hard link as one
    assert lines[8].split()[0] == hashlib.md5(pack.read_bytes()).hexdigest()
