"""Benchmark (issue 13): the provisioning burst beside SQLite, on PostgreSQL + Redis with one
consumer process and with two.

Each configuration gets a fresh service: SQLite is the all-in-one `vm-api` (its consumer
included); on PostgreSQL (a fresh schema of --database-url) and Redis (a queue name of its
own) it is `vm-api web` plus one or two `vm-api worker` processes. 16 client threads POST
--count creates; the time until all are `running` is read from the database. Reported: the
rate of each, the ratios to SQLite's, and two consumers over one (target >= 1.6), with a check
that every create ran once (its operation succeeded at its first attempt).

    /work/venv/bin/python bench/engine_burst.py [--count 600] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test] \
        [--queue-url redis://127.0.0.1:6379/9] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    print_table,
    read_only,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)
from provision_burst import post_creates

TWO_OVER_ONE_TARGET = 1.6
POLL_SECONDS = 0.05
RUNNING_SQL = "SELECT count(*) FROM workspaces WHERE status = 'running'"


def connect(env: dict[str, str]) -> Any:
    from models.settings import Settings

    settings = Settings.from_env(env)
    if settings.database is None:
        return read_only(settings.db_path)
    import psycopg2

    connection = psycopg2.connect(**settings.database.connect_kwargs)
    connection.autocommit = True
    return connection


def scalar(connection: Any, sql: str) -> Any:
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchone()[0]


def wait_running(connection: Any, count: int, timeout: float) -> int:
    """Until `count` workspaces are running, or `timeout` seconds: how many are."""
    deadline = time.monotonic() + timeout
    running = 0
    while time.monotonic() < deadline:
        running = int(scalar(connection, RUNNING_SQL))
        if running >= count:
            break
        time.sleep(POLL_SECONDS)
    return running


def created_once(connection: Any) -> int:
    """Creates that succeeded at their first attempt (none ran twice, none was lost)."""
    return int(
        scalar(
            connection,
            "SELECT count(*) FROM operations WHERE operation_type = 'create'"
            " AND status = 'success' AND attempts = 1",
        )
    )


def burst(args: argparse.Namespace, consumers: int) -> tuple[float, int]:
    """Seconds until all were running, and how many creates did not run exactly once.
    consumers=0: SQLite, all-in-one."""
    with workdir("engine-burst") as root:
        port = free_port()
        extra: dict[str, str] = {}
        if consumers:
            extra = {
                "VM_API_DATABASE_URL": f"{args.database_url}?schema=b_{uuid.uuid4().hex[:12]}",
                "VM_API_QUEUE_URL": args.queue_url,
                "VM_API_INSTANCE": f"vm-api-bench-{uuid.uuid4().hex[:8]}",
            }
        env = service_env(root, port, **extra)
        command = [*vm_api_command(), "web"] if consumers else vm_api_command()
        parts = [Service(command, env, root / "web.log", port=port)]
        try:
            parts[0].start()
            for n in range(consumers):
                # a worker answers no HTTP: "ready" once the web part answers (it does already)
                worker = Service([*vm_api_command(), "worker"], env, root / f"worker-{n}.log",
                                 port=port)  # fmt: skip
                parts.append(worker.start())
            time.sleep(2)  # the consumers come up and settle
            start = time.perf_counter()
            ids, _ = post_creates(parts[0].base_url, args.count, args.clients)
            connection = connect(env)
            running = wait_running(connection, len(ids), args.timeout)
            done = time.perf_counter()
            once = created_once(connection)
            connection.close()
        finally:
            for part in reversed(parts):
                part.stop()
        if running < len(ids):
            raise RuntimeError(f"only {running} of {len(ids)} running after {args.timeout} s")
        return done - start, len(ids) - int(once)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--queue-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    exit_on_sigterm()
    names = {0: "SQLite, all-in-one", 1: "PostgreSQL + Redis, 1 consumer",
             2: "PostgreSQL + Redis, 2 consumers"}  # fmt: skip
    banner(f"provision burst by engine: {args.count} creates, {args.rounds} rounds, alternating")
    times: dict[int, list[float]] = {key: [] for key in names}
    twice = 0
    for number in range(args.rounds):
        order = [0, 1, 2] if number % 2 == 0 else [2, 1, 0]
        for consumers in order:
            seconds, not_once = burst(args, consumers)
            times[consumers].append(seconds)
            twice += not_once
            print(f"  round {number + 1} {names[consumers]}: {seconds:.2f} s", flush=True)
    median = {key: statistics.median(values) for key, values in times.items()}
    rows = [
        [names[key], f"{median[key]:.2f}", f"{args.count / median[key]:.0f}",
         f"{median[0] / median[key]:.2f}"]
        for key in names
    ]  # fmt: skip
    print_table(["configuration", "median s", "per second", "rate / SQLite"], rows)
    two_over_one = median[1] / median[2]
    print(f"two consumers / one (rate): {two_over_one:.2f}")
    print(f"every create ran exactly once: {'yes' if not twice else f'NO ({twice})'}")
    print(f"target >= {TWO_OVER_ONE_TARGET}: {verdict(two_over_one >= TWO_OVER_ONE_TARGET)}")
    return 1 if twice else 0


if __name__ == "__main__":
    sys.exit(main())
