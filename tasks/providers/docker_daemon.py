"""Talking to the Docker daemon for DockerProvider: one SDK client per thread, and failures
classified and the transient ones retried.

The SDK reports a lost daemon as `requests` exceptions as well as `docker.errors`; here both are
mapped to `ProviderError`, so no raw docker/requests exception reaches the task code.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.constants import MINIMUM_DOCKER_API_VERSION as MINIMUM_API_VERSION
from docker.tls import TLSConfig
from docker.transport.unixconn import UnixHTTPConnection
from docker.utils import kwargs_from_env

from tasks.providers.base import ProviderError

T = TypeVar("T")


def docker_tls(verify: bool, cert_path: str | None) -> TLSConfig | None:
    """TLS to the daemon as the docker CLI does it (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH: its
    ca.pem, cert.pem and key.pem; ~/.docker without a path); None: no TLS."""
    if not verify and not cert_path:
        return None
    environment = {"DOCKER_CERT_PATH": cert_path or ""}
    if verify:
        environment["DOCKER_TLS_VERIFY"] = "1"
    tls: TLSConfig = kwargs_from_env(environment=environment)["tls"]
    return tls


def raw_socket(hijacked: Any) -> socket.socket:
    """The socket under what `exec_start(socket=True)` returns: docker's SocketIO over a plain
    connection, the TLS socket itself over https."""
    return getattr(hijacked, "_sock", hijacked)  # type: ignore[no-any-return]


def close_hijacked(hijacked: Any) -> None:
    """Close what `exec_start(socket=True)` returned, and the HTTP response under it: over
    TLS that response's file still holds the socket, which would stay open otherwise."""
    raw = raw_socket(hijacked)  # a SocketIO forgets its socket once closed
    response = getattr(hijacked, "_response", None)
    if response is not None:
        with suppress(OSError):
            response.close()
    with suppress(OSError):
        hijacked.close()
    with suppress(OSError):
        raw.close()


def half_close(raw: socket.socket) -> None:
    """End what we send and keep reading. SSLSocket.shutdown() would drop the TLS state and
    leave the rest of the output unreadable: close only the TCP side."""
    socket.socket.shutdown(raw, socket.SHUT_WR)


class ClientPool:
    """One DockerClient (and connection pool) per thread: the SDK's thread safety is
    undocumented. Clients are made lazily, inside the retry loop, because DockerClient() asks
    the daemon for its API version at once."""

    def __init__(self, base_url: str, timeout: float, tls: TLSConfig | None = None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.tls = tls
        self._local = threading.local()
        self._clients: list[docker.DockerClient] = []
        self._lock = threading.Lock()

    def get(self) -> docker.DockerClient:
        client: docker.DockerClient | None = getattr(self._local, "client", None)
        if client is None:
            client = (
                docker.DockerClient(base_url=self.base_url, timeout=self.timeout)
                if self.tls is None
                else self._tls_client(self.tls)
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _tls_client(self, tls: TLSConfig) -> docker.DockerClient:
        """A client that verifies the daemon with the CA of DOCKER_CERT_PATH. requests would
        verify against REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) from the environment instead,
        even for the API version asked at construction: ask for it with the environment
        ignored, then make the client with that version."""
        probe = docker.DockerClient(
            base_url=self.base_url, timeout=self.timeout, tls=tls, version=MINIMUM_API_VERSION
        )
        try:
            probe.api.trust_env = False
            version = probe.api.version(api_version=False)["ApiVersion"]
        finally:
            probe.close()
        client = docker.DockerClient(
            base_url=self.base_url, timeout=self.timeout, tls=tls, version=version
        )
        client.api.trust_env = False
        return client

    def close(self) -> None:
        """Close every thread's client and its sockets; later calls make new ones."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._local = threading.local()
        for client in clients:
            client.close()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from or during, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def is_transient(exc: BaseException) -> bool:
    """Failures a retry may cure: the daemon is down, restarting, slow, or failed internally."""
    if isinstance(exc, docker.errors.APIError):
        return exc.status_code is not None and exc.status_code >= 500
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # DockerClient() asks for the API version at once and wraps a connection failure.
    if isinstance(exc, docker.errors.DockerException) and exc.__cause__ is not None:
        return is_transient(exc.__cause__)
    return False


def short_reason(exc: BaseException) -> str:
    """One human line, e.g. 'No such file or directory' instead of a urllib3 repr."""
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    for cause in _chain(exc):
        if isinstance(cause, requests.exceptions.Timeout | TimeoutError | socket.timeout):
            return "timed out"
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def close_leaked_sockets(exc: BaseException) -> None:
    """docker-py's UnixHTTPConnection.connect does not close its socket when connect() fails; it
    would be closed later by the GC with a ResourceWarning (an error under the test suite's
    `filterwarnings = error`). The socket is still reachable from the traceback: close it."""
    for cause in _chain(exc):
        tb = cause.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code is UnixHTTPConnection.connect.__code__:
                sock = tb.tb_frame.f_locals.get("sock")
                if isinstance(sock, socket.socket):
                    sock.close()
            tb = tb.tb_next


def describe(exc: BaseException, what: str) -> str:
    """A message for a non-transient failure of `what` (e.g. 'start container vm-ws-1')."""
    if isinstance(exc, docker.errors.APIError):
        return f"Docker could not {what}: {short_reason(exc)}"
    return f"Docker could not {what}: {short_reason(exc)} ({type(exc).__name__})"


def with_retry(
    body: Callable[[], T],
    *,
    what: str,
    base_url: str,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `body`, retrying transient failures with exponential backoff. `body` must be
    idempotent: a request the daemon carried out may still come back as a timeout."""
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            return body()
        except ProviderError:
            raise
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            close_leaked_sockets(e)
            if not is_transient(e):
                raise ProviderError(describe(e, what)) from e
            if attempt >= attempts:
                if isinstance(e, docker.errors.APIError):
                    message = f"Docker daemon at {base_url} failed to {what}: {short_reason(e)}"
                else:
                    message = f"Docker daemon not reachable at {base_url}: {short_reason(e)}"
                raise ProviderError(message, transient=True) from e
        sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # the loop returns or raises
