"""Benchmark 6: resident memory of the web process and of the consumer, idle and after load.

The real all-in-one `vm-api` (local provider) runs over 10,000 seeded workspaces. VmRSS is
read from /proc/<pid>/status for the supervising `vm-api`, the web process and the worker
(each summed with its own children), after a settling pause (idle) and after a load: wrk on
GET /api/v1/workspaces/{id} and on the list of 50 (32 connections, --seconds each), then a
burst of --creates creates that the consumer provisions.

Baselines, in the same run with the same load: bench/bare_app.py (Quart + Hypercorn with
constant answers) for the web process, and a bare SqliteHuey consumer with the same consumer
settings (4 thread workers, periodic on) that runs as many no-op tasks, for the worker.

    /work/venv/bin/python bench/memory.py [--seconds 10] [--creates 500]
(needs wrk: apt-get install -y wrk)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_throughput import load_scripts, sample_bodies
from harness import (
    BENCH,
    REPO,
    Service,
    banner,
    cmdline,
    exit_on_sigterm,
    free_port,
    mib,
    prestart,
    print_table,
    rss_kib,
    run_wrk,
    seed_workspaces,
    service_env,
    tree_rss_kib,
    vm_api_command,
    workdir,
    wrk_path,
)
from provision_burst import post_creates, wait_all_running

ROWS, USERS = 10_000, 100
SETTLE_SECONDS = 5.0


# -- the bare consumer -----------------------------------------------------------------------


def bare_huey(queue_path: Path) -> tuple[Any, Any]:
    from huey import SqliteHuey

    huey = SqliteHuey(
        "bare", filename=str(queue_path), results=False, utc=True, journal_mode="wal", timeout=30
    )

    @huey.task(name="noop")
    def noop(n: int) -> int:
        return n

    return huey, noop


def run_bare_consumer(queue_path: Path, ready: Path) -> int:
    """The same consumer settings as `vm-api worker` (service/cli.py cmd_worker)."""
    huey, _ = bare_huey(queue_path)
    consumer = huey.create_consumer(
        workers=4,
        worker_type="thread",
        initial_delay=0.01,
        backoff=1.15,
        max_delay=0.1,
        periodic=True,
        flush_locks=True,
        scheduler_interval=1,
    )
    ready.touch()
    consumer.run()
    return 0


def run_bare_enqueue(queue_path: Path, count: int) -> int:
    huey, noop = bare_huey(queue_path)
    for n in range(count):
        noop(n)
    deadline = time.monotonic() + 120
    while huey.pending_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    return 0 if not huey.pending_count() else 1


# -- the driver ------------------------------------------------------------------------------


def roles(service: Service) -> dict[str, int]:
    """The supervising vm-api and its web and worker children, by their command lines."""
    found = {"vm-api (supervisor)": service.pid}
    for pid in service.processes()[1:]:
        args = cmdline(pid)
        if args[-1:] == ["web"]:
            found["web"] = pid
        elif args[-1:] == ["worker"]:
            found["worker"] = pid
    return found


def rss_by_role(pids: dict[str, int]) -> dict[str, int]:
    """The supervisor alone (its tree holds the others), web and worker with their children,
    and the total."""
    figures = {
        name: rss_kib(pid) if name.startswith("vm-api") else tree_rss_kib(pid)
        for name, pid in pids.items()
    }
    figures["total"] = sum(figures.values())
    return figures


def web_load(base_url: str, scripts: dict[str, Path], seconds: float) -> None:
    for script in scripts.values():
        run_wrk(base_url + "/", script, connections=32, seconds=seconds)


def measure_real(root: Path, args: argparse.Namespace) -> tuple[dict[str, tuple[int, int]], dict]:
    env = service_env(root, free_port())
    prestart(env)
    seeded = seed_workspaces(root / "vm.db", rows=ROWS, users=USERS, keep_ids=True)
    # the user loads only, as when benchmark 6 was first taken
    scripts = {k: v for k, v in load_scripts(root, seeded.ids_by_user).items() if k != "admin"}
    port = free_port()
    service = Service(vm_api_command(), service_env(root, port), root / "vm-api.log", port=port)
    try:
        service.start()
        time.sleep(SETTLE_SECONDS)
        pids = roles(service)
        idle = rss_by_role(pids)
        bodies = sample_bodies(service.base_url, seeded.ids_by_user)
        web_load(service.base_url, scripts, args.seconds)
        post_creates(service.base_url, args.creates, 8)
        wait_all_running(root / "vm.db", ROWS + args.creates, 120)
        time.sleep(2)
        loaded = rss_by_role(pids)
    finally:
        service.stop()
    return {name: (idle[name], loaded[name]) for name in idle}, bodies


def measure_bare(root: Path, bodies: dict, args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    scripts = {name: root / f"{name}.lua" for name in ("single", "list")}
    bodies_file = root / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))
    port = free_port()
    env = service_env(root, port)
    env["BENCH_BARE_BODIES"] = str(bodies_file)
    result: dict[str, tuple[int, int]] = {}
    web = Service([sys.executable, str(BENCH / "bare_app.py")], env, root / "bare.log", port=port)
    try:
        web.start()
        time.sleep(SETTLE_SECONDS)
        idle = tree_rss_kib(web.pid)
        web_load(web.base_url, scripts, args.seconds)
        time.sleep(2)
        result["web"] = (idle, tree_rss_kib(web.pid))
    finally:
        web.stop()
    queue = root / "bare-queue.db"
    ready = root / "bare-consumer.ready"
    me = [sys.executable, __file__]
    consumer = Service(
        [*me, "--bare-consumer", str(queue), "--ready", str(ready)],
        env,
        root / "bare-consumer.log",
        port=port,
        ready_path=None,
        ready_file=ready,
    )
    try:
        consumer.start()
        time.sleep(SETTLE_SECONDS)
        idle = tree_rss_kib(consumer.pid)
        subprocess.run(
            [*me, "--bare-enqueue", str(queue), "--count", str(args.creates)],
            cwd=REPO,
            check=True,
            timeout=180,
        )
        time.sleep(2)
        result["worker"] = (idle, tree_rss_kib(consumer.pid))
    finally:
        consumer.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk seconds per endpoint")
    parser.add_argument("--creates", type=int, default=500, help="creates in the burst")
    parser.add_argument("--bare-consumer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-enqueue", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_consumer:
        return run_bare_consumer(args.bare_consumer, args.ready)
    if args.bare_enqueue:
        return run_bare_enqueue(args.bare_enqueue, args.count)
    exit_on_sigterm()
    wrk_path()
    with workdir("memory") as root:
        real, bodies = measure_real(root, args)
        bare = measure_bare(root, bodies, args)
    banner(
        f"resident memory (VmRSS, process + children): idle after {SETTLE_SECONDS:.0f} s,"
        f" and after {args.seconds:.0f} s of wrk per endpoint + {args.creates} creates"
    )
    rows = []
    for name, (idle, loaded) in real.items():
        base = bare.get(name)
        rows.append(
            [
                name,
                mib(idle),
                mib(loaded),
                mib(base[0]) if base else "-",
                mib(base[1]) if base else "-",
                f"{loaded / base[1]:.2f}x" if base else "-",
            ]
        )
    print_table(
        ["process", "idle", "after load", "bare idle", "bare after load", "ratio after load"],
        rows,
    )
    print("bare: web = bench/bare_app.py; worker = a SqliteHuey consumer running no-op tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
