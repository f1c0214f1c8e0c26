"""Snapshots for DockerProvider: a committed image of the container plus a copy of its volume
(`vm-ws-<id>-snap-<snapshot id>`), and the way back.

The image is committed last and carries the volume copy's size (LABEL_VOLUME_BYTES): its
presence means the whole snapshot is there, so a re-run after a crash starts over cleanly.
"""

from __future__ import annotations

import docker
from docker.models.containers import Container

from tasks.providers.docker_images import commit_snapshot, snapshot_size
from tasks.providers.docker_volumes import (
    copy_directory,
    ensure_volume,
    helper,
    mounted_workdir,
    remove_volume,
    snapshot_volume_labels,
    snapshot_volume_name,
)

Client = docker.DockerClient


def take_snapshot(
    client: Client,
    container: Container,
    workspace_id: str,
    snapshot_id: str,
    service_label: str,
    timeout: float,
) -> int:
    """Copy the volume, then commit the image; returns their size together."""
    workdir = mounted_workdir(container.attrs, workspace_id)  # None: made before volumes
    # Paused for both copies, so that the files and the image match; a container left paused
    # by an interrupted attempt is unpaused too.
    paused = container.status == "paused"
    if container.status == "running":
        container.pause()
        paused = True
    try:
        volume_bytes = 0
        if workdir is not None:
            volume_bytes = capture_volume(
                client, container.id, container.attrs["Image"], workdir, service_label,
                workspace_id, snapshot_id,
            )  # fmt: skip
        image = commit_snapshot(
            container, workspace_id, snapshot_id, timeout, volume_bytes=volume_bytes, pause=False
        )
    finally:
        if paused:
            container.unpause()
    return snapshot_size(image)


def capture_volume(
    client: Client,
    container_id: str,
    image: str,
    workdir: str,
    service_label: str,
    workspace_id: str,
    snapshot_id: str,
) -> int:
    """Copy the live volume (seen through the workspace's container at `workdir`) into a fresh
    snapshot volume; returns its size as a tar. A leftover of an interrupted attempt is
    replaced, so a retry never keeps half a copy."""
    name = snapshot_volume_name(workspace_id, snapshot_id)
    remove_volume(client, name)
    ensure_volume(client, name, snapshot_volume_labels(service_label, workspace_id, snapshot_id))
    with helper(client, image, name, workdir, service_label, workspace_id) as target:
        return copy_directory(client, container_id, workdir, target, workdir)


def fill_from_snapshot(
    client: Client,
    container_id: str,
    image: str,
    workdir: str,
    service_label: str,
    workspace_id: str,
    snapshot_id: str,
) -> None:
    """Copy a snapshot volume into the (created, empty) volume of `container_id`."""
    name = snapshot_volume_name(workspace_id, snapshot_id)
    with helper(client, image, name, workdir, service_label, workspace_id) as source:
        copy_directory(client, source, workdir, container_id, workdir)
