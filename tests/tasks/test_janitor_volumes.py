"""Drift repair of workspace volumes against a real Docker daemon and a real database: a volume
of ours without a live workspace goes; a live workspace's volume stays."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import docker
import pytest
from docker_support import TEST_COMMAND, TEST_IMAGE, remove_labelled

from models.settings import Settings
from models.workspaces import Limits, NewWorkspace, insert_workspace
from tasks.janitor import run_janitor
from tasks.providers import get_provider
from tasks.providers.base import WorkspaceSpec
from tasks.providers.docker_images import LABEL_SERVICE, LABEL_WORKSPACE

pytestmark = [pytest.mark.usefixtures("migrated"), pytest.mark.docker]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # an instance label of this test's own: drift repair never touches another installation
    return replace(settings, instance=f"vm-api-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def ours(docker_client: docker.DockerClient, settings: Settings) -> Iterator[str]:
    yield settings.instance
    remove_labelled(docker_client, settings.instance)


def _volume_names(client: docker.DockerClient, instance: str) -> set[str]:
    filters = {"label": f"{LABEL_SERVICE}={instance}"}
    return {volume.name for volume in client.volumes.list(filters=filters)}


def test_drift_repair_removes_volumes_without_a_live_workspace(
    docker_client: docker.DockerClient, settings: Settings, ours: str
) -> None:
    # a live workspace, made by the provider: its volume must stay
    workspace, _ = insert_workspace(
        NewWorkspace(owner="alice", name="live", provider="docker"), Limits()
    )
    provider = get_provider("docker", settings)
    spec = WorkspaceSpec(
        id=workspace.id, owner="alice", name="live", image=TEST_IMAGE, command=TEST_COMMAND
    )
    provider.create(spec)
    # an orphan: only volumes left (its container went, its database row never was)
    orphan = str(uuid.uuid4())
    labels = {LABEL_SERVICE: ours, LABEL_WORKSPACE: orphan}
    docker_client.volumes.create(f"vm-ws-{orphan}", labels=labels)
    docker_client.volumes.create(f"vm-ws-{orphan}-snap-{uuid.uuid4()}", labels=labels)
    # someone else's volume on the same daemon, with a label that is not ours
    foreign = docker_client.volumes.create(
        f"vm-ws-{uuid.uuid4()}", labels={LABEL_SERVICE: f"{ours}-other", LABEL_WORKSPACE: orphan}
    )
    try:
        report = run_janitor(settings)

        assert report.orphans_removed == 1
        assert _volume_names(docker_client, ours) == {f"vm-ws-{workspace.id}"}
        assert docker_client.volumes.get(foreign.name).name == foreign.name
    finally:
        foreign.remove(force=True)


def test_an_orphan_helper_container_goes_too(
    docker_client: docker.DockerClient, settings: Settings, ours: str
) -> None:
    orphan = str(uuid.uuid4())
    labels = {LABEL_SERVICE: ours, LABEL_WORKSPACE: orphan, "vm-api.helper": "1"}
    helper = docker_client.containers.create(
        TEST_IMAGE, ["true"], name=f"vm-ws-{orphan}-helper-x", labels=labels, network_mode="none"
    )
    provider = get_provider("docker", settings)
    assert orphan not in provider.owned_workspace_ids()  # a helper is not the workspace

    report = run_janitor(settings)

    assert report.orphans_removed == 1
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(helper.id)
