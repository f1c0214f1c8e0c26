"""Benchmark 3: one janitor expiry pass (`tasks.janitor.expire()`) over growing tables.

For each case (rows in the table, of which some expired an hour ago) the database is seeded
with the real schema (`vm-api prestart`) plus one successful create operation per workspace,
then copied, and each measurement runs in a fresh subprocess on its own copy, so that memory
figures start clean:
  timed    expire() with nothing else running: wall time and ru_maxrss growth (and VmRSS)
  traced   expire() under tracemalloc: the peak of Python allocations (slower, not timed)
  baseline one plain sqlite3 UPDATE of the same rows to `deleting` (WAL, synchronous=FULL,
           as the service opens the file), the ratio's denominator
Each timed run checks that every expired workspace is `deleting` with one pending delete
operation and one task in the queue.

Default cases: 10,000 rows (1,000 expired), 100,000 rows (1,000 and 10,000 expired): the two
1,000-expired cases show whether the cost follows the expired rows or the table size.
--large adds 1,000,000 rows with 10,000 and with 100,000 expired (a few minutes).
Target at 100,000 rows (10,000 expired): <= 2 s and <= 150 MB.

    /work/venv/bin/python bench/janitor_scale.py [--large]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    REPO,
    banner,
    commit_cost,
    exit_on_sigterm,
    free_port,
    prestart,
    print_table,
    rss_kib,
    seed_workspaces,
    service_env,
    sql_time,
    verdict,
    workdir,
)

DEFAULT_CASES = [(10_000, 1_000), (100_000, 1_000), (100_000, 10_000)]
LARGE_CASES = [(1_000_000, 10_000), (1_000_000, 100_000)]
TARGET_CASE = (100_000, 10_000)
TARGET_SECONDS, TARGET_MB = 2.0, 150.0
CHILD_TIMEOUT = 1800


# -- the measured process --------------------------------------------------------------------


def child(root: Path, expected: int, traced: bool) -> dict[str, Any]:
    import tracemalloc

    from pony.orm import db_session

    import tasks.janitor as janitor
    import tasks.worker  # noqa: F401  (registers the tasks the janitor enqueues)
    from models.settings import Settings
    from models.store import open_store
    from tasks.queue import configure_queue, huey

    settings = Settings(
        db_path=root / "vm.db",
        queue_path=root / "queue.db",
        data_dir=root / "data",
        default_provider="local",
    )
    store = open_store(settings.data_target)
    configure_queue(settings)
    # Open both connections first: a running worker has them already.
    with db_session:
        store.db.select("SELECT 1")
    huey.pending_count()
    # Split the pass into its two halves, through the names expire() looks up at call time.
    spent = {"database": 0.0, "enqueue": 0.0}

    def timed(part: str, function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            begin = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent[part] += time.perf_counter() - begin

        return wrapper

    janitor.expire_workspaces = timed("database", janitor.expire_workspaces)
    janitor.enqueue_operations = timed("enqueue", janitor.enqueue_operations)
    pid = os.getpid()
    rss_before = rss_kib(pid)
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    expired = janitor.expire()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    connection = sqlite3.connect(settings.db_path)
    deleting = connection.execute(
        "SELECT count(*) FROM workspaces WHERE status = 'deleting'"
    ).fetchone()[0]
    deletes = connection.execute(
        "SELECT count(*) FROM operations WHERE operation_type = 'delete' AND status = 'pending'"
    ).fetchone()[0]
    connection.close()
    queued = huey.pending_count()
    return {
        "seconds": seconds,
        "database_seconds": spent["database"],
        "enqueue_seconds": spent["enqueue"],
        "expired": expired,
        "ok": expired == deleting == deletes == queued == expected,
        "counts": [expired, deleting, deletes, queued],
        "rss_before_kib": rss_before,
        "maxrss_delta_kib": maxrss_after - maxrss_before,
        "rss_after_kib": rss_kib(pid),
        "tracemalloc_peak": peak,
    }


def plain_update(db_path: Path) -> float:
    """The least a database can do for the same result: one UPDATE, one commit."""
    start = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "UPDATE workspaces SET status = 'deleting', updated_at = ?"
        " WHERE expires_at IS NOT NULL AND status <> 'deleting' AND status <> 'deleted'"
        " AND expires_at <= ?",
        (sql_time(datetime.now(UTC)), sql_time(datetime.now(UTC))),
    )
    connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - start


# -- the driver ------------------------------------------------------------------------------


def copy_db(source: Path, root: Path) -> Path:
    root.mkdir()
    shutil.copy(source, root / "vm.db")
    # Write the copy out now: its writeback would otherwise slow the timed run's commits.
    os.sync()
    return root


def run_child(root: Path, expected: int, traced: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(root), "--expected", str(expected)]
    if traced:
        command.append("--traced")
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        env={"PYTHONPATH": str(REPO), "VM_API_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"janitor child failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(rows: int, expired: int, repeat: int) -> dict[str, Any]:
    """The median of `repeat` timed runs (each on a fresh copy), with the commit cost measured
    just before each; memory from the run with the median time."""
    with workdir("janitor") as root:
        env = service_env(root, free_port())
        prestart(env)
        seeded = seed_workspaces(
            root / "vm.db", rows=rows, users=100, expired=expired, with_operations=True
        )
        pristine = root / "vm.db"
        runs = []
        for _ in range(repeat):
            copy = copy_db(pristine, root / "timed")
            before = commit_cost(root)
            run = run_child(copy, expired, traced=False)
            after = commit_cost(root)
            shutil.rmtree(root / "timed")
            if not run["ok"]:
                raise RuntimeError(f"janitor run {rows}/{expired} incomplete: {run['counts']}")
            runs.append({**run, "commit_seconds": (before + after) / 2})
        runs.sort(key=lambda run: run["seconds"])
        timed = runs[len(runs) // 2]
        traced = run_child(copy_db(pristine, root / "traced"), expired, traced=True)
        shutil.rmtree(root / "traced")
        baseline = plain_update(copy_db(pristine, root / "plain") / "vm.db")
        size = pristine.stat().st_size
    return {
        "rows": rows,
        "expired": expired,
        "seed_seconds": seeded.seconds,
        "db_mib": size / 2**20,
        "seconds": timed["seconds"],
        "database_seconds": timed["database_seconds"],
        "enqueue_seconds": timed["enqueue_seconds"],
        "maxrss_delta_kib": timed["maxrss_delta_kib"],
        "rss_after_kib": timed["rss_after_kib"],
        "tracemalloc_peak": traced["tracemalloc_peak"],
        "baseline_seconds": baseline,
        "commit_seconds": timed["commit_seconds"],
        "all_seconds": [run["seconds"] for run in runs],
    }


def report(results: list[dict[str, Any]]) -> None:
    banner("janitor expire(): one pass, fresh process per measurement")
    rows = []
    for r in results:
        rows.append(
            [
                f"{r['rows']:,}",
                f"{r['expired']:,}",
                f"{r['db_mib']:.0f} MiB",
                f"{r['seconds']:.3f} s",
                f"{min(r['all_seconds']):.3f} s",
                f"{r['seconds'] / r['expired'] * 1e6:.0f} us",
                f"{r['database_seconds']:.3f} s",
                f"{r['enqueue_seconds']:.3f} s",
                f"{r['tracemalloc_peak'] / 2**20:.1f} MiB",
                f"{r['maxrss_delta_kib'] / 1024:.1f} MiB",
                f"{r['baseline_seconds']:.3f} s",
                f"{r['seconds'] / r['baseline_seconds']:.0f}x",
                f"{r['commit_seconds'] * 1e6:.0f} us",
            ]
        )
    print_table(
        [
            "rows",
            "expired",
            "db file",
            "expire()",
            "min",
            "per expired",
            "db part",
            "enqueue part",
            "tracemalloc peak",
            "maxrss growth",
            "plain UPDATE",
            "ratio",
            "1 commit",
        ],
        rows,
    )
    print(
        "expire(): median of the timed runs, each on a fresh copy (all: "
        + "; ".join(", ".join(f"{s:.2f}" for s in r["all_seconds"]) for r in results)
        + ")\ndb part: in models.maintenance.expire_workspaces (select, update, insert, commit);"
        " enqueue part: in enqueue_operation, one huey task per expired workspace"
        "\nratio: expire() / plain UPDATE of the same rows in one transaction"
        "\n1 commit: one small WAL transaction with synchronous=FULL on this disk, around that"
        " run (the fsync cost, which drifts on a shared machine)"
    )
    by_case = {(r["rows"], r["expired"]): r for r in results}
    for small, big, expired in ((10_000, 100_000, 1_000), (100_000, 1_000_000, 10_000)):
        if (small, expired) in by_case and (big, expired) in by_case:
            a, b = by_case[(small, expired)], by_case[(big, expired)]
            print(
                f"same {expired:,} expired, table {big // small}x bigger:"
                f" db part {b['database_seconds'] / a['database_seconds']:.2f}x,"
                f" whole pass {b['seconds'] / a['seconds']:.2f}x the time"
            )
    target = by_case.get(TARGET_CASE)
    if target:
        peak_mb = max(target["tracemalloc_peak"] / 1e6, target["maxrss_delta_kib"] * 1024 / 1e6)
        ok = target["seconds"] <= TARGET_SECONDS and peak_mb <= TARGET_MB
        print(
            f"target at 100,000 rows / 10,000 expired (<= {TARGET_SECONDS:.0f} s,"
            f" <= {TARGET_MB:.0f} MB): {target['seconds']:.2f} s, {peak_mb:.1f} MB: {verdict(ok)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the 1,000,000-row cases")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per default case")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--expected", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.expected, args.traced)))
        return 0
    exit_on_sigterm()
    cases = [(rows, expired, args.repeat) for rows, expired in DEFAULT_CASES]
    if args.large:
        cases += [(rows, expired, 1) for rows, expired in LARGE_CASES]  # once: minutes each
    results = []
    for rows, expired, repeat in cases:
        print(f"measuring {rows:,} rows with {expired:,} expired ...", end=" ", flush=True)
        results.append(measure(rows, expired, repeat))
        print(f"(seeded in {results[-1]['seed_seconds']:.1f} s)", flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
