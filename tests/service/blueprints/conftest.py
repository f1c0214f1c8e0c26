"""Fixtures for the HTTP tests: per-test settings overrides and a local git repository."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings fields a test changes: `@pytest.mark.parametrize("overrides", [{...}])`."""
    return {}


@pytest.fixture
def settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    return replace(settings, **overrides)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A local repository with one commit, for repo_url."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README").write_text("hello\n")
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for command in (["init", "--quiet"], ["add", "README"], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *identity, *command], cwd=repo, check=True, timeout=30)
    return repo
