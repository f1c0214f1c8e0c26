"""What the routes that reach into a workspace (exec, logs, files) share: the workspace the
caller may see, the running check, the Docker client, the threads their blocking work runs
on, and Docker's failures as API errors."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import docker
import docker.errors
import requests.exceptions
from quart import current_app

from models.reads import select_workspace
from models.records import WorkspaceRecord
from models.settings import Settings
from models.states import WorkspaceStatus
from models.work import touch_operations
from service import params
from service.auth import viewer
from service.errors import APIError
from service.read_lane import read
from tasks.providers import direct_provider
from tasks.providers.base import ProviderError
from tasks.providers.docker import DockerProvider, container_name

P = ParamSpec("P")
T = TypeVar("T")

# Their own threads: an exec may take ten minutes and a log stream hours, which would starve
# the default pool that every database write goes through.
_threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="vm-api-access")


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await loop.run_in_executor(_threads, call)


@contextmanager
def heartbeat(operation_id: str, timeout: float) -> Iterator[None]:
    """Keep the record of work this web process is doing (a transfer, an exec) alive while it
    lasts: the sweep fails such a record once its heartbeat is `timeout` seconds old, which
    should mean that the process died, not that the work is long. A thread of its own beats,
    so an exec whose client hung up is still covered until the command ends."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(max(timeout / 3, 1.0)):
            touch_operations([operation_id])

    threading.Thread(target=beat, name=f"vm-api-beat-{operation_id[:8]}", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


async def visible_workspace(workspace_id: str) -> WorkspaceRecord:
    """The workspace, if the caller may see it (else 404, as for every route)."""
    return await read(select_workspace, params.path_uuid(workspace_id), viewer().scope)


def require_running(workspace: WorkspaceRecord) -> None:
    if workspace.status != WorkspaceStatus.RUNNING.value:
        raise APIError(
            409,
            "NOT_RUNNING",
            f"the workspace is {workspace.status}; it must be running",
            status=workspace.status,
        )
    require_reachable(workspace)


def require_reachable(workspace: WorkspaceRecord) -> None:
    """A workspace on a Docker host that stopped reporting: say so, do not wait on it."""
    if workspace.host_unreachable is not None:
        raise APIError(503, "HOST_UNREACHABLE", workspace.host_unreachable, host=workspace.host)


def docker_provider(workspace: WorkspaceRecord) -> DockerProvider:
    """The Docker provider of the host the workspace lives on."""
    try:
        provider = direct_provider(workspace.provider, settings(), workspace.host)
    except ProviderError as error:
        raise APIError(503, "HOST_UNREACHABLE", str(error), host=workspace.host) from error
    assert isinstance(provider, DockerProvider)
    return provider


def container_of(workspace: WorkspaceRecord) -> str:
    return container_name(workspace.id)


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Docker's failures as API errors: a container that is gone or stopped is 409; a daemon
    that does not answer is 503."""
    try:
        yield
    except docker.errors.NotFound as error:
        raise APIError(409, "NOT_RUNNING", f"cannot {what}: the container is gone") from error
    except docker.errors.APIError as error:
        reason = str(error.explanation or error)
        if error.status_code == 409:
            raise APIError(409, "NOT_RUNNING", f"cannot {what}: {reason}") from error
        raise APIError(502, "DOCKER_ERROR", f"Docker could not {what}: {reason}") from error
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise APIError(
            503, "DOCKER_UNAVAILABLE", f"cannot {what}: the Docker daemon does not answer"
        ) from error
