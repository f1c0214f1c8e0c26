"""Drift repair against a real Docker daemon: one orphan that will not go keeps no other."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker_support import TEST_COMMAND, TEST_IMAGE, remove_labelled

from models.settings import Settings
from tasks.janitor import run_janitor
from tasks.providers.docker import container_name
from tasks.providers.docker_images import LABEL_SERVICE, LABEL_WORKSPACE, commit_snapshot

pytestmark = pytest.mark.usefixtures("migrated")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # an instance label of this test's own: drift repair never touches another installation
    return replace(settings, instance=f"vm-api-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def ours(docker_client: docker.DockerClient, settings: Settings) -> Iterator[str]:
    """The test's label; everything carrying it is removed afterwards."""
    yield settings.instance
    remove_labelled(docker_client, settings.instance)


def orphan_container(client: docker.DockerClient, instance: str, workspace_id: str) -> Container:
    """A container of ours whose workspace the database does not know (as after a lost
    delete, or a database restored from an older backup)."""
    return client.containers.run(
        TEST_IMAGE,
        list(TEST_COMMAND),
        name=container_name(workspace_id),
        labels={LABEL_WORKSPACE: workspace_id, LABEL_SERVICE: instance},
        network_mode="none",
        detach=True,
    )


def test_an_orphan_that_cannot_be_removed_leaves_the_others_to_go(
    docker_client: docker.DockerClient,
    settings: Settings,
    ours: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Sorted first, so that it is tried before the others.
    stuck_id = f"00000000-0000-4000-8000-{uuid.uuid4().hex[:12]}"
    stuck = orphan_container(docker_client, ours, stuck_id)
    image = commit_snapshot(stuck, stuck_id, str(uuid.uuid4()), timeout=60)
    # Someone runs a container from that snapshot: Docker will not remove an image a running
    # container uses, not even forced, so removing the orphan's snapshots fails for good.
    user = docker_client.containers.run(
        image.id, list(TEST_COMMAND), network_mode="none", detach=True
    )
    free_ids = sorted(str(uuid.uuid4()) for _ in range(3))
    free = [orphan_container(docker_client, ours, workspace_id) for workspace_id in free_ids]

    with caplog.at_level(logging.WARNING, logger="vm_api.janitor"):
        report = run_janitor(settings)

    assert (report.orphans_removed, report.orphans_left) == (3, 1)
    for container in free:
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(container.id)
    with pytest.raises(docker.errors.NotFound):  # its container went before its images failed
        docker_client.containers.get(stuck.id)
    assert docker_client.images.get(image.id).id == image.id
    assert f"could not remove docker resources of {stuck_id}" in caplog.text
    assert "skipping drift check" not in caplog.text

    # The next run tries the one left again, and only that one.
    again = run_janitor(settings)
    assert (again.orphans_removed, again.orphans_left) == (0, 1)
    assert docker_client.containers.get(user.id).status == "running"

    # Once nothing runs from it, the next run removes the image: found by its labels, though
    # no container of that workspace is left.
    user.remove(force=True)
    last = run_janitor(settings)
    assert (last.orphans_removed, last.orphans_left) == (1, 0)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image.id)
