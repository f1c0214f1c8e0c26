"""A real git repository with history for the clone tests: `main` with README "v1", a tag `v1`
on it, a branch `feature` adding feature.txt, and `main` moved on to README "v2"."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, check=True, timeout=30, capture_output=True, text=True
    )
    return result.stdout.strip()


@dataclass(frozen=True)
class HistoryRepo:
    path: Path
    first_commit: str  # README "v1"

    @property
    def url(self) -> str:
        return f"file://{self.path}"


def make_history_repo(path: Path) -> HistoryRepo:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "README").write_text("v1\n")
    git(path, "add", "README")
    git(path, "commit", "--quiet", "-m", "one")
    first = git(path, "rev-parse", "HEAD")
    git(path, "tag", "v1")
    git(path, "checkout", "--quiet", "-b", "feature")
    (path / "feature.txt").write_text("feature\n")
    git(path, "add", "feature.txt")
    git(path, "commit", "--quiet", "-m", "feature")
    git(path, "checkout", "--quiet", "main")
    (path / "README").write_text("v2\n")
    git(path, "commit", "--quiet", "-am", "two")
    return HistoryRepo(path, first)
