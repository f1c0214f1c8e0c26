"""The repository's supervisord.conf, run as is from the repository root.

Only the VM_API_* variables point into the test's temporary folder; supervisord's socket, pid
file and logs go to run/ in the repository, as they would for a person running it there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from harness import (
    REPO_ROOT,
    ServiceConfig,
    command_line,
    pid_alive,
    wait_for_gone,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.slow

CONF = REPO_ROOT / "supervisord.conf"
RUN_DIR = REPO_ROOT / "run"
START_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 90.0  # above the worker's stopwaitsecs, so a hang shows as a failure


def supervisor_tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is neither beside {sys.executable} nor on PATH")
    return found


@dataclass
class Supervisor:
    config: ServiceConfig
    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]
    worker_log_offset: int

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [supervisor_tool("supervisorctl"), "-c", str(CONF), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=SHUTDOWN_TIMEOUT,
            check=False,
        )

    def status(self) -> dict[str, list[str]]:
        """`supervisorctl status` as {program: [state, details...]}."""
        result = self.ctl("status")
        return {
            fields[0]: fields[1:]
            for fields in (line.split() for line in result.stdout.splitlines())
            if fields
        }

    def describe(self) -> str:
        logs = [self.output, *(RUN_DIR / f"{name}.log" for name in ("prestart", "web", "worker"))]
        parts = [f"supervisord exit {self.process.poll()}"]
        for log in logs:
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-25:]
                parts.append(f"--- {log}\n" + "\n".join(tail))
        return "\n".join(parts)

    def worker_log(self) -> str:
        """The worker's output since this supervisord started (run/worker.log is appended to)."""
        with open(RUN_DIR / "worker.log", "rb") as log:
            log.seek(self.worker_log_offset)
            return log.read().decode(errors="replace")

    def wait_for_states(self, wanted: dict[str, str]) -> dict[str, list[str]]:
        def reached() -> dict[str, list[str]] | None:
            assert self.process.poll() is None, self.describe()
            status = self.status()
            states = {name: status.get(name, ["?"])[0] for name in wanted}
            return status if states == wanted else None

        try:
            return wait_until(reached, START_TIMEOUT, interval=0.2, what=str(wanted))
        except TimeoutError:
            raise AssertionError(f"{self.status()}\n{self.describe()}") from None

    def program_pid(self, status: dict[str, list[str]], name: str) -> int:
        fields = status[name]
        return int(fields[fields.index("pid") + 1].rstrip(","))


def _supervisord_answers(env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [supervisor_tool("supervisorctl"), "-c", str(CONF), "pid"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return probe.stdout.strip().isdigit()


def service_processes(db_path: Path) -> list[int]:
    """vm-api processes (found by pgrep) that run with this test's database."""
    found = subprocess.run(
        ["pgrep", "-f", "vm-api"], capture_output=True, text=True, timeout=10, check=False
    )
    marker = f"VM_API_DB_PATH={db_path}".encode()
    pids = []
    for pid in (int(text) for text in found.stdout.split()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and pid_alive(pid):
            pids.append(pid)
    return pids


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    config = ServiceConfig(tmp_path / "service")
    env = config.environment()
    RUN_DIR.mkdir(exist_ok=True)
    worker_log = RUN_DIR / "worker.log"
    offset = worker_log.stat().st_size if worker_log.exists() else 0
    output = tmp_path / "supervisord.out"
    # The socket is shared with any supervisord run from this checkout: wait (bounded) for one
    # started by a concurrent test run to go away rather than fight over the socket.
    try:
        wait_until(lambda: not _supervisord_answers(env), 60.0, interval=1.0, what="free socket")
    except TimeoutError:
        pytest.fail(f"another supervisord keeps using {RUN_DIR / 'supervisor.sock'}")
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [supervisor_tool("supervisord"), "-c", str(CONF)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Supervisor(config, process, output, env, offset)
    try:
        yield running
    finally:
        _stop(running)


def _stop(running: Supervisor) -> None:
    """Shut supervisord down if the test did not; SIGKILL whatever is left as a last resort."""
    if running.process.poll() is None:
        running.ctl("shutdown")
        try:
            running.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(timeout=10)
    for pid in service_processes(running.config.db_path):
        os.kill(pid, signal.SIGKILL)


def test_status_shows_prestart_exited_and_web_and_worker_running(
    supervisor: Supervisor,
) -> None:
    status = supervisor.wait_for_states(
        {"prestart": "EXITED", "web": "RUNNING", "worker": "RUNNING"}
    )

    assert command_line(supervisor.program_pid(status, "web"))[-1] == "web"
    assert command_line(supervisor.program_pid(status, "worker"))[-1] == "worker"
    assert "exited: prestart (exit status 0; expected)" in supervisor.output.read_text()


def test_workspace_lifecycle_through_supervisord(supervisor: Supervisor, git_repo: Path) -> None:
    supervisor.wait_for_states({"web": "RUNNING", "worker": "RUNNING"})
    with supervisor.config.client("carol") as client:
        wait_until(lambda: _ready(client), START_TIMEOUT, interval=0.2, what="ready")
        response = client.post(
            "/api/v1/workspaces", json={"name": "supervised", "repo_url": str(git_repo)}
        )
        assert response.status_code == 201, response.text
        workspace_id = response.json()["id"]
        running = wait_for_status(client, workspace_id, ("running",), 20.0)
        folder = supervisor.config.workspace_dir(workspace_id)
        assert running["connection_info"]["path"] == str(folder)
        assert (folder / "README.md").is_file()

        assert client.delete(f"/api/v1/workspaces/{workspace_id}").status_code == 202
        wait_for_gone(client, workspace_id, 20.0)

    assert not folder.exists()


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/health/ready").status_code == 200
    except httpx.TransportError:
        return False


def test_stop_worker_drains_and_shutdown_leaves_no_process(supervisor: Supervisor) -> None:
    status = supervisor.wait_for_states({"web": "RUNNING", "worker": "RUNNING"})
    pids = [supervisor.program_pid(status, name) for name in ("web", "worker")]

    stopped = supervisor.ctl("stop", "worker")

    assert "worker: stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert supervisor.status()["worker"][0] == "STOPPED"
    drained = supervisor.worker_log()
    assert "Received SIGINT" in drained  # stopsignal=INT: running tasks finish
    assert "Consumer exiting." in drained

    shutdown = supervisor.ctl("shutdown")

    assert shutdown.returncode == 0, shutdown.stdout + shutdown.stderr
    assert supervisor.process.wait(timeout=SHUTDOWN_TIMEOUT) == 0, supervisor.describe()
    assert wait_until(lambda: not any(pid_alive(pid) for pid in pids), 5.0, what="exit")
    assert service_processes(supervisor.config.db_path) == []
    assert not (RUN_DIR / "supervisor.sock").exists()
