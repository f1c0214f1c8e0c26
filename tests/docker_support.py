"""Shared by every test that needs a real Docker daemon.

Such tests skip, with the reason, when no daemon answers; with VM_API_REQUIRE_DOCKER=1 (CI)
they fail instead, so a broken daemon cannot turn the suite silently green.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
import pytest
from second_dockerd import DaemonFailed, SecondDaemon, start_dockerd

from tasks.providers.base import ProviderError
from tasks.providers.docker import DockerProvider

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / ".ci" / "build-test-image.sh"
TEST_IMAGE = "vm-api/test-base:latest"
TEST_COMMAND = ("sleep", "2147483647")


def docker_unavailable_reason() -> str | None:
    """None when a daemon answers at DOCKER_HOST (or the default socket), else why not."""
    provider = DockerProvider(timeout=5, attempts=1)
    try:
        provider.ping()
    except ProviderError as exc:
        return str(exc)
    finally:
        provider.close()
    return None


def docker_available() -> bool:
    return docker_unavailable_reason() is None


@functools.cache
def _build_test_image() -> str | None:
    """Runs the CI script once per session; returns an error message or None."""
    try:
        result = subprocess.run(
            [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{BUILD_SCRIPT} could not run: {exc}"
    if result.returncode != 0:
        return f"{BUILD_SCRIPT} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
    return None


def require_docker() -> None:
    """Skip (or, with VM_API_REQUIRE_DOCKER=1, fail) the calling test unless a daemon answers;
    then make sure the test image `vm-api/test-base:latest` exists."""
    reason = docker_unavailable_reason()
    if reason is not None:
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail(f"VM_API_REQUIRE_DOCKER=1 but no Docker daemon: {reason}")
        pytest.skip(f"no Docker daemon ({reason}); VM_API_REQUIRE_DOCKER=1 makes this a failure")
    error = _build_test_image()
    if error is not None:
        pytest.fail(f"cannot build the test image {TEST_IMAGE}: {error}")


@pytest.fixture
def docker_required() -> None:
    """Fixture form of require_docker(); import it into a conftest or test module to use it."""
    require_docker()


def remove_labelled(client: docker.DockerClient, service_label: str) -> None:
    """Everything a test's installation made (by its `vm-api.service` label): containers first,
    then volumes and images, since a container keeps both."""
    label = f"vm-api.service={service_label}"
    for container in client.containers.list(
        all=True, filters={"label": label}, ignore_removed=True
    ):
        with suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for volume in client.volumes.list(filters={"label": label}):
        with suppress(docker.errors.APIError):
            volume.remove(force=True)
    # Snapshot images inherit the container's labels; a child must go before its parent.
    for _ in range(5):
        images = client.images.list(all=True, filters={"label": label})
        if not images:
            return
        for image in images:
            with suppress(docker.errors.APIError):
                client.images.remove(image.id, force=True)


def start_second_daemon(extra_args: tuple[str, ...] = ()) -> SecondDaemon:
    """A second Docker host for the multi-host tests (root and dockerd required; skips
    without them, fails with the daemon's log if it does not come up)."""
    require_docker()
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("a second Docker daemon needs root and dockerd")
    try:
        return start_dockerd(BUILD_SCRIPT, extra_args=extra_args)
    except DaemonFailed as exc:
        pytest.fail(str(exc))
