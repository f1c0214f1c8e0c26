"""The `local` provider: a workspace is a folder under VM_API_DATA_DIR/workspaces/<id>.

Folders are built beside their final place and renamed into it, so a crash never leaves a
half-cloned workspace where a retry would adopt it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tarfile
import uuid
from pathlib import Path

from tasks.providers.base import Progress, ProviderError, Provisioned, WorkspaceSpec
from tasks.providers.git_clone import clone_repository


def local_shell_command(path: Path) -> str:
    """A folder on the server: a shell there is a shell on the server, in the folder."""
    return f"cd {shlex.quote(str(path))} && exec $SHELL"


def _checked_id(workspace_id: str) -> str:
    """Ids come from our database, but a path is built from them: accept only UUIDs."""
    return str(uuid.UUID(workspace_id))


def _entries(folder: Path) -> set[str]:
    """Names in `folder`, but the dot-named scratch entries of work in progress."""
    if not folder.is_dir():
        return set()
    return {entry.name for entry in folder.iterdir() if not entry.name.startswith(".")}


class LocalProvider:
    name = "local"

    def __init__(self, data_dir: Path, *, allow_file_repos: bool = False) -> None:
        self.root = data_dir / "workspaces"
        self.snapshot_root = data_dir / "snapshots"
        self.allow_file_repos = allow_file_repos

    def _path(self, workspace_id: str) -> Path:
        return self.root / _checked_id(workspace_id)

    def _scratch(self, workspace_id: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".tmp-{_checked_id(workspace_id)}-{uuid.uuid4().hex[:8]}"

    def _clear_scratch(self, workspace_id: str) -> None:
        for leftover in self.root.glob(f".tmp-{_checked_id(workspace_id)}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _provisioned(self, workspace_id: str) -> Provisioned:
        path = self._path(workspace_id)
        info = {"path": str(path), "ssh_command": local_shell_command(path)}
        return Provisioned(provider_id=str(path), connection_info=info)

    def create(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        target = self._path(spec.id)
        if target.is_dir():
            return self._provisioned(spec.id)
        self._clear_scratch(spec.id)
        scratch = self._scratch(spec.id)
        try:
            if spec.repo_url:
                clone_repository(
                    spec.repo_url,
                    scratch,
                    repo_ref=spec.repo_ref,
                    allow_file_repos=self.allow_file_repos,
                    progress=progress,
                )
            else:
                scratch.mkdir()
            os.rename(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return self._provisioned(spec.id)

    def destroy(self, workspace_id: str, keep_snapshot: str | None = None) -> None:
        self._clear_scratch(workspace_id)
        shutil.rmtree(self._path(workspace_id), ignore_errors=True)
        if keep_snapshot is None:
            shutil.rmtree(self.snapshot_root / _checked_id(workspace_id), ignore_errors=True)
            return
        kept = self._archive(workspace_id, keep_snapshot)
        for archive in kept.parent.glob("*"):
            if archive != kept:
                archive.unlink(missing_ok=True)

    def _require(self, workspace_id: str) -> Path:
        path = self._path(workspace_id)
        if not path.is_dir():
            raise ProviderError(f"workspace folder {path} no longer exists")
        return path

    # A folder has no process to start or stop: these only confirm that it is still there.
    def start(self, workspace_id: str) -> None:
        self._require(workspace_id)

    def stop(self, workspace_id: str) -> None:
        self._require(workspace_id)

    def restart(self, workspace_id: str) -> None:
        self._require(workspace_id)

    def rebuild(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        # A folder is its own volume: a rebuild starts it over, cloning again.
        shutil.rmtree(self._path(spec.id), ignore_errors=True)
        return self.create(spec, progress)

    def _archive(self, workspace_id: str, snapshot_id: str) -> Path:
        return self.snapshot_root / _checked_id(workspace_id) / f"{_checked_id(snapshot_id)}.tar.gz"

    def snapshot(self, workspace_id: str, snapshot_id: str) -> int:
        archive = self._archive(workspace_id, snapshot_id)
        if archive.is_file() and not self._path(workspace_id).is_dir():
            return archive.stat().st_size  # taken, then the folder removed: a retried delete
        source = self._require(workspace_id)
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(source, arcname=".")
        os.replace(partial, archive)
        return archive.stat().st_size

    def restore(
        self, spec: WorkspaceSpec, snapshot_id: str, progress: Progress | None = None
    ) -> Provisioned:
        archive = self._archive(spec.id, snapshot_id)
        if not archive.is_file():
            raise ProviderError(f"snapshot {snapshot_id} has no archive at {archive}")
        self._clear_scratch(spec.id)
        scratch = self._scratch(spec.id)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(scratch, filter="data")
            target = self._path(spec.id)
            shutil.rmtree(target, ignore_errors=True)
            os.rename(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return self._provisioned(spec.id)

    def delete_snapshot(self, workspace_id: str, snapshot_id: str) -> None:
        self._archive(workspace_id, snapshot_id).unlink(missing_ok=True)

    def is_present(self, workspace_id: str) -> bool:
        return self._path(workspace_id).is_dir()

    def owned_workspace_ids(self) -> set[str]:
        return _entries(self.root)

    def snapshot_workspace_ids(self) -> set[str]:
        return _entries(self.snapshot_root)
