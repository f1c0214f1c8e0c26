"""A Docker daemon reached over TCP with TLS, as a Docker host on another machine is
(DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, the docker CLI's rule): a workspace is made, exec
with stdin and the terminal work over the TLS connection, and a client without the
certificates is refused. A second dockerd of the test's own listens on 127.0.0.1 only."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker_support import SecondDaemon, remove_labelled, start_second_daemon

from tasks.providers.base import ProviderError, WorkspaceSpec
from tasks.providers.docker import DockerProvider
from tasks.providers.docker_daemon import docker_tls
from tasks.providers.docker_exec import run_exec
from tasks.providers.docker_terminal import open_terminal

pytestmark = pytest.mark.slow
MakeSpec = Callable[..., WorkspaceSpec]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _signed(folder: Path, name: str, subject: str, extensions: str) -> None:
    """`name`-key.pem and `name`-cert.pem, signed by the folder's ca.pem."""
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", subject,
             cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
             "-CAcreateserial", "-days", "1", "-out", f"{name}-cert.pem",
             "-extfile", f"{name}.ext", cwd=folder)  # fmt: skip


def make_certificates(folder: Path) -> Path:
    """A CA, the daemon's certificate for 127.0.0.1 and a client's; returns the client's
    folder laid out as DOCKER_CERT_PATH wants it (ca.pem, cert.pem, key.pem)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=vm-api test CA", cwd=folder)  # fmt: skip
    _signed(folder, "server", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")  # fmt: skip
    _signed(folder, "client", "/CN=vm-api", "extendedKeyUsage=clientAuth\n")
    client = folder / "client"
    client.mkdir()
    (client / "ca.pem").write_bytes((folder / "ca.pem").read_bytes())
    (client / "cert.pem").write_bytes((folder / "client-cert.pem").read_bytes())
    (client / "key.pem").write_bytes((folder / "client-key.pem").read_bytes())
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TlsDaemon:
    daemon: SecondDaemon
    url: str
    client_certs: Path


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsDaemon]:
    folder = tmp_path_factory.mktemp("tls")
    client_certs = make_certificates(folder)
    port = free_port()
    daemon = start_second_daemon(
        (
            f"--host=tcp://127.0.0.1:{port}",
            "--tlsverify",
            f"--tlscacert={folder / 'ca.pem'}",
            f"--tlscert={folder / 'server-cert.pem'}",
            f"--tlskey={folder / 'server-key.pem'}",
        )
    )
    yield TlsDaemon(daemon, f"tcp://127.0.0.1:{port}", client_certs)
    daemon.stop()


@pytest.fixture
def tls_provider(tls_daemon: TlsDaemon) -> Iterator[DockerProvider]:
    label = f"vm-api-test-{uuid.uuid4().hex[:12]}"
    provider = DockerProvider(
        tls_daemon.url,
        timeout=30,
        attempts=2,
        backoff=0.1,
        service_label=label,
        tls=docker_tls(True, str(tls_daemon.client_certs)),
    )
    yield provider
    provider.close()
    cleaner: docker.DockerClient = tls_daemon.daemon.client()  # over its UNIX socket
    remove_labelled(cleaner, label)
    cleaner.close()


def read_until(read: Callable[[], bytes], text: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} not seen; output was {seen!r}"
        chunk = read()
        assert chunk, f"the terminal ended before {text!r}; output was {seen!r}"
        seen += chunk
    return seen


def test_a_workspace_on_a_tls_daemon_runs_execs_and_a_terminal(
    tls_provider: DockerProvider, tls_daemon: TlsDaemon, make_spec: MakeSpec
) -> None:
    spec = make_spec()
    container = tls_provider.create(spec).provider_id
    direct = tls_daemon.daemon.client()  # the same daemon over its UNIX socket
    try:
        assert direct.containers.get(container).status == "running"
    finally:
        direct.close()

    ran = run_exec(tls_provider.client(), container, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (ran.exit_code, ran.stdout, ran.stderr) == (3, b"out\n", b"err\n")

    # stdin, then the half-close that ends it: over TLS only the TCP side may close
    data = bytes(range(256)) * 1024
    echoed = run_exec(tls_provider.client(), container, ["cat"], stdin=data, timeout=30)
    assert (echoed.exit_code, echoed.stdout) == (0, data)

    terminal = open_terminal(tls_provider.client, spec.id, "/bin/sh", spec.workdir, 80, 24)
    try:
        terminal.write(b"echo hel''lo; stty size\n")
        shown = read_until(terminal.read, b"24 80")
        assert b"hello" in shown
    finally:
        terminal.close()


def test_a_tls_daemon_refuses_a_client_without_the_certificates(tls_daemon: TlsDaemon) -> None:
    plain = DockerProvider(tls_daemon.url, timeout=10, attempts=1, backoff=0.1)
    try:
        with pytest.raises(ProviderError):
            plain.ping()
    finally:
        plain.close()
