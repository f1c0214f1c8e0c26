"""Run the real `vm-api` command as a subprocess, for end-to-end and fault tests.

`ServiceConfig` is one service's environment (its own port, database and data folder under a
temporary directory); `ServiceProcess` is one `vm-api` process run with it: the all-in-one
command (no arguments), `web`, `worker` or `prestart`. Several processes may share one config,
e.g. `vm-api web` and `vm-api worker` started separately, or a worker killed and started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from db_support import test_backends

from models.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_FILE = REPO_ROOT / "tests" / "data" / "templates.toml"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def vm_api_command() -> str:
    """The `vm-api` script of the interpreter running the tests, else the one on PATH."""
    beside = Path(sys.executable).with_name("vm-api")
    if beside.is_file():
        return str(beside)
    import shutil

    found = shutil.which("vm-api")
    if found is None:
        raise RuntimeError("no vm-api command beside the interpreter nor on PATH")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_environment(home: Path) -> dict[str, str]:
    """A fresh environment: nothing from the caller's VM_API_* or Docker settings leaks in."""
    bin_dir = str(Path(vm_api_command()).parent)
    env = {
        "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    if "DOCKER_HOST" in os.environ:  # where the machine's daemon is, for the docker provider
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll until `predicate()` is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


@dataclass
class ServiceConfig:
    """The environment of one service instance, rooted in a temporary folder."""

    root: Path
    port: int = field(default_factory=free_port)
    overrides: dict[str, str] = field(default_factory=dict)
    instance: str = field(default_factory=lambda: f"vm-api-test-{uuid.uuid4().hex[:12]}")
    # the data on PostgreSQL, the queue on Redis, in a run with TEST_DATABASE_URL and
    # TEST_QUEUE_URL (a schema and a queue name per service)
    backends: dict[str, str] = field(default_factory=test_backends)

    @property
    def database_url(self) -> str | None:
        return self.backends.get("VM_API_DATABASE_URL")

    @property
    def db_path(self) -> Path:
        return self.root / "db" / "vm.db"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workspace_dir(self, workspace_id: str) -> Path:
        return self.data_dir / "workspaces" / workspace_id

    def environment(self) -> dict[str, str]:
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = base_environment(home)
        env.update(
            {
                "VM_API_BIND": f"127.0.0.1:{self.port}",
                "VM_API_DB_PATH": str(self.db_path),
                "VM_API_DATA_DIR": str(self.data_dir),
                "VM_API_DEFAULT_PROVIDER": "local",
                "VM_API_ALLOW_FILE_REPOS": "1",
                "VM_API_TEMPLATES_FILE": str(TEMPLATES_FILE),
                # Its own label value: the janitor's drift repair of one test run must never
                # see another run's containers on the same daemon as orphans.
                "VM_API_INSTANCE": self.instance,
            }
        )
        # its own instance name (set above) already keeps its Redis queue apart
        env.update({k: v for k, v in self.backends.items() if k != "VM_API_INSTANCE"})
        env.update(self.overrides)
        return env

    def settings(self) -> Settings:
        """The settings the service's processes read (for tests that look into its data)."""
        return Settings.from_env(self.environment())

    def client(self, user: str = "alice") -> httpx.Client:
        """A sync client with the dev identity header; the caller closes it."""
        return httpx.Client(base_url=self.url, headers={"x-user": user}, timeout=10.0)


class ServiceProcess:
    """One `vm-api [subcommand]` process, its output in `log_path`."""

    def __init__(self, config: ServiceConfig, *args: str, name: str | None = None) -> None:
        self.config = config
        self.args = args
        self.name = name or ("-".join(args) if args else "all")
        self.log_path = _unused_path(config.root, f"vm-api-{self.name}")
        self._start_offset = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._known_children: set[int] = set()

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"vm-api {self.name} was not started")
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def start(self, extra_env: Mapping[str, str] | None = None) -> ServiceProcess:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"vm-api {self.name} is already running")
        env = self.config.environment()
        env.update(extra_env or {})
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop())
        self._start_offset = self._log.tell()
        self.process = subprocess.Popen(
            [vm_api_command(), *self.args],
            env=env,
            cwd=self.config.root,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C is simulated, never inherited
        )
        return self

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def describe(self) -> str:
        return (
            f"vm-api {self.name} (pid {self.pid}, exit {self.returncode}); log:\n{self.log_tail()}"
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until GET /health/ready answers 200; fails early, with the log, if the process died."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while True:
                if self.returncode is not None:
                    raise AssertionError(f"exited before it was ready: {self.describe()}")
                try:
                    if client.get("/health/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() >= deadline:
                    raise AssertionError(f"not ready within {timeout} s: {self.describe()}")
                time.sleep(0.1)

    def log_since_start(self) -> str:
        """The output of the latest start() only (a restarted process appends to its log)."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._start_offset)
            return log.read().decode(errors="replace")

    def wait_for_log(self, text: str, timeout: float = READY_TIMEOUT) -> None:
        """Until `text` appears in the output of the latest start (e.g. the consumer's start
        line)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_since_start():
            if self.returncode is not None:
                raise AssertionError(f"exited before logging {text!r}: {self.describe()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} not logged within {timeout} s: {self.describe()}")
            time.sleep(0.1)

    def wait_started(self, timeout: float = READY_TIMEOUT) -> None:
        """Ready for requests and for signals: what each mode needs before a test goes on."""
        if self.args == ("worker",):
            self.wait_consumer_ready(timeout)
        elif self.args in ((), ("web",)):
            self.wait_ready(timeout)
        if self.args == ():
            worker = wait_until(lambda: self._child_or_none("worker"), timeout, what="worker")
            try:
                wait_until(lambda: catches_signal(worker, signal.SIGHUP), timeout, what="handlers")
            except TimeoutError:
                raise AssertionError(f"worker installed no handlers: {self.describe()}") from None

    def _child_or_none(self, subcommand: str) -> int | None:
        try:
            return self.child(subcommand)
        except LookupError:
            return None

    def wait_consumer_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the huey consumer has started and installed its signal handlers.

        huey logs "Huey consumer started" before it installs them; a SIGINT sent in between
        would hit Python's default handler (KeyboardInterrupt, exit 130) instead of draining.
        """
        self.wait_for_log("Huey consumer started", timeout)
        try:
            wait_until(lambda: catches_signal(self.pid, signal.SIGHUP), timeout, what="handlers")
        except TimeoutError:
            raise AssertionError(f"no signal handlers installed: {self.describe()}") from None

    def children(self) -> list[int]:
        """Direct children (the all-in-one command's web and worker processes)."""
        if self.process is None:
            return []
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        pids = [int(part) for part in text.split()]
        self._known_children.update(pids)
        return pids

    def child(self, subcommand: str) -> int:
        """The pid of the all-in-one command's `web` or `worker` child."""
        for pid in self.children():
            if command_line(pid)[-1:] == [subcommand]:
                return pid
        raise LookupError(f"vm-api {self.name} has no {subcommand} child: {self.describe()}")

    def send(self, sig: signal.Signals) -> None:
        self.children()  # remember them: they must be gone after a stop too
        os.kill(self.pid, sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig`, wait up to `timeout`, SIGKILL (with the children) as a last resort.

        Returns the exit code; a process that needed SIGKILL raises after being killed.
        """
        if self.process is None:
            raise RuntimeError(f"vm-api {self.name} was not started")
        killed = False
        if self.process.poll() is None:
            self.send(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.kill()
        self._close_log()
        if killed:
            raise AssertionError(
                f"did not stop within {timeout} s of {sig.name}; killed: {self.describe()}"
            )
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the process and every child it was seen with, with their process groups
        (each is a group leader), so that a task's git or docker child goes too."""
        self.children()
        for pid in [self.pid, *self._known_children]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=STOP_TIMEOUT)
        self._close_log()

    def leftover_children(self) -> list[int]:
        """Children seen earlier that still run (zombies do not count)."""
        return [pid for pid in sorted(self._known_children) if pid_alive(pid)]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _unused_path(folder: Path, stem: str) -> Path:
    """`stem.log`, or `stem-2.log`, ...: each process of a config gets its own log."""
    folder.mkdir(parents=True, exist_ok=True)
    path, number = folder / f"{stem}.log", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.log"
    path.touch()
    return path


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def catches_signal(pid: int, sig: signal.Signals) -> bool:
    """True when `pid` has a handler installed for `sig` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def git_repository(path: Path, files: Mapping[str, str]) -> Path:
    """A committed git repository at `path` holding `files`."""
    path.mkdir(parents=True)
    for name, content in files.items():
        (path / name).write_text(content)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(path.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    }
    for command in (
        ["git", "init", "--quiet", "--initial-branch=main"],
        ["git", "add", "--all"],
        ["git", "commit", "--quiet", "--message", "initial"],
    ):
        subprocess.run(command, cwd=path, env=env, check=True, capture_output=True, timeout=30)
    return path


def wait_for_status(
    client: httpx.Client, workspace_id: str, statuses: tuple[str, ...], timeout: float
) -> dict[str, Any]:
    """Poll GET /api/v1/workspaces/{id} until its status is one of `statuses`."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        nonlocal last
        response = client.get(f"/api/v1/workspaces/{workspace_id}")
        assert response.status_code == 200, response.text
        last = response.json()
        return last if last["status"] in statuses else None

    try:
        return wait_until(reached, timeout, what=f"status in {statuses}")
    except TimeoutError:
        raise AssertionError(f"workspace {workspace_id} stuck at {last}") from None


def wait_for_gone(client: httpx.Client, workspace_id: str, timeout: float) -> None:
    """Poll until GET /api/v1/workspaces/{id} answers 404."""
    last = ""

    def gone() -> bool:
        nonlocal last
        response = client.get(f"/api/v1/workspaces/{workspace_id}")
        last = f"{response.status_code} {response.text}"
        return response.status_code == 404

    try:
        wait_until(gone, timeout, what="404")
    except TimeoutError:
        raise AssertionError(f"workspace {workspace_id} still there: {last}") from None


@dataclass
class RunningService:
    """A started, ready `vm-api` process and a client for it (x-user: alice)."""

    process: ServiceProcess
    client: httpx.Client

    @property
    def config(self) -> ServiceConfig:
        return self.process.config

    @property
    def log_path(self) -> Path:
        return self.process.log_path


StartService = Callable[..., ServiceProcess]
