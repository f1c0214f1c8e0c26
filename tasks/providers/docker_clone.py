"""The person's repository in a new workspace's volume, before its container first starts.

git runs on the worker (the image needs neither git nor network), under the URL rules of
tasks/providers/git_clone.py, while the volume and the container are made. The files reach the
volume one of two ways:

- in place: the volume is a plain local volume whose folder this process can write (a worker
  on its Docker host, as root: the one-host set-up, or a host-bound consumer). git clones
  straight into that folder: each file is written once, by git, and the index has their stat
  data, so the first `git status` in the workspace reads nothing again.
- through the daemon: otherwise (a remote or rootless daemon). git clones the history alone
  into a scratch folder; the history and `git archive HEAD` go into the volume in one
  put_archive on the created container.

Either way the volume holds the repository and nothing of the image (the mount does not copy the
image's workdir into it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import docker
from docker.models.containers import Container

from tasks.providers.base import Progress, ProviderError, Provisioned, WorkspaceSpec
from tasks.providers.docker_volumes import (
    ensure_volume,
    folder_entries,
    put_stream,
    remove_volume,
    volume_name,
    writable_folder,
)
from tasks.providers.git_clone import clone_repository, tree_archive

T = TypeVar("T")
Client = docker.DockerClient
# Work done on a created container before its first start (the clone, a snapshot's files).
Fill = Callable[[Client, str], None]
NEVER_STARTED = "0001-01-01T00:00:00Z"


def container_name(workspace_id: str) -> str:
    return f"vm-ws-{workspace_id}"


def never_started(container: Container) -> bool:
    return bool(container.attrs["State"].get("StartedAt") == NEVER_STARTED)


class RepositoryClones:
    """DockerProvider's creates with a `repo_url` (a mixin: it uses the provider's plumbing)."""

    allow_file_repos: bool
    clone_in_place: bool  # False: always through the daemon (the tests of that path)

    if TYPE_CHECKING:

        def _op(self, what: str, body: Callable[[Client], T]) -> T: ...
        def _get(self, client: Client, workspace_id: str) -> Container | None: ...
        def _remove(self, client: Client, workspace_id: str) -> None: ...
        def _labels(self, spec: WorkspaceSpec) -> dict[str, str]: ...
        def _adopt(self, client: Client, spec: WorkspaceSpec) -> Provisioned | None: ...
        def _run(
            self,
            client: Client,
            spec: WorkspaceSpec,
            image: str,
            existing: Container | None = None,
            fill: Fill | None = None,
            progress: Progress = ...,
        ) -> Provisioned: ...

    def _create_with_repository(
        self, spec: WorkspaceSpec, image: str, report: Progress
    ) -> Provisioned:
        """Called when no container of the workspace exists (create adopted or removed it)."""
        name = f"create container {container_name(spec.id)}"
        folder = self._op(f"create volume {volume_name(spec.id)}", lambda c: self._fresh(c, spec))
        with tempfile.TemporaryDirectory(prefix="vm-api-clone-") as scratch:
            checkout = folder or Path(scratch) / "checkout"
            with ThreadPoolExecutor(max_workers=1) as pool:
                cloned = pool.submit(self._clone, spec, checkout, report, folder is not None)
                if folder is not None:
                    fill = _waiting_for(cloned)
                    build = self._building_in_place(spec, image, fill, report)
                else:
                    fill = _copying(cloned, checkout, spec.workdir, report)
                    build = self._building_copied(spec, image, fill, report)
                try:
                    return self._op(name, build)
                except ProviderError:
                    self._raise_clone_failure(spec.id, cloned)
                    raise

    def _fresh(self, client: Client, spec: WorkspaceSpec) -> Path | None:
        """An empty volume for the clone, and its folder when git can write there directly."""
        name = volume_name(spec.id)
        # With no container, a volume of this workspace is an unfinished attempt's: it may
        # hold part of a clone.
        remove_volume(client, name)
        ensure_volume(client, name, self._labels(spec))
        return writable_folder(client, name) if self.clone_in_place else None

    def _building_in_place(
        self, spec: WorkspaceSpec, image: str, fill: Fill, report: Progress
    ) -> Callable[[Client], Provisioned]:
        def build(client: Client) -> Provisioned:
            # A retry after a transient failure: the clone is in the volume (or on its way);
            # only a container that never started is made again.
            existing = self._get(client, spec.id)
            if existing is not None and not never_started(existing):
                return self._run(client, spec, image, existing)
            if existing is not None:
                self._remove(client, spec.id)
            return self._run(client, spec, image, fill=fill, progress=report)

        return build

    def _building_copied(
        self, spec: WorkspaceSpec, image: str, fill: Fill, report: Progress
    ) -> Callable[[Client], Provisioned]:
        def build(client: Client) -> Provisioned:
            # A retry after a transient failure must not adopt a container whose copy did not
            # finish: _adopt() removes one that never started, with its volume.
            adopted = self._adopt(client, spec)
            return adopted or self._run(client, spec, image, fill=fill, progress=report)

        return build

    def _raise_clone_failure(self, workspace_id: str, cloned: Future[None]) -> None:
        """A clone failure is the one to report, and the container and volume made for it
        meanwhile go; otherwise return."""
        failure = cloned.exception()
        if failure is None:
            return
        # Without the daemon they stay for the workspace's destroy; the clone's reason still wins.
        with suppress(ProviderError):
            self._op(
                f"remove container {container_name(workspace_id)}",
                lambda client: self._remove_unstarted(client, workspace_id),
            )
        raise failure

    def _remove_unstarted(self, client: Client, workspace_id: str) -> None:
        existing = self._get(client, workspace_id)
        if existing is not None and not never_started(existing):
            return  # another attempt's, which finished: not this one's to remove
        self._remove(client, workspace_id)
        remove_volume(client, volume_name(workspace_id))

    def _clone(self, spec: WorkspaceSpec, into: Path, progress: Progress, in_place: bool) -> None:
        assert spec.repo_url is not None
        progress("cloning 0 %")
        clone_repository(
            spec.repo_url,
            into,
            repo_ref=spec.repo_ref,
            allow_file_repos=self.allow_file_repos,
            progress=progress,
            # through the daemon, the files go straight from git into the volume: _copying()
            checkout=in_place,
        )


def _waiting_for(cloned: Future[None]) -> Fill:
    def fill(client: Client, container_id: str) -> None:
        cloned.result()

    return fill


def _copying(cloned: Future[None], checkout: Path, workdir: str, report: Progress) -> Fill:
    def fill(client: Client, container_id: str) -> None:
        cloned.result()
        # The history, then the files straight from git (written once, in the volume), in one
        # upload: each upload is a mount and a process in the daemon.
        report("copying files")
        history = folder_entries(checkout / ".git", ".git")
        files = tree_archive(checkout)
        put_stream(client, container_id, chain(history, files), workdir)

    return fill
