"""Idle cost of the consumer, and how soon it picks up a task after idling.

Two all-in-one `vm-api` services run side by side on loopback, alike but for the consumer's
wake-up: `poll` (huey's own polling, four threads every VM_API_POLL_MAX_DELAY = 50 ms: the old
configuration) and `doorbell` (the default: idle threads block on the queue's doorbell).

  idle CPU   utime + stime of each consumer process from /proc/<pid>/stat over --idle seconds
             (default 60), both measured over the same window, as a share of one core. The
             janitor and the sweep run in that window as they do in production (every 300 s and
             10 s), so the figure is the idle service's, not an empty loop's.
  pickup     after idle gaps of --gaps seconds, one create per service; pickup is the time from
             the web process's "operation ... enqueued" log line to the worker's "operation ...
             started" line (JSON logs, millisecond stamps, one clock): enqueue -> dequeue ->
             claim in the database, so an upper bound of enqueue -> EXECUTING.

Why a minute stands for an hour: an idle doorbell consumer's wait does not change with time.
Its workers block on a condition with no timeout, its listener in poll() on the socket with a
fixed fallback (5 s), its scheduler ticks once a second: nothing backs off or builds up, so
the 30th second of idling is the 3,600th. (huey's polling backs off too, capped at 50 ms here.)

    /work/venv/bin/python bench/idle_cost.py [--idle 60] [--gaps 2,5,10,20]
Targets: doorbell idle <= 0.2 % of a core; pickup <= 50 ms after idling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Service,
    banner,
    cmdline,
    descendants,
    exit_on_sigterm,
    free_port,
    print_table,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)

TARGET_IDLE_SHARE = 0.002
TARGET_PICKUP_S = 0.050
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def worker_pid(service: Service) -> int:
    for pid in descendants(service.pid):
        if cmdline(pid)[-1:] == ["worker"]:
            return pid
    raise RuntimeError("no worker process")


def start(root: Path, name: str, wakeup: str) -> Service:
    folder = root / name
    folder.mkdir()
    port = free_port()
    env = service_env(
        folder,
        port,
        VM_API_QUEUE_WAKEUP=wakeup,
        VM_API_LOG_FORMAT="json",
        VM_API_LOG_LEVEL="INFO",
        VM_API_INSTANCE=f"bench-idle-{name}",
    )
    service = Service([*vm_api_command()], env, folder / "service.log", port=port)
    service.start()
    deadline = time.monotonic() + 30
    while "Huey consumer started" not in service.log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: consumer did not start:\n{service.log_tail()}")
        time.sleep(0.1)
    return service


def _stamp(line: dict[str, str]) -> float:
    return datetime.strptime(line["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def pickup_seconds(service: Service, operation_id: str, timeout: float = 10) -> float:
    """From the web's "enqueued" line to the worker's "started" line of one operation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        enqueued = started = None
        for text in service.log_path.read_text(errors="replace").splitlines():
            if operation_id not in text or not text.startswith("{"):
                continue
            line = json.loads(text)
            if line["message"].endswith("enqueued"):
                enqueued = _stamp(line)
            elif line["message"].endswith("started"):
                started = _stamp(line)
        if enqueued is not None and started is not None:
            return started - enqueued
        time.sleep(0.05)
    raise RuntimeError(f"operation {operation_id} not started:\n{service.log_tail()}")


def create(service: Service, name: str) -> str:
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        response = client.post(
            "/api/v1/workspaces", json={"name": name}, headers={"x-user": "bench"}
        )
        response.raise_for_status()
        workspace_id = response.json()["id"]
        operations = client.get(
            f"/api/v1/operations?workspace_id={workspace_id}", headers={"x-user": "bench"}
        ).json()
    return str(operations[0]["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measured")
    parser.add_argument("--gaps", default="2,5,10,20", help="idle seconds before each pickup")
    args = parser.parse_args()
    exit_on_sigterm()
    gaps = [float(part) for part in args.gaps.split(",")]
    with workdir("idle") as root:
        services = {"poll (old)": start(root, "poll", "poll")}
        try:
            services["doorbell (new)"] = start(root, "doorbell", "doorbell")
            time.sleep(3)  # past start-up: the first periodic planning, the imports
            pids = {name: worker_pid(service) for name, service in services.items()}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            began = time.monotonic()
            time.sleep(args.idle)
            elapsed = time.monotonic() - began
            shares = {
                name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()
            }
            pickups: dict[str, list[float]] = {name: [] for name in services}
            for n, gap in enumerate(gaps):
                time.sleep(gap)
                for name, service in services.items():
                    pickups[name].append(pickup_seconds(service, create(service, f"ws-{n}")))
        finally:
            for service in services.values():
                service.stop()
        banner(f"idle consumer over {elapsed:.0f} s; pickup after idle gaps of {args.gaps} s")
        rows = []
        for name in services:
            worst = max(pickups[name])
            ok = shares[name] <= TARGET_IDLE_SHARE and worst <= TARGET_PICKUP_S
            rows.append(
                [
                    name,
                    f"{shares[name] * 100:.3f} %",
                    " ".join(f"{p * 1000:.0f}" for p in pickups[name]),
                    f"{statistics.median(pickups[name]) * 1000:.0f} ms",
                    f"{worst * 1000:.0f} ms",
                    verdict(ok),
                ]
            )
        print_table(
            ["consumer", "idle CPU (1 core)", "pickups ms", "median", "worst", "target"], rows
        )
        old, new = shares["poll (old)"], shares["doorbell (new)"]
        print(f"\nidle CPU doorbell/poll: {new / old:.3f}" if old else "")
        print(
            f"targets: idle <= {TARGET_IDLE_SHARE * 100:.1f} % of a core,"
            f" pickup <= {TARGET_PICKUP_S * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
