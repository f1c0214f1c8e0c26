"""Ending a process that a Docker exec started.

Closing an exec's socket does not end its process (moby #9994), and Docker has no call to kill
an exec. The daemon reports the process's host pid; its pid inside the container is the last
field of NSpid in /proc/<pid>/status, readable when the daemon runs on this host (the default,
and every host here), and a second exec of `kill` inside the container ends it.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
import requests

log = logging.getLogger("vm_api.docker")


def _pid_in_container(host_pid: int) -> int | None:
    try:
        status = Path(f"/proc/{host_pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return None


def kill_exec(client: docker.DockerClient, container: str, exec_id: str) -> bool:
    """SIGKILL the exec's process (and with it what it started in its group, via `kill -KILL
    -PID` where it leads one); True if it is gone or was never running."""
    try:
        info = client.api.exec_inspect(exec_id)
    except docker.errors.NotFound:
        return True
    if not info.get("Running"):
        return True
    pid = _pid_in_container(int(info.get("Pid") or 0))
    if pid is None or pid <= 1:
        log.warning("exec %s in %s: cannot find its process to kill", exec_id, container)
        return False
    script = f"kill -KILL -{pid} 2>/dev/null; kill -KILL {pid}"
    with suppress(docker.errors.APIError, requests.exceptions.RequestException):
        killer = client.api.exec_create(container, ["sh", "-c", script], user="0")
        client.api.exec_start(killer["Id"])
    return _ended(client, exec_id)


def _ended(client: docker.DockerClient, exec_id: str, wait: float = 5.0) -> bool:
    # The daemon marks an exec finished when containerd's exit event reaches it, a moment after
    # the process is gone: one look straight after the kill can still say Running (CI saw it).
    deadline = time.monotonic() + wait
    while True:
        with suppress(docker.errors.APIError, requests.exceptions.RequestException):
            if not client.api.exec_inspect(exec_id).get("Running"):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
