"""An interactive shell with a TTY in a workspace's container: the blocking side of the terminal.

Docker hands an interactive exec over as a hijacked HTTP connection (`exec_start(socket=True)`):
raw terminal bytes both ways when the exec has a TTY. Every call here blocks; the web side runs
them on threads of its own (service/terminal_bridge.py). Closing the socket does not end the
shell (moby #9994), so `close()` kills it first.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from tasks.providers.base import ProviderError
from tasks.providers.docker import container_name
from tasks.providers.docker_daemon import close_hijacked, raw_socket
from tasks.providers.docker_processes import kill_exec

log = logging.getLogger("vm_api.terminal")

READ_SIZE = 256 * 1024  # one recv: a whole burst of `cat` output in as few frames as possible
TERM = "xterm-256color"
# Start in the template's workdir when it exists (the volume is mounted there), else wherever
# the image starts; `exec` keeps the shell the exec's own process, the one kill_exec ends.
_START_IN_WORKDIR = 'cd -- "$1" 2>/dev/null; exec "$0"'


@dataclass
class DockerTerminal:
    """One shell; `read`, `write` and `resize` may be called from different threads. `client`
    gives the calling thread's Docker client (DockerProvider.client): one client per thread."""

    client: Callable[[], docker.DockerClient]
    container: str
    exec_id: str
    sock: Any  # docker's SocketIO; kept so that its response (and connection) stay alive
    raw: socket.socket
    pending: bytes = b""  # output that arrived with the upgrade's headers
    closed: bool = field(default=False)

    def read(self) -> bytes:
        """The next output; b"" once the shell has exited or the terminal is closed."""
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        try:
            return self.raw.recv(READ_SIZE)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self.raw.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        try:
            self.client().api.exec_resize(self.exec_id, height=rows, width=cols)
        except docker.errors.APIError as exc:  # the shell exited in between: nothing to resize
            log.debug("resize of exec %s refused: %s", self.exec_id, exc)

    def exit_code(self, wait: float = 2.0) -> int | None:
        """The shell's exit status once its output has ended; None if it still runs after
        `wait` seconds (Docker notes the exit a moment after the TTY closes)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                info = self.client().api.exec_inspect(self.exec_id)
            except (docker.errors.APIError, requests.exceptions.RequestException):
                return None
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def close(self) -> None:
        """Hang up, as closing a terminal window does: SIGHUP to every process of the shell's
        session (background jobs too; `nohup` ones keep running), then SIGKILL the shell."""
        if self.closed:
            return
        self.closed = True
        try:
            _hang_up(self.client(), self.container, self.exec_id)
            kill_exec(self.client(), self.container, self.exec_id)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("could not end terminal exec %s: %s", self.exec_id, exc)
        with suppress(OSError):
            self.raw.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in recv
        close_hijacked(self.sock)


def _session_members(host_pid: int) -> list[int]:
    """Pids, inside the container, of the processes in the session `host_pid` leads (read from
    the host's /proc: the daemon runs on this host, as docker_processes.py assumes too)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
            if int(fields[3]) != host_pid:
                continue
            status = Path(f"/proc/{entry.name}/status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # gone in between, or not ours to read
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                members.append(int(line.split()[-1]))
    return members


def _hang_up(client: docker.DockerClient, container: str, exec_id: str) -> None:
    try:
        info = client.api.exec_inspect(exec_id)
    except docker.errors.NotFound:
        return
    if not info.get("Running"):
        return
    pids = [pid for pid in _session_members(int(info.get("Pid") or 0)) if pid > 1]
    if not pids:
        return
    with suppress(docker.errors.APIError, requests.exceptions.RequestException):
        killer = client.api.exec_create(
            container, ["kill", "-HUP", *map(str, pids)], user="0", stdout=False, stderr=False
        )
        client.api.exec_start(killer["Id"])


def _buffered_output(sock: Any) -> bytes:
    """What the HTTP client read past the upgrade's headers (the first prompt can arrive in the
    same packet): its buffered reader holds it, the raw socket no longer does."""
    buffered = sock._response.raw._fp.fp
    raw = raw_socket(sock)
    raw.setblocking(False)  # peek() then returns what is buffered and never waits for more
    try:
        return bytes(buffered.peek())
    except (BlockingIOError, OSError, ValueError):
        return b""
    finally:
        raw.setblocking(True)


def open_terminal(
    client: Callable[[], docker.DockerClient],
    workspace_id: str,
    shell: str,
    workdir: str,
    cols: int | None = None,
    rows: int | None = None,
) -> DockerTerminal:
    """Start `shell` with a TTY in the workspace's container; ProviderError if Docker refuses."""
    container = container_name(workspace_id)
    api = client().api
    try:
        created = api.exec_create(
            container,
            ["/bin/sh", "-c", _START_IN_WORKDIR, shell, workdir],
            stdin=True,
            tty=True,
            environment={"TERM": TERM},
        )
        exec_id = created["Id"]
        sock = api.exec_start(exec_id, tty=True, socket=True)
    except docker.errors.NotFound as exc:
        raise ProviderError(f"container {container} does not exist") from exc
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise ProviderError(f"could not start a shell in {container}: {exc}") from exc
    raw = raw_socket(sock)
    raw.settimeout(None)  # reads wait for output for as long as the session lasts
    terminal = DockerTerminal(client, container, exec_id, sock, raw, _buffered_output(sock))
    if cols and rows:
        terminal.resize(cols, rows)
    return terminal
