"""Where the time goes: py-spy samples of the real processes under one benchmark's load.

Not a benchmark: it prints the functions that most samples were in (inclusive and self), for
checking a bottleneck before and after a change. Needs py-spy (`pip install py-spy` into the
venv) and wrk. Loads:
  single  wrk on GET /api/v1/workspaces/{id} against `vm-api web` (10,000 seeded workspaces)
  list    wrk on GET /api/v1/workspaces?limit=50 against the same
  admin   the same as an admin (VM_API_ADMINS): every owner's newest workspaces
  burst   1,000 creates from 16 clients against the all-in-one `vm-api`; web and worker
  janitor cProfile of one expire() over 100,000 rows with 10,000 expired (no py-spy needed)
With --gil only the thread holding the GIL is sampled (CPU work; I/O and lock waits vanish).

    /work/venv/bin/python bench/profile_hotspots.py list [--gil] [--seconds 12]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_throughput import load_scripts
from harness import (
    Service,
    cmdline,
    free_port,
    prestart,
    run_wrk,
    seed_workspaces,
    service_env,
    vm_api_command,
    workdir,
    wrk_path,
)
from provision_burst import post_creates, wait_all_running

# Frames of the interpreter and the event loop: on every stack, they say nothing.
NOISE = re.compile(r"threading\.py|runpy|asyncio/runners|base_events\.py|hypercorn/run\.py|cli\.py")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: /work/venv/bin/pip install py-spy")
    return found


def record(pid: int, out: Path, seconds: float, gil: bool) -> subprocess.Popen[bytes]:
    command = [py_spy(), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200"]
    command += ["-f", "raw", "-o", str(out), "--nonblocking", "--gil" if gil else "--threads"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize(raw: Path, title: str, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        frames = [frame for frame in frames if not frame.startswith("thread (")]
        total += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
        if frames:
            own[frames[-1]] += int(count)
    print(f"\n== {title}: {total} samples ==")
    for label, counter in (("inclusive", inclusive), ("self", own)):
        print(f"-- {label}")
        shown = 0
        for frame, count in counter.most_common():
            if NOISE.search(frame):
                continue
            print(f"{100 * count / total:5.1f}%  {frame[:140]}")
            shown += 1
            if shown == top:
                break


def web_load(endpoint: str, args: argparse.Namespace) -> None:
    wrk_path()
    with workdir("profile") as root:
        prestart(service_env(root, free_port()))
        seeded = seed_workspaces(root / "vm.db", rows=10_000, users=100, keep_ids=True)
        script = load_scripts(root, seeded.ids_by_user)[endpoint]
        port = free_port()
        web = Service(
            [*vm_api_command(), "web"], service_env(root, port), root / "web.log", port=port
        )
        try:
            web.start()
            run_wrk(web.base_url + "/", script, connections=32, seconds=2)
            spy = record(web.pid, root / "web.raw", args.seconds, args.gil)
            result = run_wrk(web.base_url + "/", script, connections=32, seconds=args.seconds + 2)
            spy.wait()
        finally:
            web.stop()
        print(f"wrk under py-spy: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms")
        summarize(root / "web.raw", f"vm-api web, {endpoint}", args.top)


def burst(args: argparse.Namespace) -> None:
    with workdir("profile") as root:
        port = free_port()
        service = Service(vm_api_command(), service_env(root, port), root / "vm.log", port=port)
        try:
            service.start()
            time.sleep(3)
            pids = {cmdline(pid)[-1]: pid for pid in service.processes()[1:]}
            spies = [
                record(pid, root / f"{name}.raw", args.seconds, args.gil)
                for name, pid in pids.items()
            ]
            time.sleep(0.5)
            post_creates(service.base_url, 1000, 16)
            wait_all_running(root / "vm.db", 1000, 120)
            for spy in spies:
                spy.wait()
        finally:
            service.stop()
        for name in pids:
            summarize(root / f"{name}.raw", f"{name} during a burst of 1,000 creates", args.top)


def janitor(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    with workdir("profile") as root:
        prestart(service_env(root, free_port()))
        seed_workspaces(
            root / "vm.db", rows=100_000, users=100, expired=10_000, with_operations=True
        )
        import tasks.worker  # noqa: F401  (registers the tasks the janitor enqueues)
        from models.settings import Settings
        from models.store import open_store
        from tasks.janitor import expire
        from tasks.queue import configure_queue, huey

        settings = Settings(
            db_path=root / "vm.db", queue_path=root / "queue.db", data_dir=root / "data"
        )
        open_store(settings.data_target)
        configure_queue(settings)
        huey.pending_count()
        profile = cProfile.Profile()
        profile.enable()
        expire()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("load", choices=["single", "list", "admin", "burst", "janitor"])
    parser.add_argument("--seconds", type=float, default=12.0, help="sampling seconds")
    parser.add_argument("--gil", action="store_true", help="sample only the GIL holder")
    parser.add_argument("--top", type=int, default=30, help="lines per table")
    args = parser.parse_args()
    if args.load == "janitor":
        janitor(args)
    elif args.load == "burst":
        py_spy()
        burst(args)
    else:
        py_spy()
        web_load(args.load, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
