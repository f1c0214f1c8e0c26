"""The local provider on real folders and a real git repository."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.local import LocalProvider


def spec(repo_url: str | None = None) -> WorkspaceSpec:
    return WorkspaceSpec(id=str(uuid.uuid4()), owner="alice", name="dev", repo_url=repo_url)


def test_create_clones_and_is_idempotent(tmp_path: Path, git_repo: Path) -> None:
    provider = LocalProvider(tmp_path, allow_file_repos=True)
    workspace = spec(str(git_repo))
    first = provider.create(workspace)
    (Path(first.connection_info["path"]) / "notes.txt").write_text("mine")
    second = provider.create(workspace)
    assert first == second
    assert (Path(second.connection_info["path"]) / "notes.txt").read_text() == "mine"
    assert provider.owned_workspace_ids() == {workspace.id}


def test_file_repositories_are_refused_unless_allowed(tmp_path: Path, git_repo: Path) -> None:
    provider = LocalProvider(tmp_path, allow_file_repos=False)
    workspace = spec(f"file://{git_repo}")
    with pytest.raises(ProviderError, match="git clone failed"):
        provider.create(workspace)
    assert not provider.is_present(workspace.id)
    assert list((tmp_path / "workspaces").iterdir()) == []  # no half-built folder left


def test_option_injection_is_refused(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, allow_file_repos=True)
    marker = tmp_path / "pwned"
    with pytest.raises(ProviderError):
        provider.create(spec(f"--upload-pack=touch {marker}"))
    with pytest.raises(ProviderError):
        provider.create(spec(f"ext::sh -c touch% {marker}"))
    assert not marker.exists()


def test_snapshot_and_restore_bring_back_a_deleted_file(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path)
    workspace = spec()
    folder = Path(provider.create(workspace).connection_info["path"])
    (folder / "precious.txt").write_text("v1")
    snapshot_id = str(uuid.uuid4())
    assert provider.snapshot(workspace.id, snapshot_id) > 0
    (folder / "precious.txt").unlink()
    (folder / "later.txt").write_text("after")
    provider.restore(workspace, snapshot_id)
    assert (folder / "precious.txt").read_text() == "v1"
    assert not (folder / "later.txt").exists()
    provider.delete_snapshot(workspace.id, snapshot_id)
    with pytest.raises(ProviderError):
        provider.restore(workspace, snapshot_id)


def test_destroy_removes_folder_and_snapshots(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path)
    workspace = spec()
    provider.create(workspace)
    provider.snapshot(workspace.id, str(uuid.uuid4()))
    provider.destroy(workspace.id)
    provider.destroy(workspace.id)  # again: nothing left is success
    assert not provider.is_present(workspace.id)
    assert not (tmp_path / "snapshots" / workspace.id).exists()


def test_ids_that_are_not_uuids_never_become_paths(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path)
    with pytest.raises(ValueError):
        provider.destroy("../../etc")
