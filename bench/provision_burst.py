"""Benchmark 4: a burst of creates through the real all-in-one `vm-api` (`local` provider).

16 client threads (one httpx client and one user each) POST 1,000 creates as fast as the API
answers; a reader polls the database file read-only every 20 ms until all of them are
`running`. Reported: how long the POSTs took, the time until all were running, the rate, and
a check that each was provisioned exactly once (every create operation succeeded on its first
attempt, and there is one folder per workspace).

Baseline, in the same run: the same number of os.mkdir calls in a plain Python loop, in the
same kind of folder. Target: >= 50 workspaces/s.

    /work/venv/bin/python bench/provision_burst.py [--count 1000] [--clients 16]
"""

from __future__ import annotations

import argparse
import os
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds to reach running")
    args = parser.parse_args()
    exit_on_sigterm()
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
