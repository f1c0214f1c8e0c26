"""Shared fixtures: settings on temporary files, a migrated database, an app and a client."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from db_support import TEST_DATABASE_URL, created_schemas, test_backends
from docker_support import require_docker
from quart import Quart
from quart.testing import QuartClient

from models.settings import Settings
from models.store import close_store
from service.app import create_app
from service.prestart import run_prestart
from tasks.providers import reset_providers
from tasks.queue import configure_queue, huey

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_FILE = REPO_ROOT / "tests" / "data" / "templates.toml"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    env = {
        "VM_API_DB_PATH": str(tmp_path / "vm.db"),
        "VM_API_DEFAULT_PROVIDER": "local",
        "VM_API_ALLOW_DEV_USER_HEADER": "true",
        "VM_API_ALLOW_FILE_REPOS": "true",
        "VM_API_TEMPLATES_FILE": str(TEMPLATES_FILE),
    }
    env.update(test_backends())
    return replace(Settings.from_env(env), **overrides)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if TEST_DATABASE_URL is None:
        return
    skip = pytest.mark.skip(reason="about the SQLite file; this run has the data on PostgreSQL")
    for item in items:
        if item.get_closest_marker("sqlite_only") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    if TEST_DATABASE_URL is None or not created_schemas:
        return
    import psycopg2

    connection = psycopg2.connect(TEST_DATABASE_URL)
    connection.autocommit = True
    with connection.cursor() as cursor:
        for schema in created_schemas:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    connection.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def migrated(settings: Settings) -> Iterator[Settings]:
    """A migrated database and a configured queue, with nothing else running."""
    from models.store import open_store

    run_prestart(settings)
    open_store(settings.data_target)
    configure_queue(settings)
    reset_providers()
    yield settings
    close_store()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    run_prestart(settings)
    reset_providers()
    application = create_app(settings)
    async with application.test_app():
        yield application
    close_store()


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return app.test_client()


@pytest.fixture
def immediate() -> Iterator[None]:
    """Run tasks inline (huey immediate mode): for unit tests of the task logic only."""
    import tasks.worker  # noqa: F401  (registers every task)

    huey.immediate = True
    yield
    huey.immediate = False


def as_user(user: str) -> dict[str, str]:
    return {"x-user": user}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment of the machine must not leak into Settings.from_env() in tests.
    for name in list(os.environ):
        if name.startswith("VM_API_") and name != "VM_API_REQUIRE_DOCKER":
            monkeypatch.delenv(name)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real local repository with one commit (README holding "hello\n"), for repo_url."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README").write_text("hello\n")
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for command in (["init", "--quiet"], ["add", "README"], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *identity, *command], cwd=repo, check=True, timeout=30)
    return repo


@pytest.fixture
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the real daemon; skips (or fails, with VM_API_REQUIRE_DOCKER=1) without one."""
    require_docker()
    client = docker.from_env(timeout=30)
    yield client
    client.close()
