"""Event streams at scale (issue 12): 1,000 open SSE streams on one `vm-api web` process.

Measured in one run, against the same server:
  memory   the web process's resident memory before and with the streams open
  delivery a status change committed straight into the database (as the worker commits one),
           then the time until each of the 1,000 streams has the event: p50 and p99 over every
           stream and every change
  single   wrk's single-GET throughput (GET /api/v1/workspaces/{id}) with the streams open,
           against the same without them, in alternating rounds

Targets: delivery p99 <= 250 ms; single-GET throughput with the streams at most 10 % lower.

    .venv/bin/python bench/event_streams.py [--streams 1000] [--changes 20] [--seconds 6]
(needs wrk: apt-get install -y wrk)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HOST,
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    mib,
    percentile,
    prestart,
    print_table,
    run_wrk,
    seed_workspaces,
    service_env,
    tree_rss_kib,
    verdict,
    vm_api_command,
    workdir,
    wrk_script,
)

USER = "user0"
TARGET_P99_MS = 250.0
TARGET_THROUGHPUT_LOSS = 0.10

SINGLE_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/api/v1/workspaces/" .. ids[i], {["x-user"] = "%(user)s"})
end
"""


class Streams:
    """N raw SSE connections; each records when it saw each event id."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.arrivals: list[dict[str, float]] = [{} for _ in range(count)]
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        ready = [asyncio.Event() for _ in range(self.count)]
        for index in range(self.count):
            self.tasks.append(asyncio.create_task(self._read(index, ready[index])))
            if index % 50 == 49:
                await asyncio.sleep(0.01)  # no SYN flood against one listening socket
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)

    async def _read(self, index: int, ready: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        self.writers.append(writer)
        writer.write(
            f"GET /api/v1/events HTTP/1.1\r\nHost: {HOST}\r\nx-user: {USER}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        seen = self.arrivals[index]
        while line := await reader.readline():
            if line.startswith(b"retry:"):
                ready.set()
            elif line.startswith(b"id: "):
                seen[line[4:].strip().decode()] = time.perf_counter()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.writers.clear()
        self.tasks.clear()


def commit_change(db_path: Path, workspace_id: str, status: str) -> tuple[int, float]:
    """A status change as the worker makes one; returns its event id and the commit time."""
    with sqlite3.connect(db_path, timeout=30) as connection:
        connection.execute("UPDATE workspaces SET status = ? WHERE id = ?", (status, workspace_id))
    committed = time.perf_counter()
    with sqlite3.connect(db_path, timeout=30) as connection:
        (event_id,) = connection.execute("SELECT MAX(id) FROM change_events").fetchone()
    return int(event_id), committed


async def measure_delivery(
    streams: Streams, db_path: Path, workspace_id: str, changes: int
) -> list[float]:
    latencies: list[float] = []
    for n in range(changes):
        status = "stopped" if n % 2 == 0 else "running"
        event_id, committed = await asyncio.to_thread(commit_change, db_path, workspace_id, status)
        key = str(event_id)
        deadline = time.perf_counter() + 10
        while any(key not in seen for seen in streams.arrivals):
            if time.perf_counter() > deadline:
                missing = sum(key not in seen for seen in streams.arrivals)
                raise RuntimeError(f"{missing} streams never got event {key}")
            await asyncio.sleep(0.005)
        latencies.extend(seen[key] - committed for seen in streams.arrivals)
        await asyncio.sleep(0.2)
    return latencies


async def run(args: argparse.Namespace) -> int:
    with workdir("vm-api-bench-events-") as root:
        port = free_port()
        env = service_env(root, port, VM_API_WEB_WORKERS="1")
        prestart(env)
        seeded = seed_workspaces(root / "vm.db", rows=200, users=1, keep_ids=True)
        ids = seeded.ids_by_user[USER]
        ids_file = root / "ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        script = wrk_script(root / "single.lua", SINGLE_LUA % {"ids": ids_file, "user": USER})
        web = Service([*vm_api_command(), "web"], env, root / "web.log", port=port).start()
        try:
            url = web.base_url + "/"
            run_wrk(url, script, connections=32, seconds=2)  # warm-up
            rss_before = tree_rss_kib(web.pid)
            streams = Streams(port, args.streams)
            await streams.open()
            await asyncio.sleep(1)
            rss_with = tree_rss_kib(web.pid)
            latencies = await measure_delivery(streams, root / "vm.db", ids[0], args.changes)
            without: list[float] = []
            with_streams: list[float] = []
            for _ in range(args.rounds):
                with_streams.append(
                    (await asyncio.to_thread(run_wrk, url, script, connections=32,
                                             seconds=args.seconds)).rps
                )  # fmt: skip
                await streams.close()
                without.append(
                    (await asyncio.to_thread(run_wrk, url, script, connections=32,
                                             seconds=args.seconds)).rps
                )  # fmt: skip
                streams = Streams(port, args.streams)
                await streams.open()
            await streams.close()
        finally:
            web.stop()
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    rps_without, rps_with = statistics.median(without), statistics.median(with_streams)
    loss = 1 - rps_with / rps_without
    banner(f"{args.streams} event streams on one web process")
    print_table(
        ["measure", "value", "target", "verdict"],
        [
            ["RSS without streams", mib(rss_before), "", ""],
            ["RSS with streams", mib(rss_with), "", ""],
            ["RSS per stream", f"{(rss_with - rss_before) / args.streams:.1f} KiB", "", ""],
            ["delivery p50", f"{p50:.1f} ms", "", ""],
            ["delivery p99", f"{p99:.1f} ms", f"<= {TARGET_P99_MS:.0f} ms",
             verdict(p99 <= TARGET_P99_MS)],
            ["single GET without", f"{rps_without:.0f} req/s", "", ""],
            ["single GET with", f"{rps_with:.0f} req/s", "", ""],
            ["throughput lost", f"{loss * 100:.1f} %", f"<= {TARGET_THROUGHPUT_LOSS * 100:.0f} %",
             verdict(loss <= TARGET_THROUGHPUT_LOSS)],
        ],
    )  # fmt: skip
    return 0 if p99 <= TARGET_P99_MS and loss <= TARGET_THROUGHPUT_LOSS else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    exit_on_sigterm()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, args.streams * 2 + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the server inherits it
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
