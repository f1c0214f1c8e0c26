"""The one small interface every workspace provider implements.

Every method is called from a consumer thread, outside any database session, and must be
idempotent: a task may run again after a crash, so "already done" is success, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Receives progress lines ("pulling image", "cloning 40 %") while a slow action runs.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class WorkspaceSpec:
    """What a provider needs to know to build a workspace; resolved from the template catalogue."""

    id: str
    owner: str
    name: str
    repo_url: str | None = None
    template: str | None = None
    image: str | None = None
    command: tuple[str, ...] | None = None
    cpus: float | None = None
    memory_mb: int | None = None
    repo_ref: str | None = None  # branch, tag or commit to check out after the clone
    workdir: str = "/workspace"  # where the workspace's volume is mounted
    shell: str = "/bin/sh"
    network: str = "none"  # none, bridge or a Docker network's name


@dataclass(frozen=True)
class Provisioned:
    provider_id: str
    connection_info: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """A failure worth showing to a person as the operation's error, e.g. 'Docker daemon not
    reachable at unix:///var/run/docker.sock'. `transient` failures may succeed if retried."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class Provider(Protocol):
    name: str

    def create(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        """Build the workspace (cloning spec.repo_url into it) and leave it running; adopt what
        a previous attempt built."""
        ...

    def destroy(self, workspace_id: str, keep_snapshot: str | None = None) -> None:
        """Remove the workspace and its snapshots (all but `keep_snapshot`, which the trash
        keeps); nothing left is success."""
        ...

    def start(self, workspace_id: str) -> None: ...

    def stop(self, workspace_id: str) -> None: ...

    def restart(self, workspace_id: str) -> None: ...

    def rebuild(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        """Recreate the workspace from its template, keeping its id."""
        ...

    def snapshot(self, workspace_id: str, snapshot_id: str) -> int:
        """Capture the workspace's state; returns the snapshot's size in bytes. A snapshot
        already taken is not taken again (a retried keeping delete may find the workspace
        gone and its snapshot there)."""
        ...

    def restore(
        self, spec: WorkspaceSpec, snapshot_id: str, progress: Progress | None = None
    ) -> Provisioned:
        """Replace the workspace's state with the snapshot's and leave it running."""
        ...

    def delete_snapshot(self, workspace_id: str, snapshot_id: str) -> None: ...

    def is_present(self, workspace_id: str) -> bool:
        """Whether the workspace's resource (folder, container) still exists."""
        ...

    def owned_workspace_ids(self) -> set[str]:
        """Ids of every workspace whose resource (folder, container) exists (drift repair)."""
        ...

    def snapshot_workspace_ids(self) -> set[str]:
        """Ids of every workspace this provider keeps other resources for (snapshots, volumes:
        drift repair): they can outlive the workspace's resource when a removal failed
        half-way."""
        ...
