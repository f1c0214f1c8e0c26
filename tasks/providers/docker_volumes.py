"""Volumes for DockerProvider: each workspace keeps its files in a named volume `vm-ws-<id>`
mounted at the template's workdir; a snapshot copies it into `vm-ws-<id>-snap-<snapshot id>`.

Data moves with the daemon's archive API (get_archive/put_archive), through containers that are
created and never started: the image needs no tools and the workspace no network. Such helper
containers carry LABEL_HELPER and are removed after each copy (or by destroy/drift repair).
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import Mount

from tasks.providers.docker_images import LABEL_SERVICE, LABEL_SNAPSHOT, LABEL_WORKSPACE

LABEL_HELPER = "vm-api.helper"
CHUNK = 256 * 1024

Client = docker.DockerClient


def volume_name(workspace_id: str) -> str:
    return f"vm-ws-{workspace_id}"


def snapshot_volume_name(workspace_id: str, snapshot_id: str) -> str:
    return f"vm-ws-{workspace_id}-snap-{snapshot_id}"


def workdir_mount(name: str, workdir: str, *, no_copy: bool = False) -> Mount:
    """`no_copy`: the daemon does not fill an empty volume with the image's files there."""
    return Mount(target=workdir, source=name, type="volume", no_copy=no_copy)


def ensure_volume(client: Client, name: str, labels: dict[str, str]) -> None:
    """Create the volume unless it exists (the daemon answers a create of an existing local
    volume with that volume, so this is idempotent)."""
    client.api.create_volume(name, labels=labels)


def writable_folder(client: Client, name: str) -> Path | None:
    """The folder of volume `name` when this process can write into it directly, else None.

    It must be a plain local volume whose mount point is here: that folder is named after the
    volume, and the name holds a workspace id, so finding it means it is this daemon's (not a
    remote daemon's, nor one in another mount namespace); and this process must be allowed
    to write it (root, where the daemon is not rootless).
    """
    attrs = client.api.inspect_volume(name)
    if attrs.get("Driver") != "local" or attrs.get("Options"):
        return None
    folder = Path(str(attrs.get("Mountpoint") or "/"))
    if folder.parent.name != name or not folder.is_dir():
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def volume_exists(client: Client, name: str) -> bool:
    try:
        client.api.inspect_volume(name)
    except docker.errors.NotFound:
        return False
    return True


def remove_volume(client: Client, name: str) -> None:
    with suppress(docker.errors.NotFound):
        client.api.remove_volume(name, force=True)


def _ours(service_label: str, *more: str) -> dict[str, Any]:
    return {"label": [f"{LABEL_SERVICE}={service_label}", *more]}


def workspace_volumes(client: Client, service_label: str, workspace_id: str) -> list[str]:
    """Names of the workspace's volumes: its live one and its snapshots'."""
    filters = _ours(service_label, f"{LABEL_WORKSPACE}={workspace_id}")
    return [v["Name"] for v in client.api.volumes(filters=filters).get("Volumes") or []]


def snapshot_volume_labels(
    service_label: str, workspace_id: str, snapshot_id: str
) -> dict[str, str]:
    return {
        LABEL_SERVICE: service_label,
        LABEL_WORKSPACE: workspace_id,
        LABEL_SNAPSHOT: snapshot_id,
    }


# -- helper containers -----------------------------------------------------------------------


def helper_filters(service_label: str, workspace_id: str | None = None) -> dict[str, Any]:
    more = [LABEL_HELPER] + ([f"{LABEL_WORKSPACE}={workspace_id}"] if workspace_id else [])
    return _ours(service_label, *more)


def remove_helpers(client: Client, service_label: str, workspace_id: str) -> None:
    for listed in client.api.containers(
        all=True, filters=helper_filters(service_label, workspace_id)
    ):
        with suppress(docker.errors.NotFound):
            client.api.remove_container(listed["Id"], force=True)


@contextmanager
def helper(
    client: Client, image: str, volume: str, workdir: str, service_label: str, workspace_id: str
) -> Iterator[str]:
    """A created, never started container with `volume` at `workdir`: a handle on the volume
    for the archive API. Removed afterwards."""
    labels = {LABEL_SERVICE: service_label, LABEL_WORKSPACE: workspace_id, LABEL_HELPER: "1"}
    host_config = client.api.create_host_config(
        network_mode="none", mounts=[workdir_mount(volume, workdir)]
    )
    created = client.api.create_container(
        image,
        ["true"],
        name=f"vm-ws-{workspace_id}-helper-{uuid.uuid4().hex[:8]}",
        labels=labels,
        host_config=host_config,
    )
    try:
        yield str(created["Id"])
    finally:
        with suppress(docker.errors.NotFound):
            client.api.remove_container(created["Id"], force=True)


# -- moving data -----------------------------------------------------------------------------


class _Counted:
    """Passes chunks through and counts their bytes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = chunks
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.size += len(chunk)
            yield chunk


def copy_directory(
    client: Client, source: str, source_path: str, target: str, target_path: str
) -> int:
    """Copy the folder `source_path` of container `source` onto `target_path` of container
    `target` (the same last path component), streamed; returns the bytes moved (as a tar)."""
    stream, _ = client.api.get_archive(source, source_path, chunk_size=CHUNK)
    counted = _Counted(stream)
    client.api.put_archive(target, posixpath.dirname(target_path.rstrip("/")) or "/", counted)
    return counted.size


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Files of the worker's user would be some unknown uid inside the image.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _walk(folder: Path, arcname: str) -> Iterator[tuple[Path, str]]:
    """Each path under `folder` (itself first, parents before children, names sorted) with
    its name in the archive."""
    yield folder, arcname
    for child in sorted(folder.iterdir()):
        name = posixpath.join(arcname, child.name)
        if child.is_dir() and not child.is_symlink():
            yield from _walk(child, name)
        else:
            yield child, name


def _file_blocks(path: Path, size: int) -> Iterator[bytes]:
    """The file's `size` bytes, padded to a whole block: exactly what its header announced."""
    left = size
    with path.open("rb") as source:
        while left and (chunk := source.read(min(CHUNK, left))):
            left -= len(chunk)
            yield chunk
    if left:
        raise OSError(f"{path} shrank while it was being sent")
    if size % tarfile.BLOCKSIZE:
        yield tarfile.NUL * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)


def folder_entries(folder: Path, arcname: str) -> Iterator[bytes]:
    """The tar entries of the worker's `folder` (named `arcname`), owned by root, without
    the end-of-archive blocks: another archive can follow in the same upload, which saves
    the daemon a second extraction (a mount and a process of its own)."""
    # A TarFile only for gettarinfo(): it keeps the inode table that turns hard links into
    # link entries, as tarfile.add() would.
    with tarfile.open(fileobj=io.BytesIO(), mode="w") as tar:
        for path, name in _walk(folder, arcname):
            info = _as_root(tar.gettarinfo(str(path), name))
            yield info.tobuf(tar.format, tar.encoding, tar.errors)
            if info.isreg():
                yield from _file_blocks(path, info.size)


def put_stream(client: Client, container: str, chunks: Iterable[bytes], workdir: str) -> int:
    """Stream a tar (e.g. `git archive`) into `workdir` of a (created) container, without a
    temporary file."""
    counted = _Counted(chunks)
    client.api.put_archive(container, workdir, counted)
    for _ in counted:  # the rest, so that the source's own checks at its end run
        pass
    return counted.size


# -- snapshots of a volume -------------------------------------------------------------------


def mounted_workdir(attrs: dict[str, Any], workspace_id: str) -> str | None:
    """Where the container has the workspace's volume, or None (made before volumes)."""
    for mount in attrs.get("Mounts") or []:
        if mount.get("Type") == "volume" and mount.get("Name") == volume_name(workspace_id):
            return str(mount["Destination"])
    return None


# -- what exists, for drift repair -----------------------------------------------------------


def _workspace_ids(listed: list[dict[str, Any]], *, helpers: bool = True) -> set[str]:
    labels = [item.get("Labels") or {} for item in listed]
    return {
        label[LABEL_WORKSPACE]
        for label in labels
        if label.get(LABEL_WORKSPACE) and (helpers or LABEL_HELPER not in label)
    }


def workspace_container_ids(client: Client, service_label: str) -> set[str]:
    """Workspaces whose container exists (helpers are not a workspace's container). The
    low-level list: no per-container inspect that could 404 mid-list."""
    listed = client.api.containers(all=True, filters=_ours(service_label))
    return _workspace_ids(listed, helpers=False)


def leftover_workspace_ids(client: Client, service_label: str) -> set[str]:
    """Workspaces with snapshot images, volumes or helper containers of ours: all of these can
    outlive the container when a removal failed half-way."""
    # Snapshot images carry the container's labels, LABEL_SERVICE included.
    images = client.api.images(all=True, filters=_ours(service_label, LABEL_SNAPSHOT))
    volumes = client.api.volumes(filters=_ours(service_label)).get("Volumes") or []
    helpers = client.api.containers(all=True, filters=helper_filters(service_label))
    return _workspace_ids(images) | _workspace_ids(volumes) | _workspace_ids(helpers)
