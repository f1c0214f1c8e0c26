"""A workspace's files survive a restart of the Docker daemon.

The shared daemon is never restarted: the test starts a private, second `dockerd` of its own
(its own socket, data root, exec root, pid file and containerd namespace, no bridge, no
iptables), imports the test image into it, creates a workspace there through DockerProvider,
writes a file in the volume, restarts that daemon and reads the file back.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docker_support import BUILD_SCRIPT, TEST_COMMAND, TEST_IMAGE
from harness import wait_until

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.docker import DockerProvider, container_name

pytestmark = [pytest.mark.slow, pytest.mark.docker]

START_TIMEOUT = 60.0


@dataclass
class PrivateDaemon:
    root: Path
    process: subprocess.Popen[bytes] | None = None
    # containerd's namespaces: letters and digits, and none shared with the machine's daemon
    namespace: str = field(default_factory=lambda: f"vmtest{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def command(self) -> list[str]:
        name = self.namespace
        return [
            "dockerd",
            "--host", self.url,
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"),
            "--containerd-namespace", name,
            "--containerd-plugins-namespace", f"{name}-plugins",
            "--bridge=none", "--iptables=false", "--ip-masq=false",
        ]  # fmt: skip

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115  (the child holds it)
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_until(self._answers, START_TIMEOUT, interval=0.2, what="private dockerd answering")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"private dockerd exited: {self.log_tail()}")
        probe = DockerProvider(self.url, timeout=5, attempts=1)
        try:
            probe.ping()
        except ProviderError:
            return False
        finally:
            probe.close()
        return True

    def stop(self) -> None:
        """SIGTERM, as a service manager would; dockerd stops its containers and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self) -> str:
        path = self.root / "dockerd.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""
        )


@pytest.fixture
def private_daemon() -> Iterator[PrivateDaemon]:
    if shutil.which("dockerd") is None:
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail("VM_API_REQUIRE_DOCKER=1 but dockerd is not installed")
        pytest.skip("dockerd is not installed; VM_API_REQUIRE_DOCKER=1 makes this a failure")
    if os.geteuid() != 0:
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail("VM_API_REQUIRE_DOCKER=1 but a private dockerd needs root")
        pytest.skip("a private dockerd needs root")
    # short: a unix socket path has a length limit
    root = Path(tempfile.mkdtemp(prefix="vmd-", dir="/tmp"))
    daemon = PrivateDaemon(root)
    try:
        daemon.start()
        env = {**os.environ, "DOCKER_HOST": daemon.url}
        built = subprocess.run(
            [str(BUILD_SCRIPT)], env=env, capture_output=True, text=True, timeout=300
        )
        assert built.returncode == 0, built.stderr
        yield daemon
    finally:
        daemon.stop()
        # what the daemon left mounted under its roots, then the folder
        for mount in reversed(Path("/proc/mounts").read_text().splitlines()):
            point = mount.split()[1]
            if point.startswith(str(root)):
                subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_files_in_the_volume_survive_a_daemon_restart(private_daemon: PrivateDaemon) -> None:
    provider = DockerProvider(private_daemon.url, service_label=f"vm-api-test-{uuid.uuid4()}")
    spec = WorkspaceSpec(
        id=str(uuid.uuid4()), owner="alice", name="lasting", image=TEST_IMAGE,
        command=TEST_COMMAND, network="none",
    )  # fmt: skip
    try:
        provider.create(spec)
        client = provider.client()
        written = client.containers.get(container_name(spec.id)).exec_run(
            ["sh", "-c", "echo survives > /workspace/notes.txt"]
        )
        assert written.exit_code == 0, written.output
        provider.close()

        private_daemon.stop()
        private_daemon.start()

        client = provider.client()

        def running() -> bool:
            container = client.containers.get(container_name(spec.id))
            return container.status == "running"

        # the restart policy brings the workspace back by itself
        wait_until(running, 30, interval=0.2, what="workspace running after the restart")
        read = client.containers.get(container_name(spec.id)).exec_run(
            ["cat", "/workspace/notes.txt"]
        )
        assert (read.exit_code, read.output) == (0, b"survives\n")
        provider.destroy(spec.id)
        assert client.volumes.list(filters={"label": f"vm-api.workspace-id={spec.id}"}) == []
    finally:
        with suppress(Exception):
            provider.destroy(spec.id)
        provider.close()
