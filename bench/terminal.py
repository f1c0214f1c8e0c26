"""Terminal: throughput and keystroke echo through the WebSocket, against `docker exec -it`.

The real all-in-one `vm-api` (Docker provider, network none) runs one busybox workspace with a
50 MB text file in it. Both paths are an interactive `sh` with a TTY in that same container:
  service   a WebSocket client (the `websockets` package) on /api/v1/workspaces/{id}/terminal
  baseline  `docker exec -it <container> sh`, its terminal a pty this script holds (python pty)
Throughput: the time from typing `cat /tmp/big; echo <marker>` until the marker arrives,
best of --rounds per path. Echo: one byte typed, the time until it comes back, --keys times;
p50 compared. Targets: throughput ratio >= 0.5x docker's, echo p50 <= 2x docker's + 5 ms.

    .venv/bin/python bench/terminal.py [--rounds 3] [--keys 200]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    ms,
    percentile,
    print_table,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)

SIZE = 50 * 1024 * 1024
BIG = "/tmp/big"
TIMEOUT = 120.0
USER = {"x-user": "terminal-bench"}


class Channel:
    """A shell to type into and read from: send bytes, wait for a pattern."""

    def __init__(self, send: Callable[[bytes], None], recv: Callable[[float], bytes]) -> None:
        self.send = send
        self.recv = recv

    def wait_for(self, pattern: bytes, timeout: float = TIMEOUT) -> int:
        """Read until `pattern`; returns the bytes read (only the tail is searched)."""
        deadline, tail, total = time.monotonic() + timeout, b"", 0
        while pattern not in tail:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{pattern!r} not seen within {timeout} s")
            data = self.recv(remaining)
            total += len(data)
            tail = (tail + data)[-(len(pattern) + 64 * 1024) :]
        return total


def ws_channel(ws: ClientConnection) -> Channel:
    def recv(timeout: float) -> bytes:
        while True:
            message = ws.recv(timeout=timeout)
            if isinstance(message, bytes):
                return message

    return Channel(ws.send, recv)


def pty_channel(fd: int) -> Channel:
    def send(data: bytes) -> None:
        os.write(fd, data)

    def recv(timeout: float) -> bytes:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise TimeoutError("no output")
        return os.read(fd, 1024 * 1024)

    return Channel(send, recv)


def settle(channel: Channel) -> None:
    """Wait for the prompt after a marker command, so that the next measure starts clean."""
    marker = uuid.uuid4().hex[:8]
    channel.send(f"echo {marker[:4]}''{marker[4:]}\n".encode())
    channel.wait_for(marker.encode(), 30)
    time.sleep(0.2)
    with_timeout_drain(channel)


def with_timeout_drain(channel: Channel) -> None:
    try:
        while True:
            channel.recv(0.1)
    except TimeoutError:
        return


def throughput(channel: Channel) -> float:
    """Seconds for `cat` of the big file to reach us."""
    settle(channel)
    started = time.monotonic()
    channel.send(f"cat {BIG}; echo __DO''NE__\n".encode())
    received = channel.wait_for(b"__DONE__")
    elapsed = time.monotonic() - started
    assert received >= SIZE, f"only {received} bytes arrived"
    return elapsed


def echo_times(channel: Channel, keys: int) -> list[float]:
    settle(channel)
    times = []
    for i in range(keys):
        key = b"abcdefghij"[i % 10 : i % 10 + 1]
        started = time.monotonic()
        channel.send(key)
        channel.wait_for(key, 10)
        times.append(time.monotonic() - started)
        if i % 50 == 49:
            channel.send(b"\x15")  # Ctrl-U: clear the line before it wraps
            time.sleep(0.05)
            with_timeout_drain(channel)
    channel.send(b"\x15")
    return times


def create_workspace(client: httpx.Client) -> str:
    created = client.post("/api/v1/workspaces", json={"name": "bench", "template": "base"})
    created.raise_for_status()
    workspace_id = str(created.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/workspaces/{workspace_id}").json()["status"]
        if status == "running":
            return workspace_id
        if status == "failed":
            raise RuntimeError("the workspace failed to start")
        time.sleep(0.05)
    raise TimeoutError("workspace not running")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args()
    exit_on_sigterm()
    if subprocess.run(["docker", "version"], capture_output=True).returncode != 0:
        print("terminal: no Docker daemon answers; skipped")
        return 0
    with workdir("terminal") as root:
        port = free_port()
        env = service_env(
            root,
            port,
            VM_API_DEFAULT_PROVIDER="docker",
            VM_API_DOCKER_NETWORK="none",
            VM_API_JANITOR_INTERVAL="86400",
            VM_API_INSTANCE=f"vm-api-bench-{uuid.uuid4().hex[:8]}",
        )
        service = Service(vm_api_command(), env, root / "vm-api.log", port=port)
        with service, httpx.Client(base_url=service.base_url, headers=USER, timeout=60) as api:
            service.start()
            workspace_id = create_workspace(api)
            container = f"vm-ws-{workspace_id}"
            try:
                return measure(args, service, workspace_id, container)
            finally:
                api.delete(f"/api/v1/workspaces/{workspace_id}")
                time.sleep(1)
                subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def measure(args: argparse.Namespace, service: Service, workspace_id: str, container: str) -> int:
    subprocess.run(
        [
            "docker",
            "exec",
            container,
            "sh",
            "-c",
            f"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {SIZE} > {BIG}",
        ],
        check=True,
        timeout=120,
    )
    url = service.base_url.replace("http://", "ws://")
    url += f"/api/v1/workspaces/{workspace_id}/terminal?cols=200&rows=50"
    master, slave = pty.openpty()
    os.set_blocking(master, True)
    docker_exec = subprocess.Popen(
        ["docker", "exec", "-it", container, "sh"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        with connect(url, additional_headers=USER, max_size=None) as ws:
            service_ch, docker_ch = ws_channel(ws), pty_channel(master)
            banner(f"terminal: cat of {SIZE // 2**20} MB, best of {args.rounds}; echo x{args.keys}")
            ws_cat = min(throughput(service_ch) for _ in range(args.rounds))
            dk_cat = min(throughput(docker_ch) for _ in range(args.rounds))
            ws_echo = echo_times(service_ch, args.keys)
            dk_echo = echo_times(docker_ch, args.keys)
    finally:
        docker_exec.kill()
        docker_exec.wait(timeout=10)
        os.close(master)
    ws_rate, dk_rate = SIZE / ws_cat / 2**20, SIZE / dk_cat / 2**20
    rate_ratio = ws_rate / dk_rate
    ws_p50, dk_p50 = statistics.median(ws_echo), statistics.median(dk_echo)
    print_table(
        ["path", "cat MB/s", "echo p50", "echo p90", "echo p99"],
        [
            [
                "websocket",
                f"{ws_rate:.0f}",
                ms(ws_p50),
                ms(percentile(ws_echo, 90)),
                ms(percentile(ws_echo, 99)),
            ],
            [
                "docker exec -it",
                f"{dk_rate:.0f}",
                ms(dk_p50),
                ms(percentile(dk_echo, 90)),
                ms(percentile(dk_echo, 99)),
            ],
        ],
    )
    rate_ok = rate_ratio >= 0.5
    echo_ok = ws_p50 <= 2 * dk_p50 + 0.005
    print(f"throughput ratio {rate_ratio:.2f}x (target >= 0.5x): {verdict(rate_ok)}")
    print(
        f"echo p50 {ms(ws_p50)} vs {ms(dk_p50)}, bound 2x + 5 ms = {ms(2 * dk_p50 + 0.005)}: "
        f"{verdict(echo_ok)}"
    )
    return 0 if rate_ok and echo_ok else 1


if __name__ == "__main__":
    sys.exit(main())
