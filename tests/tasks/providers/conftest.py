"""Fixtures for the provider tests: a DockerProvider with a label of its own per test, and the
removal of everything it created (by that label) afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import docker
import pytest
from docker_support import TEST_COMMAND, TEST_IMAGE, remove_labelled

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
    remove_labelled(docker_client, service_label)


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
