"""Benchmark 4: a burst of creates through the real all-in-one `vm-api` (`local` provider).

16 client threads (one httpx client and one user each) POST 1,000 creates as fast as the API
answers; a reader polls the database file read-only every 20 ms until all of them are
`running`. Reported: how long the POSTs took, the time until all were running, the rate, and
a check that each was provisioned exactly once (every create operation succeeded on its first
attempt, and there is one folder per workspace).

Baseline, in the same run: the same number of os.mkdir calls in a plain Python loop, in the
same kind of folder. Target: >= 50 workspaces/s.

    /work/venv/bin/python bench/provision_burst.py [--count 1000] [--clients 16]

With --history-rounds N it instead runs the burst 2N times, alternating the consumer's task
history (huey.contrib.stats, VM_API_TASK_HISTORY) on and off, and reports the ratio of the
median times until all were running. Target: history on costs at most 5 %.

    /work/venv/bin/python bench/provision_burst.py --history-rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Service,
    banner,
    commit_cost,
    exit_on_sigterm,
    free_port,
    print_table,
    ratio,
    read_only,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)

TARGET_RATE = 50.0
POLL_SECONDS = 0.02


def post_creates(base_url: str, count: int, clients: int) -> tuple[list[str], float]:
    """Returns the created ids and the time at which the last POST was answered."""
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    last = [0.0]

    def client_loop(n: int) -> None:
        user = {"x-user": f"burst{n}"}
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for i in range(n, count, clients):
                response = client.post(
                    "/api/v1/workspaces", json={"name": f"burst-{i:05d}"}, headers=user
                )
                with lock:
                    if response.status_code == 201:
                        ids.append(response.json()["id"])
                    else:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                    last[0] = time.perf_counter()

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} creates failed, first: {errors[0]}")
    return ids, last[0]


def wait_all_running(db_path: Path, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    with read_only(db_path) as connection:
        while time.monotonic() < deadline:
            running = connection.execute(
                "SELECT count(*) FROM workspaces WHERE status = 'running'"
            ).fetchone()[0]
            if running >= count:
                return time.perf_counter()
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"not all {count} workspaces were running after {timeout} s")


def mkdir_baseline(root: Path, count: int) -> float:
    folder = root / "baseline"
    folder.mkdir()
    names = [str(folder / f"ws-{i:05d}") for i in range(count)]
    start = time.perf_counter()
    for name in names:
        os.mkdir(name)
    return time.perf_counter() - start


def verify(root: Path, ids: list[str]) -> list[str]:
    problems = []
    with read_only(root / "vm.db") as connection:
        rows = connection.execute(
            "SELECT workspace_id, attempts, status FROM operations WHERE operation_type = 'create'"
        ).fetchall()
    by_workspace: dict[str, list[tuple[int, str]]] = {}
    for workspace_id, attempts, status in rows:
        by_workspace.setdefault(workspace_id, []).append((attempts, status))
    for workspace_id in ids:
        if by_workspace.get(workspace_id) != [(1, "success")]:
            problems.append(f"{workspace_id}: create operations {by_workspace.get(workspace_id)}")
    folders = {p.name for p in (root / "data" / "workspaces").iterdir() if p.is_dir()}
    if folders != set(ids):
        problems.append(
            f"{len(folders)} folders for {len(ids)} workspaces"
            f" ({len(set(ids) - folders)} missing, {len(folders - set(ids))} extra)"
        )
    return problems


HISTORY_TARGET = 1.05


def burst_once(args: argparse.Namespace, history: bool) -> tuple[float, list[str]]:
    """One burst on a fresh service: seconds until all were running, and any problems."""
    with workdir("burst") as root:
        port = free_port()
        env = service_env(root, port, VM_API_TASK_HISTORY="true" if history else "false")
        service = Service(vm_api_command(), env, root / "vm-api.log", port=port)
        try:
            service.start()
            time.sleep(2)
            start = time.perf_counter()
            ids, _ = post_creates(service.base_url, args.count, args.clients)
            done = wait_all_running(root / "vm.db", args.count, args.timeout)
            problems = verify(root, ids)
        finally:
            service.stop()
        if history:
            history_file = root / "task-history.db"
            with read_only(history_file) as connection:
                events = connection.execute("SELECT count(*) FROM huey_event").fetchone()[0]
            size = sum(p.stat().st_size for p in root.glob("task-history.db*"))
            print(f"  task history after the burst: {events} events, {size // 1024} KiB")
            if events < 2 * args.count:
                problems.append(f"only {events} task events recorded for {args.count} creates")
    return done - start, problems


def compare_history(args: argparse.Namespace) -> int:
    banner(
        f"provision burst with and without task history: {args.history_rounds} rounds of"
        f" {args.count} creates from {args.clients} clients, alternating"
    )
    times: dict[bool, list[float]] = {True: [], False: []}
    problems: list[str] = []
    for number in range(args.history_rounds):
        # alternate which goes first, so that drift of the machine favours neither
        for history in (True, False) if number % 2 == 0 else (False, True):
            seconds, found = burst_once(args, history)
            times[history].append(seconds)
            problems += found
            print(f"  round {number + 1} history {'on ' if history else 'off'}: {seconds:.2f} s")
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print_table(
        ["history", "median s", "runs (s)"],
        [
            ["on", f"{on:.2f}", " ".join(f"{t:.2f}" for t in times[True])],
            ["off", f"{off:.2f}", " ".join(f"{t:.2f}" for t in times[False])],
        ],
    )
    print(f"ratio history on / off (median time to all running): {on / off:.3f}")
    print(f"provisioned exactly once: {'yes' if not problems else 'NO'}")
    print(f"target <= {HISTORY_TARGET:.2f}: {verdict(on / off <= HISTORY_TARGET and not problems)}")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds to reach running")
    parser.add_argument(
        "--history-rounds", type=int, default=0, help="compare task history on and off"
    )
    args = parser.parse_args()
    exit_on_sigterm()
    if args.history_rounds:
        return compare_history(args)
    with workdir("burst") as root:
        port = free_port()
        service = Service(vm_api_command(), service_env(root, port), root / "vm-api.log", port=port)
        try:
            service.start()
            time.sleep(2)  # let the worker come up and settle into its idle polling
            banner(f"provision burst: {args.count} creates from {args.clients} clients")
            start = time.perf_counter()
            ids, posted = post_creates(service.base_url, args.count, args.clients)
            done = wait_all_running(root / "vm.db", args.count, args.timeout)
            problems = verify(root, ids)
        finally:
            service.stop()
        baseline = mkdir_baseline(root, args.count)
        fsync = commit_cost(root)
    total = done - start
    rate = args.count / total
    print_table(
        ["measure", "seconds", "per second"],
        [
            [
                "POSTs answered (201)",
                f"{posted - start:.2f}",
                f"{args.count / (posted - start):.0f}",
            ],
            ["all running", f"{total:.2f}", f"{rate:.1f}"],
            ["baseline: os.mkdir loop", f"{baseline:.4f}", f"{args.count / baseline:.0f}"],
        ],
    )
    print(f"ratio time to all running / mkdir loop: {ratio(total, baseline)}")
    print(f"one WAL commit with synchronous=FULL on this disk now: {fsync * 1e6:.0f} us")
    print(f"provisioned exactly once: {'yes' if not problems else 'NO'}")
    for problem in problems[:10]:
        print(f"  {problem}")
    ok = rate >= TARGET_RATE and not problems
    print(f"target >= {TARGET_RATE:.0f} workspaces/s: {verdict(ok)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
