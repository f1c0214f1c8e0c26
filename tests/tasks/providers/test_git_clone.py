"""The shared clone of both providers, with a real git and real repositories (no mocks)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from repo_support import HistoryRepo, git, make_history_repo

from tasks.providers.base import ProviderError
from tasks.providers.git_clone import clone_repository, overall_percent, tree_archive


@pytest.fixture
def repo(tmp_path: Path) -> HistoryRepo:
    return make_history_repo(tmp_path / "origin")


def test_a_clone_checks_out_the_default_branch_and_keeps_history(
    repo: HistoryRepo, tmp_path: Path
) -> None:
    lines: list[str] = []
    into = tmp_path / "clone"

    clone_repository(repo.url, into, allow_file_repos=True, progress=lines.append)

    assert (into / "README").read_text() == "v2\n"
    assert not (into / "feature.txt").exists()
    assert git(into, "rev-list", "--count", "HEAD") == "2"
    assert lines[-1] == "cloning 100 %"


@pytest.mark.parametrize(
    ("ref", "readme", "feature"),
    [("feature", "v1\n", True), ("v1", "v1\n", False), ("first", "v1\n", False)],
)
def test_repo_ref_names_a_branch_a_tag_or_a_commit(
    repo: HistoryRepo, tmp_path: Path, ref: str, readme: str, feature: bool
) -> None:
    into = tmp_path / "clone"
    wanted = repo.first_commit if ref == "first" else ref

    clone_repository(repo.url, into, repo_ref=wanted, allow_file_repos=True)

    assert (into / "README").read_text() == readme
    assert (into / "feature.txt").exists() is feature
    if ref == "feature":  # a branch is checked out as a branch, not detached
        assert git(into, "rev-parse", "--abbrev-ref", "HEAD") == "feature"


def test_an_unknown_ref_fails_with_gits_last_line(repo: HistoryRepo, tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as caught:
        clone_repository(repo.url, tmp_path / "c", repo_ref="nope", allow_file_repos=True)

    assert str(caught.value).startswith("git checkout nope failed: error: pathspec 'nope'")
    assert not caught.value.transient


def test_a_missing_repository_fails_with_gits_last_line(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/absent"
    with pytest.raises(ProviderError) as caught:
        clone_repository(url, tmp_path / "c", allow_file_repos=True)

    # git ends with "Please make sure ... / and the repository exists.": its fatal line is kept
    assert str(caught.value) == "git clone failed: fatal: Could not read from remote repository."
    assert not caught.value.transient


def test_file_repositories_are_refused_unless_allowed(repo: HistoryRepo, tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match=r"git clone failed: fatal: .*file"):
        clone_repository(repo.url, tmp_path / "c", allow_file_repos=False)


def test_the_ext_transport_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ProviderError, match="git clone failed"):
        clone_repository(f"ext::sh -c 'touch {marker}'", tmp_path / "c", allow_file_repos=True)
    assert not marker.exists()


def test_options_are_not_accepted_as_a_url_or_a_ref(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="must not start with '-'"):
        clone_repository("--upload-pack=touch /tmp/x", tmp_path / "c")
    with pytest.raises(ProviderError, match="must not be empty nor start with '-'"):
        clone_repository("https://example.invalid/r.git", tmp_path / "c", repo_ref="--orphan")


def test_a_clone_past_its_time_limit_is_stopped(repo: HistoryRepo, tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="git clone timed out after 0 s"):
        clone_repository(repo.url, tmp_path / "c", allow_file_repos=True, timeout=0.001)


def test_overall_percent_weighs_the_phases() -> None:
    assert overall_percent("Receiving objects", 0) == 0
    assert overall_percent("Receiving objects", 100) == 70
    assert overall_percent("Resolving deltas", 100) == 80
    assert overall_percent("Updating files", 50) == 90
    assert overall_percent("Counting objects", 50) is None  # the server's, not ours


@pytest.mark.parametrize(
    ("ref", "readme", "branch"),
    [(None, "v2\n", "main"), ("feature", "v1\n", "feature"), ("v1", "v1\n", "HEAD")],
)
def test_a_clone_without_worktree_streams_the_files_and_stays_clean(
    repo: HistoryRepo, tmp_path: Path, ref: str | None, readme: str, branch: str
) -> None:
    """What the Docker provider does: .git only on the worker, the files as a tar stream."""
    into = tmp_path / "clone"
    clone_repository(repo.url, into, repo_ref=ref, allow_file_repos=True, checkout=False)
    assert sorted(p.name for p in into.iterdir()) == [".git"]

    with tarfile.open(fileobj=io.BytesIO(b"".join(tree_archive(into)))) as tar:
        assert {m.uid for m in tar.getmembers()} == {0}
        tar.extractall(into, filter="data")

    assert (into / "README").read_text() == readme
    assert git(into, "rev-parse", "--abbrev-ref", "HEAD") == branch
    assert git(into, "status", "--porcelain") == ""  # index, HEAD and files agree


def test_a_clone_without_worktree_at_an_unknown_ref(repo: HistoryRepo, tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match=r"^git checkout nope failed: fatal: "):
        clone_repository(
            repo.url, tmp_path / "c", repo_ref="nope", allow_file_repos=True, checkout=False
        )
