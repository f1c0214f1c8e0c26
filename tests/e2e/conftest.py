"""Fixtures that run the real `vm-api` command: see harness.py for the process helpers."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from harness import (
    RunningService,
    ServiceConfig,
    ServiceProcess,
    StartService,
    git_repository,
)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """`start_service(*args, config=None, ready=True, **VM_API_overrides)` starts `vm-api *args`
    with `config` (shared with another process), or else a new instance in its own folder.

    Every process started through it that still runs at teardown gets SIGINT and must exit 0
    within the stop timeout, leaving no child behind (SIGKILL only as a last resort).
    """
    started: list[ServiceProcess] = []

    def start(
        *args: str, config: ServiceConfig | None = None, ready: bool = True, **overrides: str
    ) -> ServiceProcess:
        if config is None:  # a new instance: its own folder, database and port
            root, number = tmp_path / "service", 1
            while root.exists():
                number += 1
                root = tmp_path / f"service-{number}"
            config = ServiceConfig(root, overrides=dict(overrides))
        elif overrides:
            config.overrides.update(overrides)
        process = ServiceProcess(config, *args).start()
        started.append(process)
        if ready:
            process.wait_started()
        return process

    yield start

    problems: list[str] = []
    for process in reversed(started):
        if process.returncode is not None:
            continue
        try:
            code = process.stop(signal.SIGINT)
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        if code != 0:
            problems.append(f"exited {code} after SIGINT: {process.describe()}")
    for process in started:
        leftovers = process.leftover_children()
        if leftovers:
            process.kill()
            problems.append(f"children {leftovers} outlived {process.describe()}")
    assert not problems, "\n\n".join(problems)


@pytest.fixture
def service_factory(start_service: StartService) -> Iterator[Callable[..., RunningService]]:
    """`service_factory(**VM_API_overrides)`: the all-in-one `vm-api`, ready, with a client."""
    clients: list[httpx.Client] = []

    def make(**overrides: str) -> RunningService:
        process = start_service(**overrides)
        client = process.config.client("alice")
        clients.append(client)
        return RunningService(process, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def service(service_factory: Callable[..., RunningService]) -> RunningService:
    """The all-in-one `vm-api` on its defaults (local provider, file repos allowed)."""
    return service_factory()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A committed local git repository holding README.md."""
    return git_repository(tmp_path / "repo", {"README.md": "hello from the e2e repository\n"})
