"""Benchmark 2 (and the web half of 6): API throughput against `vm-api web`, with a bare
Quart + Hypercorn app as the baseline.

10,000 workspaces for 100 users are seeded straight into SQLite (after `vm-api prestart` made
the schema). wrk then drives, at 32 connections for a fixed time each:
  single  GET /api/v1/workspaces/{id}: every user's ids in rotation, with that user's x-user
  list    GET /api/v1/workspaces?limit=50: the 100 users in rotation
  admin   GET /api/v1/workspaces?limit=50 as an admin: every owner's newest 50
against `vm-api web` and against bench/bare_app.py, which answers the same bytes with the same
server settings (Hypercorn, same worker count, no access log). Both run at once and take turns
in short rounds, so that load from elsewhere on a shared machine falls on both alike. This is
repeated for each VM_API_WEB_WORKERS value asked for (default 1 and 2), with the resident
memory of both web process trees idle and after the load.

Targets: single >= 50% of bare, list >= 30% of bare, p99 <= 100 ms. The issue sets none for
the admin page: it is held to the list's.

A third server takes its turns in the same rounds: `vm-api web` with VM_API_METRICS=false (no
request metrics, no /metrics), on a copy of the same database. The single GET's real/bare ratio
with metrics must stay within 5 % of the ratio without (`metrics cost` line).

    /work/venv/bin/python bench/api_throughput.py [--seconds 15] [--rounds 3] [--workers 1,2]

With --database-url postgresql://... the third server serves the same seeded rows from
PostgreSQL (metrics on) instead, and an `engine` table compares the two engines' ratios.
(needs wrk: apt-get install -y wrk)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    ADMIN,
    BENCH,
    Service,
    WrkResult,
    banner,
    exit_on_sigterm,
    free_port,
    mib,
    prestart,
    print_table,
    run_wrk,
    seed_workspaces,
    service_env,
    tree_rss_kib,
    verdict,
    vm_api_command,
    workdir,
    wrk_path,
    wrk_script,
)

ROWS, USERS = 10_000, 100
# The targets; the admin page (no owner filter) is held to the list's.
TARGETS = {"single": 0.50, "list": 0.30, "admin": 0.30}
TARGET_P99_MS = 100.0

SINGLE_LUA = """
local pairs_ = {}
for line in io.lines("%(ids)s") do
  local user, id = line:match("(%%S+) (%%S+)")
  pairs_[#pairs_ + 1] = {user, id}
end
local i = 0
request = function()
  i = i %% #pairs_ + 1
  local p = pairs_[i]
  return wrk.format("GET", "/api/v1/workspaces/" .. p[2], {["x-user"] = p[1]})
end
"""

LIST_LUA = """
local users = {}
for line in io.lines("%(users)s") do users[#users + 1] = line end
local i = 0
request = function()
  i = i %% #users + 1
  return wrk.format("GET", "/api/v1/workspaces?limit=50", {["x-user"] = users[i]})
end
"""


ADMIN_LUA = """
request = function()
  return wrk.format("GET", "/api/v1/workspaces?limit=50", {["x-user"] = "%(admin)s"})
end
"""


def load_scripts(root: Path, ids_by_user: dict[str, list[str]]) -> dict[str, Path]:
    """The wrk scripts of the three loads, reading the seeded ids and users from files."""
    ids_file = root / "ids.txt"
    users = sorted(ids_by_user)
    # Round-robin over users, so that consecutive requests come from different users.
    lines = [
        f"{user} {ids_by_user[user][n]}"
        for n in range(max(len(ids) for ids in ids_by_user.values()))
        for user in users
        if n < len(ids_by_user[user])
    ]
    ids_file.write_text("\n".join(lines) + "\n")
    users_file = root / "users.txt"
    users_file.write_text("\n".join(users) + "\n")
    return {
        "single": wrk_script(root / "single.lua", SINGLE_LUA % {"ids": ids_file}),
        "list": wrk_script(root / "list.lua", LIST_LUA % {"users": users_file}),
        "admin": wrk_script(root / "admin.lua", ADMIN_LUA % {"admin": ADMIN}),
    }


@dataclass
class Measured:
    load: dict[str, WrkResult]
    rss_idle_kib: int
    rss_loaded_kib: int


def combine(rounds: list[WrkResult]) -> WrkResult:
    """Requests over time summed; latency percentiles as the median of the rounds'."""
    return WrkResult(
        requests=sum(r.requests for r in rounds),
        seconds=sum(r.seconds for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p90_ms=statistics.median(r.p90_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        max_ms=max(r.max_ms for r in rounds),
        status_errors=sum(r.status_errors for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
    )


def drive(
    services: dict[str, Service], scripts: dict[str, Path], args: argparse.Namespace
) -> dict[str, Measured]:
    """Both servers run at once and take turns, in short rounds: background load that comes
    and goes on a shared machine then falls on both sides of the ratio alike."""
    idle = {kind: tree_rss_kib(service.pid) for kind, service in services.items()}
    rounds: dict[tuple[str, str], list[WrkResult]] = {}
    for name, script in scripts.items():
        for service in services.values():
            # A short warm-up fills caches and opens every connection before timing.
            run_wrk(service.base_url + "/", script, connections=args.connections, seconds=2)
        for _ in range(args.rounds):
            for kind, service in services.items():
                rounds.setdefault((kind, name), []).append(
                    run_wrk(
                        service.base_url + "/",
                        script,
                        connections=args.connections,
                        seconds=args.seconds / args.rounds,
                        threads=args.threads,
                    )
                )
    return {
        kind: Measured(
            {name: combine(rounds[(kind, name)]) for name in scripts},
            idle[kind],
            tree_rss_kib(service.pid),
        )
        for kind, service in services.items()
    }


def sample_bodies(base_url: str, seeded_ids: dict[str, list[str]]) -> dict[str, str]:
    """The real answers, so that the bare app sends exactly as many bytes."""
    user = "user0"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        single = client.get(f"/api/v1/workspaces/{seeded_ids[user][0]}", headers={"x-user": user})
        listed = client.get("/api/v1/workspaces?limit=50", headers={"x-user": user})
        every = client.get("/api/v1/workspaces?limit=50", headers={"x-user": ADMIN})
    for response in (single, listed, every):
        response.raise_for_status()
    for page in (listed, every):
        if len(page.json()) != 50:
            raise RuntimeError(f"a list answered {len(page.json())} items, not 50")
    if {w["owner"] for w in every.json()} <= {user}:
        raise RuntimeError("the admin page shows one user's workspaces only")
    return {"single": single.text, "list": listed.text, "admin": every.text}


def run_config(
    workers: int,
    root: Path,
    ids: dict[str, list[str]],
    scripts: dict[str, Path],
    args: argparse.Namespace,
) -> tuple[Measured, Measured, dict[str, int]]:
    port = free_port()
    env = service_env(root, port, VM_API_WEB_WORKERS=str(workers))
    real = Service([*vm_api_command(), "web"], env, root / f"web-{workers}.log", port=port)
    # the same database, copied: one `vm-api web` per database file (the running lock)
    plain_root = root / "no-metrics"
    plain_port = free_port()
    if args.postgres_url:  # the third server: the same data on PostgreSQL, metrics on
        third = {"VM_API_DATABASE_URL": args.postgres_url}
    else:
        # BENCH_PLAIN_METRICS=true: an A/A run (both with metrics), to see what order alone does
        third = {"VM_API_METRICS": os.environ.get("BENCH_PLAIN_METRICS", "false")}
    plain_env = service_env(plain_root, plain_port, VM_API_WEB_WORKERS=str(workers), **third)
    plain = Service(
        [*vm_api_command(), "web"], plain_env, root / f"plain-{workers}.log", port=plain_port
    )
    bare: Service | None = None
    try:
        real.start()
        plain.start()
        bodies = sample_bodies(real.base_url, ids)
        bodies_file = root / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        port = free_port()
        bare_env = service_env(root, port, VM_API_WEB_WORKERS=str(workers))
        bare_env["BENCH_BARE_BODIES"] = str(bodies_file)
        bare = Service(
            [sys.executable, str(BENCH / "bare_app.py")], bare_env, root / "bare.log", port=port
        )
        bare.start()
        time.sleep(1)  # let the workers settle before reading memory
        figures = drive({"real": real, "plain": plain, "bare": bare}, scripts, args)
    finally:
        real.stop()
        plain.stop()
        if bare is not None:
            bare.stop()
    sizes = {k: len(v.encode()) for k, v in bodies.items()}
    return figures["real"], figures["bare"], sizes, figures["plain"]


METRICS_MAX_COST = 0.05  # the single GET's ratio may drop this much with metrics on


def report_metrics_cost(real: Measured, plain: Measured, bare: Measured) -> None:
    rows = []
    for name in TARGETS:
        with_ratio = real.load[name].rps / bare.load[name].rps
        without = plain.load[name].rps / bare.load[name].rps
        cost = 1 - with_ratio / without if without else 0.0
        target = f"<= {METRICS_MAX_COST:.0%}: {verdict(cost <= METRICS_MAX_COST)}"
        rows.append([name, f"{with_ratio:.3f}", f"{without:.3f}", f"{cost:+.1%}",
                     target if name == "single" else ""])  # fmt: skip
    print()
    print_table(["metrics cost", "real/bare", "no-metrics/bare", "ratio lost", "target"], rows)


def report_engines(sqlite: Measured, postgres: Measured, bare: Measured) -> None:
    rows = []
    for name in TARGETS:
        on_sqlite = sqlite.load[name].rps / bare.load[name].rps
        on_postgres = postgres.load[name].rps / bare.load[name].rps
        rows.append([name, f"{sqlite.load[name].rps:.0f}", f"{postgres.load[name].rps:.0f}",
                     f"{on_sqlite:.3f}", f"{on_postgres:.3f}", f"{on_postgres / on_sqlite:.2f}",
                     f"{postgres.load[name].p99_ms:.1f}"])  # fmt: skip
    print()
    print_table(
        ["engine", "SQLite rps", "PostgreSQL rps", "SQLite/bare", "PostgreSQL/bare",
         "PG/SQLite", "PG p99 ms"],
        rows,
    )  # fmt: skip


def copy_to_postgres(db_path: Path, url: str) -> None:
    """The seeded rows, into a migrated PostgreSQL schema (`vm-api prestart` made it)."""
    import sqlite3

    import psycopg2

    from models.engines import parse_database_url

    source = sqlite3.connect(db_path)
    target = psycopg2.connect(**parse_database_url(url).connect_kwargs)
    try:
        columns = [row[1] for row in source.execute("PRAGMA table_info(workspaces)")]
        rows = source.execute(f"SELECT {', '.join(columns)} FROM workspaces").fetchall()
        with target, target.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO workspaces ({', '.join(columns)})"
                f" VALUES ({', '.join(['%s'] * len(columns))})",
                rows,
            )
            cursor.execute("ANALYZE")
    finally:
        source.close()
        target.close()


def report(workers: int, real: Measured, bare: Measured, sizes: dict[str, int]) -> None:
    banner(f"VM_API_WEB_WORKERS={workers}")
    rows = []
    for name, target in TARGETS.items():
        r, b = real.load[name], bare.load[name]
        share = r.rps / b.rps if b.rps else 0.0
        ok = share >= target and r.p99_ms <= TARGET_P99_MS
        rows.append(
            [
                name,
                f"{sizes[name]} B",
                f"{r.rps:.0f}",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                f"{b.rps:.0f}",
                f"{b.p99_ms:.1f}",
                f"{share:.2f}",
                f">= {target:.2f}, p99 <= {TARGET_P99_MS:.0f}: {verdict(ok)}",
            ]
        )
        errors = r.status_errors + r.socket_errors + b.status_errors + b.socket_errors
        if errors:
            print(f"WARNING {name}: {errors} non-2xx or socket errors (real {r}, bare {b})")
    print_table(
        [
            "endpoint",
            "body",
            "real req/s",
            "real p50 ms",
            "real p99 ms",
            "bare req/s",
            "bare p99 ms",
            "real/bare",
            "target",
        ],
        rows,
    )
    print()
    print_table(
        ["web process tree RSS", "idle", "after load", "real/bare after load"],
        [
            [
                "vm-api web",
                mib(real.rss_idle_kib),
                mib(real.rss_loaded_kib),
                f"{real.rss_loaded_kib / bare.rss_loaded_kib:.2f}x",
            ],
            ["bare Quart app", mib(bare.rss_idle_kib), mib(bare.rss_loaded_kib), "1.00x"],
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="measured seconds per endpoint and server"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns the seconds are split in")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (2 cores are shared)")
    parser.add_argument("--workers", default="1,2", help="VM_API_WEB_WORKERS values to run")
    parser.add_argument(
        "--database-url",
        help="postgresql://...: the third server serves the same data from PostgreSQL (a new"
        " schema of this database) instead of SQLite without metrics",
    )
    args = parser.parse_args()
    args.postgres_url = None
    if args.database_url:
        args.postgres_url = f"{args.database_url}?schema=bench_{uuid.uuid4().hex[:12]}"
    exit_on_sigterm()
    wrk_path()
    with workdir("api") as root:
        env = service_env(root, free_port())
        prestart(env)
        seeded = seed_workspaces(root / "vm.db", rows=ROWS, users=USERS, keep_ids=True)
        print(f"seeded {ROWS} workspaces for {USERS} users in {seeded.seconds:.2f} s")
        (root / "no-metrics").mkdir()
        shutil.copy2(root / "vm.db", root / "no-metrics" / "vm.db")
        if args.postgres_url:
            prestart({**env, "VM_API_DATABASE_URL": args.postgres_url})
            copy_to_postgres(root / "vm.db", args.postgres_url)
            print("the third server: the same rows on PostgreSQL (metrics on)")
        scripts = load_scripts(root, seeded.ids_by_user)
        print(
            f"wrk: {args.connections} connections, {args.threads} thread(s),"
            f" {args.seconds:.0f} s per endpoint and server in {args.rounds} alternating rounds,"
            " after a 2 s warm-up"
        )
        for workers in (int(part) for part in args.workers.split(",")):
            real, bare, sizes, plain = run_config(workers, root, seeded.ids_by_user, scripts, args)
            report(workers, real, bare, sizes)
            if args.postgres_url:
                report_engines(real, plain, bare)
            else:
                report_metrics_cost(real, plain, bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
