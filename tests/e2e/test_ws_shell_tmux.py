"""`vm-api ws shell` as a person uses it: in a real terminal (tmux), keys typed, the screen read
back, against a real `vm-api` with a Docker workspace."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest
from harness import RunningService, vm_api_command, wait_for_status, wait_until

from client.http import Api, ApiError, Connection
from client.shell import _connect

pytestmark = pytest.mark.slow


class Tmux:
    """One detached tmux session on a socket of its own."""

    def __init__(self, width: int = 100, height: int = 30) -> None:
        self.socket = f"vm-api-test-{uuid.uuid4().hex[:8]}"
        self.session = "ws"
        self.width, self.height = width, height

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", self.session, "-x", str(self.width),
                 "-y", str(self.height), command)  # fmt: skip

    def type(self, keys: str) -> None:
        self.run("send-keys", "-t", self.session, "-l", keys)
        self.run("send-keys", "-t", self.session, "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def resize(self, width: int, height: int) -> None:
        self.run("resize-window", "-t", self.session, "-x", str(width), "-y", str(height))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail("tmux is not installed (.ci/setup-test-env installs it)")
        pytest.skip("tmux is not installed")
    session = Tmux()
    yield session
    session.close()


@pytest.fixture
def docker_workspace(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[tuple[RunningService, str]]:
    service = service_factory(VM_API_DEFAULT_PROVIDER="docker")
    created = service.client.post("/api/v1/workspaces", json={"name": "tmuxed"})
    assert created.status_code == 201, created.text
    workspace_id = created.json()["id"]
    running = wait_for_status(service.client, workspace_id, ("running", "failed"), 60)
    assert running["status"] == "running", running["error_message"]
    yield service, workspace_id
    service.client.delete(f"/api/v1/workspaces/{workspace_id}")
    wait_until(
        lambda: service.client.get(f"/api/v1/workspaces/{workspace_id}").status_code == 404,
        timeout=60,
        what="the workspace to be deleted",
    )


def test_a_person_types_in_vm_api_ws_shell(
    tmux: Tmux, docker_workspace: tuple[RunningService, str], tmp_path: object
) -> None:
    service, _ = docker_workspace
    status_file = f"{tmp_path}/status"
    command = (
        f"env VM_API_URL={service.process.url} VM_API_USER=alice "
        f"{shlex.quote(vm_api_command())} ws shell tmuxed; echo $? > {status_file}; sleep 60"
    )
    tmux.start(command)
    wait_until(lambda: "#" in tmux.screen() or "$" in tmux.screen(), timeout=20,
               what="the shell's prompt")  # fmt: skip

    tmux.type("echo hello-$((6 * 7))")
    wait_until(lambda: "hello-42" in tmux.screen(), timeout=10, what="the echo on screen")

    tmux.resize(120, 40)
    time.sleep(0.5)  # SIGWINCH reaches `vm-api ws shell`, which sends the resize
    tmux.type("stty size")
    wait_until(lambda: "40 120" in tmux.screen(), timeout=10, what="the new size in the shell")

    tmux.type("exit 3")
    wait_until(lambda: os.path.exists(status_file), timeout=15, what="vm-api ws shell to exit")
    with open(status_file) as status:
        assert status.read().strip() == "3"  # the shell's exit code
    # The server's control messages (text frames) are not terminal output.
    assert '"type"' not in tmux.screen()


def test_a_refused_terminal_is_a_clear_error_not_a_traceback(
    docker_workspace: tuple[RunningService, str],
) -> None:
    service, workspace_id = docker_workspace
    # The handshake's own refusal becomes the API's error, as for any other call.
    api = Api(Connection(service.process.url, {"x-user": "alice"}))
    with pytest.raises(ApiError) as refused:
        _connect(api, workspace_id, "made-up")
    api.close()
    assert (refused.value.status, refused.value.code) == (401, "INVALID_TICKET")

    stopped = service.client.post(f"/api/v1/workspaces/{workspace_id}/stop")
    assert stopped.status_code == 202, stopped.text
    wait_for_status(service.client, workspace_id, ("stopped",), 60)
    env = {**os.environ, "VM_API_URL": service.process.url, "VM_API_USER": "alice"}
    shell = subprocess.run(
        [vm_api_command(), "ws", "shell", "tmuxed"],
        capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert shell.returncode == 4, shell.stderr  # refused
    assert "stopped" in shell.stderr and "INVALID_STATE" in shell.stderr
    assert "Traceback" not in shell.stderr
