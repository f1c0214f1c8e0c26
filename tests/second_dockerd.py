"""A second dockerd on this machine, as a second Docker host (tests/e2e/test_docker_hosts.py,
bench/host_burst.py): its own socket, data root, exec root (so its own containerd) and
pidfile; no bridge, no iptables. Needs root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker


class DaemonFailed(RuntimeError):
    """It did not come up, or the test image could not be made on it."""


def _accepts(path: Path) -> bool:
    """The daemon listens on its socket (a client made before that would leak its socket)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


@dataclass
class SecondDaemon:
    root: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def start_dockerd(
    build_script: Path, timeout: float = 60, extra_args: tuple[str, ...] = ()
) -> SecondDaemon:
    """Start it and import the test image with `build_script` (.ci/build-test-image.sh);
    `extra_args` go to dockerd (another listener, TLS)."""
    # A short path: a UNIX socket's path must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="vm-api-dockerd-", dir="/tmp"))
    command = [
        "dockerd", f"--host=unix://{root / 'docker.sock'}", f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}", f"--pidfile={root / 'docker.pid'}",
        "--bridge=none", "--iptables=false", "--ip-masq=false", *extra_args,
    ]  # fmt: skip
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115  (the daemon writes it until stopped)
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    daemon = SecondDaemon(root, process, log)
    deadline = time.monotonic() + timeout
    while not _accepts(root / "docker.sock"):
        if process.poll() is not None or time.monotonic() > deadline:
            output = (root / "dockerd.log").read_text(errors="replace")[-2000:]
            daemon.stop()
            raise DaemonFailed(f"the second dockerd did not answer: {output}")
        time.sleep(0.2)
    built = subprocess.run(
        [str(build_script)], env={**os.environ, "DOCKER_HOST": daemon.url},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if built.returncode != 0:
        daemon.stop()
        raise DaemonFailed(f"cannot build the test image on it: {built.stderr[-2000:]}")
    return daemon
