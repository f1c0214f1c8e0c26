"""`vm-api ws exec|cp|logs` against a real `vm-api` with a Docker workspace."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from harness import RunningService, vm_api_command, wait_for_status, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def docker_service(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[RunningService]:
    service = service_factory(VM_API_DEFAULT_PROVIDER="docker")
    yield service
    for workspace in service.client.get("/api/v1/workspaces").json():
        service.client.delete(f"/api/v1/workspaces/{workspace['id']}")
    wait_until(
        lambda: service.client.get("/api/v1/workspaces").json() == [],
        timeout=60,
        what="every workspace deleted",
    )


def ws(
    service: RunningService, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VM_API_")}
    env.update(VM_API_URL=service.process.url, VM_API_USER="alice")
    return subprocess.run(
        [vm_api_command(), "ws", *args],
        env=env, capture_output=True, text=True, timeout=60, input=stdin,
    )  # fmt: skip


def test_exec_cp_and_logs(docker_service: RunningService, tmp_path: Path) -> None:
    assert ws(docker_service, "create", "box").returncode == 0
    wait_for_status(docker_service.client, ws_id(docker_service), ("running",), timeout=30)

    done = ws(docker_service, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (done.returncode, done.stdout, done.stderr) == (5, "out\n", "err\n")
    assert ws(docker_service, "exec", "box").returncode == 2  # no command

    local = tmp_path / "notes.txt"
    local.write_text("kept\n")
    assert ws(docker_service, "cp", str(local), "box:notes.txt").returncode == 0
    assert ws(docker_service, "exec", "box", "--", "cat", "notes.txt").stdout == "kept\n"
    back = tmp_path / "back.txt"
    copied = ws(docker_service, "cp", "box:notes.txt", str(back))
    assert copied.returncode == 0, copied.stderr
    assert back.read_text() == "kept\n"
    assert ws(docker_service, "cp", "box:../../etc/passwd", str(back)).returncode == 4

    # exec's own options sit between the name and `--`; what follows `--` is the command.
    piped = ws(docker_service, "exec", "box", "-i", "--", "sh", "-c", "tr a-z A-Z", stdin="abc\n")
    assert (piped.returncode, piped.stdout) == (0, "ABC\n"), piped.stderr
    assert ws(docker_service, "exec", "box", "--", "cat").stdout == ""  # no -i: no stdin
    assert ws(docker_service, "exec", "box", "--", "mkdir", "-p", "sub").returncode == 0
    placed = ws(
        docker_service, "exec", "box", "-w", "sub", "-e", "GREETING=hi there", "--json",
        "--", "sh", "-c", 'echo "$GREETING from $(pwd)" -- --json',
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["stdout"] == "hi there from /workspace/sub -- --json\n"
    assert ws(docker_service, "exec", "box", "-e", "novalue", "--", "true").returncode == 2

    # cp as cp does it: into a folder under the source's own name, folders as folders,
    # `-` for standard input
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print(1)\n")
    (project / "README").write_text("hi\n")
    (project / "docs").symlink_to("src")
    sent = ws(docker_service, "cp", str(project), "box:")
    assert (sent.returncode, sent.stdout) == (0, f"copied {project} (2 files) to project\n")
    assert ws(docker_service, "cp", str(local), "box:project").returncode == 0  # a folder there
    assert ws(docker_service, "cp", str(local), "box:project/src/").returncode == 0
    tree = ws(docker_service, "exec", "box", "--", "sh", "-c",
              "cd project && find . | sort && readlink docs && cat src/notes.txt")  # fmt: skip
    assert tree.stdout.split() == [".", "./README", "./docs", "./notes.txt", "./src",
                                   "./src/main.py", "./src/notes.txt", "src", "kept"]  # fmt: skip
    # and out again: a folder becomes a local folder, as cp -r makes it
    ws(docker_service, "exec", "box", "--", "ln", "-s", "/etc/passwd", "project/pw")
    fresh = ws(docker_service, "cp", "box:project", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    assert "left out project/pw" in fresh.stderr  # a link out of the folder is not made here
    assert (tmp_path / "fresh" / "src" / "main.py").read_text() == "print(1)\n"
    assert os.readlink(tmp_path / "fresh" / "docs") == "src"
    assert not (tmp_path / "fresh" / "pw").exists() and not (tmp_path / "fresh" / "pw").is_symlink()
    (tmp_path / "existing").mkdir()
    into = ws(docker_service, "cp", "box:project", str(tmp_path / "existing"))
    assert into.stdout == f"copied project to {tmp_path / 'existing' / 'project'}\n", into.stderr
    assert (tmp_path / "existing" / "project" / "README").read_text() == "hi\n"
    assert ws(docker_service, "cp", "box:project", str(tmp_path / "p.tar")).returncode == 0
    with tarfile.open(tmp_path / "p.tar") as archive:
        assert "project/src/main.py" in archive.getnames()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no scratch

    piped = ws(docker_service, "cp", "-", "box:from-stdin.txt", stdin="piped\n")
    assert piped.returncode == 0, piped.stderr
    assert ws(docker_service, "exec", "box", "--", "cat", "from-stdin.txt").stdout == "piped\n"
    assert ws(docker_service, "cp", "-", "box:", stdin="x").returncode == 2
    assert ws(docker_service, "cp", str(project), "box:from-stdin.txt").returncode == 4  # a file

    logs = ws(docker_service, "logs", "box", "--tail", "5")
    assert logs.returncode == 0, logs.stderr


def ws_id(service: RunningService) -> str:
    return str(service.client.get("/api/v1/workspaces").json()[0]["id"])
