"""Running one command in a workspace's container and collecting what it answers.

The low-level API, three calls as `docker exec` makes them (create, start, inspect): the
output comes as Docker's multiplexed stream (8-byte frame headers, stream 1 stdout, 2 stderr),
read from the raw socket so that a deadline can end it. Closing that socket would not end the
process (moby #9994): on timeout it is killed with `kill_exec`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence

import docker

from tasks.providers.docker_daemon import close_hijacked, half_close, raw_socket
from tasks.providers.docker_processes import kill_exec
from tasks.providers.exec_output import OUTPUT_CAP_BYTES, CappedOutput, ExecResult

POLL_SECONDS = 0.25  # how often a quiet exec looks at its deadline
HEADER_BYTES = 8
STDOUT, STDERR = 1, 2


class ExecRefused(Exception):
    """Docker would not start the command (e.g. the container is not running)."""


def _demultiplex(buffer: bytearray, out: CappedOutput, err: CappedOutput) -> None:
    """Take every complete frame off the front of `buffer`."""
    while len(buffer) >= HEADER_BYTES:
        size = int.from_bytes(buffer[4:8], "big")
        if len(buffer) < HEADER_BYTES + size:
            return
        payload = bytes(buffer[HEADER_BYTES : HEADER_BYTES + size])
        (err if buffer[0] == STDERR else out).write(payload)
        del buffer[: HEADER_BYTES + size]


def _feed(raw: socket.socket, data: bytes, stop: threading.Event) -> None:
    """Write stdin, then half-close: the daemon closes the process's stdin on our EOF."""
    view = memoryview(data)
    try:
        while view and not stop.is_set():
            try:
                view = view[raw.send(view[:65536]) :]
            except TimeoutError:
                continue
        half_close(raw)
    except OSError:
        pass  # the process exited without reading it all, or the socket is gone


def _exit_code(client: docker.DockerClient, exec_id: str) -> int | None:
    # The stream can end (or a kill land) a moment before the daemon records the exit.
    for _ in range(200):
        info = client.api.exec_inspect(exec_id)
        if not info.get("Running"):
            code = info.get("ExitCode")
            return int(code) if code is not None else None
        time.sleep(0.01)
    return None


def run_exec(
    client: docker.DockerClient,
    container: str,
    command: Sequence[str],
    *,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60.0,
    cap: int = OUTPUT_CAP_BYTES,
) -> ExecResult:
    """Run `command` in `container` (blocking: call it from a thread)."""
    began = time.monotonic()
    try:
        created = client.api.exec_create(
            container,
            list(command),
            stdin=stdin is not None,
            tty=False,
            environment=[f"{k}={v}" for k, v in (env or {}).items()] or None,
            workdir=workdir,
        )
    except docker.errors.APIError as error:
        if error.status_code in (404, 409):
            raise ExecRefused(str(error.explanation or error)) from error
        raise
    exec_id = created["Id"]
    wrapper = client.api.exec_start(exec_id, socket=True)
    raw = raw_socket(wrapper)
    out, err = CappedOutput(cap), CappedOutput(cap)
    stop = threading.Event()
    feeder = None
    timed_out = False
    try:
        raw.settimeout(POLL_SECONDS)
        if stdin is not None:
            feeder = threading.Thread(target=_feed, args=(raw, stdin, stop), daemon=True)
            feeder.start()
        buffer = bytearray()
        deadline = began + timeout
        while True:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            try:
                chunk = raw.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            buffer += chunk
            _demultiplex(buffer, out, err)
    finally:
        stop.set()
        if timed_out:
            kill_exec(client, container, exec_id)
        close_hijacked(wrapper)
        if feeder is not None:
            feeder.join(timeout=5)
    exit_code = _exit_code(client, exec_id)
    return ExecResult(
        exit_code=exit_code,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        duration_ms=int((time.monotonic() - began) * 1000),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )
