"""Benchmark 1: create -> running latency through the real all-in-one `vm-api`.

The original service provisioned from a 10-second polling sweep (about 5 s of waiting on
average). This starts `vm-api` (web + worker) with the `local` provider, leaves it idle (so an
idle worker's poll back-off is included), then makes sequential creates and polls
GET /api/v1/workspaces/{id} every ~5 ms until it reads `running`.

Baseline, measured in the same run and interleaved with the creates: one GET /health round
trip through the same client. Target: p50 <= 100 ms, p99 <= 500 ms.

    /work/venv/bin/python bench/create_to_running.py [--idle 60] [--count 200]
"""

from __future__ import annotations

import argparse
import sys
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
    ms,
    parse_sql_time,
    percentile,
    print_table,
    ratio,
    read_only,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)

POLL_SECONDS = 0.005
RUNNING_TIMEOUT = 30.0
TARGET_P50, TARGET_P99 = 0.100, 0.500


def wait_running(client: httpx.Client, workspace_id: str, user: dict[str, str]) -> float:
    """Poll until `running`; returns the time.time() at which it was first seen."""
    deadline = time.monotonic() + RUNNING_TIMEOUT
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/workspaces/{workspace_id}", headers=user)
        status = response.json()["status"]
        if status == "running":
            return time.time()
        if status not in ("creating",):
            raise RuntimeError(f"workspace {workspace_id} went to {status}: {response.text}")
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"workspace {workspace_id} not running after {RUNNING_TIMEOUT} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds before creating")
    parser.add_argument("--count", type=int, default=200, help="sequential creates")
    args = parser.parse_args()
    exit_on_sigterm()

    with workdir("create") as root:
        port = free_port()
        service = Service(vm_api_command(), service_env(root, port), root / "vm-api.log", port=port)
        try:
            service.start()
            banner(f"create -> running, {args.count} sequential creates, local provider")
            print(f"vm-api (web + worker) on {service.base_url}; idle for {args.idle:.0f} s")
            time.sleep(args.idle)
            user = {"x-user": "bench"}
            created: list[tuple[str, float, float, float]] = []  # id, sent, 201, running
            health: list[float] = []
            with httpx.Client(base_url=service.base_url, timeout=30.0) as client:
                client.get("/health")  # open the keep-alive connection before timing
                for i in range(args.count):
                    sent = time.time()
                    response = client.post(
                        "/api/v1/workspaces", json={"name": f"bench-{i:04d}"}, headers=user
                    )
                    answered = time.time()
                    if response.status_code != 201:
                        raise RuntimeError(f"create {i}: {response.status_code} {response.text}")
                    workspace_id = response.json()["id"]
                    running = wait_running(client, workspace_id, user)
                    created.append((workspace_id, sent, answered, running))
                    # The baseline, in the same conditions: one bare round trip.
                    begin = time.perf_counter()
                    client.get("/health").raise_for_status()
                    health.append(time.perf_counter() - begin)
            server = server_times(root / "vm.db", created)
        finally:
            service.stop()
        report(created, health, server)
        fsync = commit_cost(root)
        print(f"one WAL commit with synchronous=FULL on this disk now: {fsync * 1e6:.0f} us")
    return 0


def server_times(
    db_path: Path, created: list[tuple[str, float, float, float]]
) -> dict[str, tuple[float, float, int, str]]:
    """Per workspace: its create operation's started_at, completed_at, attempts and status."""
    with read_only(db_path) as connection:
        rows = connection.execute(
            "SELECT workspace_id, started_at, completed_at, attempts, status FROM operations"
            " WHERE operation_type = 'create'"
        ).fetchall()
    wanted = {workspace_id for workspace_id, *_ in created}
    return {
        row[0]: (parse_sql_time(row[1]), parse_sql_time(row[2]), row[3], row[4])
        for row in rows
        if row[0] in wanted and row[2] is not None
    }


def report(
    created: list[tuple[str, float, float, float]],
    health: list[float],
    server: dict[str, tuple[float, float, int, str]],
) -> None:
    to_running = [running - answered for _, _, answered, running in created]
    post = [answered - sent for _, sent, answered, _ in created]
    to_completed = [server[wid][1] - answered for wid, _, answered, _ in created if wid in server]
    recorded_to_completed = [completed - started for started, completed, _, _ in server.values()]
    rows = []
    for label, values in (
        ("201 -> running (client polling)", to_running),
        ("201 -> completed_at (server)", to_completed),
        ("started_at -> completed_at (server)", recorded_to_completed),
        ("POST round trip (-> 201)", post),
        ("baseline: GET /health round trip", health),
    ):
        rows.append(
            [
                label,
                ms(percentile(values, 50)),
                ms(percentile(values, 95)),
                ms(percentile(values, 99)),
                ms(max(values)),
            ]
        )
    print_table(["measure", "p50", "p95", "p99", "max"], rows)
    base = percentile(health, 50)
    p50, p99 = percentile(to_running, 50), percentile(to_running, 99)
    print(f"first create after the idle period: {ms(to_running[0])} (201 -> running)")
    bad = [
        wid
        for wid, (_, _, attempts, status) in server.items()
        if (attempts, status) != (1, "success")
    ]
    print(f"create operations: {len(server)} completed, {len(bad)} not (1 attempt, success)")
    print(f"ratio p50 create->running / p50 health: {ratio(p50, base)}")
    print(f"ratio p99 create->running / p50 health: {ratio(p99, base)}")
    print(
        f"target p50 <= {ms(TARGET_P50)}, p99 <= {ms(TARGET_P99)}: "
        f"{verdict(p50 <= TARGET_P50 and p99 <= TARGET_P99)}"
    )


if __name__ == "__main__":
    sys.exit(main())
