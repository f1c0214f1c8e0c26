"""Fixtures for the provider tests: a DockerProvider with a label of its own per test, and the
removal of everything it created (by that label) afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress

import docker
import docker.errors
import pytest
from docker_support import TEST_COMMAND, TEST_IMAGE

from tasks.providers.base import WorkspaceSpec
from tasks.providers.docker import DockerProvider


@pytest.fixture
def service_label() -> str:
    return f"vm-api-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def provider(docker_client: docker.DockerClient, service_label: str) -> Iterator[DockerProvider]:
    provider = DockerProvider(service_label=service_label, timeout=30, attempts=2, backoff=0.1)
    yield provider
    provider.close()
    containers = docker_client.containers.list(
        all=True, filters={"label": f"vm-api.service={service_label}"}, ignore_removed=True
    )
    for container in containers:
        with suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    # Snapshot images inherit the container's labels; a child must go before its parent.
    for _ in range(5):
        images = docker_client.images.list(
            all=True, filters={"label": f"vm-api.service={service_label}"}
        )
        if not images:
            break
        for image in images:
            with suppress(docker.errors.APIError):
                docker_client.images.remove(image.id, force=True)


@pytest.fixture
def make_spec() -> Callable[..., WorkspaceSpec]:
    def make(**overrides: object) -> WorkspaceSpec:
        values: dict[str, object] = {
            "id": str(uuid.uuid4()),
            "owner": "alice",
            "name": "My Workspace",
            "template": "base",
            "image": TEST_IMAGE,
            "command": TEST_COMMAND,
            "cpus": 0.5,
            "memory_mb": 64,
        }
        values.update(overrides)
        return WorkspaceSpec(**values)  # type: ignore[arg-type]

    return make
