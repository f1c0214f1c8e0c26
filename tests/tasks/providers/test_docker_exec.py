"""run_exec and the path rules of docker_files, against the real daemon (no mocks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tasks.providers.base import WorkspaceSpec
from tasks.providers.docker import DockerProvider
from tasks.providers.docker_exec import ExecRefused, run_exec
from tasks.providers.docker_files import PathOutside, split_path

MakeSpec = Callable[..., WorkspaceSpec]


def test_stdin_larger_than_a_pipe_goes_through_while_output_comes_back(
    provider: DockerProvider, make_spec: MakeSpec
) -> None:
    container = provider.create(make_spec()).provider_id
    data = bytes(range(256)) * 4096  # 1 MiB: cat writes back while we are still writing

    result = run_exec(provider.client(), container, ["cat"], stdin=data, timeout=30)

    assert (result.exit_code, result.stdout, result.truncated) == (0, data, False)


def test_exec_in_a_stopped_container_is_refused(
    provider: DockerProvider, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    container = provider.create(spec).provider_id
    provider.stop(spec.id)

    with pytest.raises(ExecRefused):
        run_exec(provider.client(), container, ["true"])


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        (".", []),
        ("a/b", ["a", "b"]),
        ("./a//b/", ["a", "b"]),
        ("/workspace", []),
        ("/workspace/a", ["a"]),
    ],
)
def test_paths_inside_the_workdir(path: str, parts: list[str]) -> None:
    assert split_path("/workspace", path) == parts


@pytest.mark.parametrize(
    "path", ["..", "../x", "a/../b", "/etc", "/workspacex/a", "/workspace/../etc", "a\0b"]
)
def test_paths_outside_the_workdir(path: str) -> None:
    with pytest.raises(PathOutside):
        split_path("/workspace", path)
