"""Benchmark (issue 13): a burst of Docker creates on one Docker host against two, with the
data on PostgreSQL and the queue on Redis.

Each configuration gets a fresh service: `vm-api web` plus one consumer per host, each bound
to its host (VM_API_WORKER_HOST_NAME): host a is the test daemon, host b a second dockerd this
script starts (its own socket, data root, exec root and pidfile; no bridge). 8 client threads
POST --count creates of the busybox template (network none); the time until all are `running`
is read from the database. Reported: creates per second of each, two hosts over one (target
>= 1.6), how the creates were placed, and a check that every create ran once. Everything is
removed by label afterwards. Needs root (the second daemon).

    /work/venv/bin/python bench/host_burst.py [--count 60] [--rounds 2] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test] \
        [--queue-url redis://127.0.0.1:6379/9] [--host-b tcp://other-machine:2376]

Host a is DOCKER_HOST (or the local socket); --host-b names a daemon on another machine, so
that each host has CPUs of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the project before the tests' helpers: tests/tasks and the like must not shadow its packages
sys.path.extend(str(Path(__file__).resolve().parents[1] / part) for part in ("", "tests"))

from docker_support import remove_labelled
from engine_burst import connect, created_once, scalar, wait_running
from harness import (
    REPO,
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    print_table,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)
from provision_burst import post_creates
from second_dockerd import SecondDaemon, start_dockerd

TWO_OVER_ONE_TARGET = 1.6
FIRST_DAEMON = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def remove_everything(url: str, instance: str) -> None:
    """What the burst made on one daemon, by the service's label (tests/docker_support.py)."""
    client = docker.DockerClient(base_url=url, timeout=120)
    try:
        remove_labelled(client, instance)
    finally:
        client.close()


def burst(args: argparse.Namespace, daemons: dict[str, str]) -> tuple[float, Counter[str], int]:
    """Seconds until all were running, the creates per host, and how many did not run once."""
    instance = f"vm-api-bench-{uuid.uuid4().hex[:8]}"
    with workdir("host-burst") as root:
        port = free_port()
        env = service_env(
            root,
            port,
            VM_API_DATABASE_URL=f"{args.database_url}?schema=h_{uuid.uuid4().hex[:12]}",
            VM_API_QUEUE_URL=args.queue_url,
            VM_API_INSTANCE=instance,
            VM_API_DEFAULT_PROVIDER="docker",
            VM_API_DOCKER_NETWORK="none",
            VM_API_TASK_HISTORY="false",
        )
        parts = [Service([*vm_api_command(), "web"], env, root / "web.log", port=port)]
        try:
            parts[0].start()
            for host, url in daemons.items():
                bound = {**env, "VM_API_WORKER_HOST_NAME": host, "DOCKER_HOST": url}
                worker = Service([*vm_api_command(), "worker"], bound, root / f"{host}.log",
                                 port=port)  # fmt: skip
                parts.append(worker.start())
            connection = connect(env)
            deadline = time.monotonic() + 30
            while scalar(connection, "SELECT count(*) FROM docker_hosts") < len(daemons):
                if time.monotonic() > deadline:
                    raise RuntimeError("the consumers did not report their hosts")
                time.sleep(0.1)
            time.sleep(1)  # the consumers settle
            start = time.perf_counter()
            ids, _ = post_creates(parts[0].base_url, args.count, args.clients)
            running = wait_running(connection, len(ids), args.timeout)
            done = time.perf_counter()
            cursor = connection.cursor()
            cursor.execute("SELECT host, count(*) FROM workspaces GROUP BY host")
            placed = Counter({str(host): int(n) for host, n in cursor.fetchall()})
            once = created_once(connection)
            connection.close()
        finally:
            for part in reversed(parts):
                part.stop()
            for url in daemons.values():
                remove_everything(url, instance)
        if running < len(ids):
            raise RuntimeError(f"only {running} of {len(ids)} running after {args.timeout} s")
        return done - start, placed, len(ids) - int(once)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--queue-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument(
        "--host-b", help="Docker URL of an existing daemon as host b (default: start one here)"
    )
    args = parser.parse_args()
    exit_on_sigterm()
    second: SecondDaemon | None = None
    if args.host_b is None:
        second = start_dockerd(REPO / ".ci" / "build-test-image.sh")
    host_b = args.host_b or second.url  # type: ignore[union-attr]
    try:
        configs = {
            "one host (a)": {"a": FIRST_DAEMON},
            "two hosts (a, b)": {"a": FIRST_DAEMON, "b": host_b},
        }
        banner(f"Docker create burst by hosts: {args.count} creates, {args.rounds} rounds")
        times: dict[str, list[float]] = {name: [] for name in configs}
        placements: dict[str, Counter[str]] = {}
        twice = 0
        for number in range(args.rounds):
            order = list(configs) if number % 2 == 0 else list(reversed(configs))
            for name in order:
                seconds, placed, not_once = burst(args, configs[name])
                times[name].append(seconds)
                placements[name] = placed
                twice += not_once
                print(f"  round {number + 1} {name}: {seconds:.2f} s {dict(placed)}", flush=True)
    finally:
        if second is not None:
            second.stop()
    median = {name: statistics.median(values) for name, values in times.items()}
    rows = [
        [name, f"{median[name]:.2f}", f"{args.count / median[name]:.1f}",
         ", ".join(f"{h}: {n}" for h, n in sorted(placements[name].items()))]
        for name in configs
    ]  # fmt: skip
    print_table(["configuration", "median s", "creates/s", "placed"], rows)
    one, two = (median[name] for name in configs)
    print(f"two hosts / one (rate): {one / two:.2f}")
    print(f"every create ran exactly once: {'yes' if not twice else f'NO ({twice})'}")
    print(f"target >= {TWO_OVER_ONE_TARGET}: {verdict(one / two >= TWO_OVER_ONE_TARGET)}")
    return 1 if twice else 0


if __name__ == "__main__":
    sys.exit(main())
