"""Shared plumbing for the benchmarks: start and stop real `vm-api` processes on loopback,
seed a database directly, read memory from /proc, drive wrk, and print figures.

Every process a benchmark starts goes through `Service`, whose `stop()` ends the whole tree
(the all-in-one `vm-api` starts its web and worker children in sessions of their own, so a
process-group kill would miss them): SIGINT first, as an operator would, SIGKILL after a bound.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
HOST = "127.0.0.1"
ADMIN = "admin"  # in VM_API_ADMINS of every service started here; the seeded users are not
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how Pony stores datetimes in SQLite (UTC, naive)
STOP_SECONDS = 45.0  # the web server's graceful timeout is 30 s


# -- commands and settings -------------------------------------------------------------------


def vm_api_command() -> list[str]:
    """The installed `vm-api` script beside this interpreter, else the module form."""
    script = Path(sys.executable).with_name("vm-api")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder that is removed even when the benchmark fails."""
    path = Path(tempfile.mkdtemp(prefix=f"vm-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def service_env(root: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of a `vm-api` under `root`: its own database, queue and data folder,
    bound to loopback. Inherited VM_API_* variables are dropped so that a developer's shell
    cannot change what is measured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VM_API_")}
    env.update(
        VM_API_BIND=f"{HOST}:{port}",
        VM_API_DB_PATH=str(root / "vm.db"),
        VM_API_QUEUE_PATH=str(root / "queue.db"),
        VM_API_DATA_DIR=str(root / "data"),
        VM_API_DEFAULT_PROVIDER="local",
        VM_API_TEMPLATES_FILE=str(write_templates(root)),
        VM_API_LOG_LEVEL="WARNING",
        VM_API_ADMINS=ADMIN,
        PYTHONPATH=str(REPO),
    )
    env.update(overrides)
    return env


def write_templates(root: Path, *, cpus: bool = True) -> Path:
    """One template, `base`, the image the Docker tests build (see .ci/build-test-image.sh)."""
    path = root / "templates.toml"
    limits = "cpus = 1.0\nmemory_mb = 256\n" if cpus else ""
    path.write_text(
        'default = "base"\n\n[templates.base]\n'
        'image = "vm-api/test-base:latest"\n'
        'command = ["sleep", "2147483647"]\n'
        'description = "busybox shell"\n' + limits
    )
    return path


def prestart(env: dict[str, str]) -> None:
    """`vm-api prestart`: creates the schema through the real migrations."""
    result = subprocess.run(
        [*vm_api_command(), "prestart"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"vm-api prestart failed ({result.returncode}): {result.stderr}")


# -- processes -------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells a process from a later one that reused its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found.extend(int(part) for part in text.split())
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    result: list[int] = []
    pending = children(pid)
    while pending:
        child = pending.pop()
        result.append(child)
        pending.extend(children(child))
    return result


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    """A process and all its descendants (e.g. Hypercorn's worker processes)."""
    return rss_kib(pid) + sum(rss_kib(child) for child in descendants(pid))


class Service:
    """One started command (a `vm-api` or the bare app) and everything it starts."""

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        *,
        port: int,
        ready_path: str | None = "/health",
        ready_file: Path | None = None,
    ) -> None:
        """Ready when `ready_path` answers 200, or (with ready_path None) when `ready_file`
        exists."""
        self.args = list(args)
        self.env = env
        self.log_path = log_path
        self.port = port
        self.base_url = f"http://{HOST}:{port}"
        self.ready_path = ready_path
        self.ready_file = ready_file
        self.process: subprocess.Popen[bytes] | None = None
        self._known: dict[int, str | None] = {}

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the service is not started")
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Service:
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open by the child)
        try:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                self._remember()
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.args} exited early:\n{self.log_tail()}")
                if self._ready(client):
                    self._remember()
                    return self
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.args} did not answer within {timeout} s:\n{self.log_tail()}")

    def _ready(self, client: httpx.Client) -> bool:
        if self.ready_path is None:
            return self.ready_file is not None and self.ready_file.exists()
        try:
            return client.get(self.base_url + self.ready_path).status_code == 200
        except httpx.TransportError:
            return False

    def _remember(self) -> None:
        if self.process is None:
            return
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            self._known.setdefault(pid, _start_time(pid))

    def processes(self) -> list[int]:
        """The live tree: the started process first, then its descendants."""
        self._remember()
        return [self.pid, *descendants(self.pid)]

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        if self.process is None:
            return
        self._remember()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Children that outlived their parent (they run in sessions of their own) are ours
        # only if their start time still matches what we saw.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._survivors():
            time.sleep(0.1)
        for pid in self._survivors():
            os.kill(pid, signal.SIGKILL)

    def _survivors(self) -> list[int]:
        alive = []
        for pid, started in self._known.items():
            if started is not None and _start_time(pid) == started:
                try:
                    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                if state != "Z":
                    alive.append(pid)
        return alive

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that `finally` blocks stop what the benchmark started."""

    def handler(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)


# -- seeding ---------------------------------------------------------------------------------

WORKSPACE_COLUMNS = (
    "id, owner, name, repo_url, template, provider, status, created_at, updated_at,"
    " ttl_seconds, expires_at, metadata, provider_id, connection_info, error_message,"
    " deleted_at, cpus, memory_mb"
)
# A random version-4 UUID in SQL, so that seeding operations needs no Python loop.
SQL_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'"
    " || substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || lower(hex(randomblob(6)))"
)
OPERATION_COLUMNS = (
    "id, workspace_id, owner, operation_type, status, started_at, completed_at, error,"
    " attempts, enqueued_at, heartbeat_at, target_id"
)


def sql_time(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def parse_sql_time(text: str) -> float:
    """A stored UTC timestamp as a Unix time."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp()


def user_name(index: int) -> str:
    return f"user{index}"


@dataclass
class Seeded:
    rows: int
    expired: int
    seconds: float
    ids_by_user: dict[str, list[str]] = field(default_factory=dict)


def seed_workspaces(
    db_path: Path,
    *,
    rows: int,
    users: int,
    expired: int = 0,
    with_operations: bool = False,
    keep_ids: bool = False,
    data_dir: Path | None = None,
) -> Seeded:
    """Insert `rows` running `local` workspaces spread over `users` owners, newest last.

    The first `expired` rows expired an hour ago; half of the others expire in a day and the
    rest have no TTL. With `with_operations`, each gets its successful create operation, as a
    real database would have.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    start = time.perf_counter()
    ids_by_user: dict[str, list[str]] = {}
    root = str(data_dir or db_path.parent / "data")

    def workspaces() -> Iterator[tuple[Any, ...]]:
        for i in range(rows):
            workspace_id = str(uuid.uuid4())
            owner = user_name(i % users)
            if keep_ids:
                ids_by_user.setdefault(owner, []).append(workspace_id)
            created = now - timedelta(seconds=rows - i)
            if i < expired:
                ttl, expires = 60, sql_time(now - timedelta(hours=1))
            elif i % 2:
                ttl, expires = 86400, sql_time(now + timedelta(days=1))
            else:
                ttl, expires = None, None
            path = f"{root}/workspaces/{workspace_id}"
            yield (
                workspace_id,
                owner,
                f"ws-{i:07d}",
                None,
                "base",
                "local",
                "running",
                sql_time(created),
                sql_time(created),
                ttl,
                expires,
                '{"team": "bench"}',
                path,
                json.dumps({"path": path}),
                None,
                None,
                1.0,
                256,
            )

    connection = sqlite3.connect(db_path)
    try:
        # Bulk load: the service turns WAL and FULL sync back on when it opens the file.
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            connection.executemany(
                f"INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                workspaces(),
            )
            if with_operations:
                connection.execute(
                    f"INSERT INTO operations ({OPERATION_COLUMNS})"
                    f" SELECT {SQL_UUID}, id, owner, 'create', 'success',"
                    " created_at, created_at, NULL, 1, created_at, NULL, NULL FROM workspaces"
                )
    finally:
        connection.close()
    return Seeded(rows, expired, time.perf_counter() - start, ids_by_user)


def read_only(db_path: Path) -> sqlite3.Connection:
    """A reader that cannot change what the service writes."""
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)


def commit_cost(folder: Path, commits: int = 200) -> float:
    """Seconds per small write transaction in WAL mode with synchronous=FULL, as the service
    commits: the disk's fsync cost right now, which drifts on shared machines and explains
    most of the drift in the write benchmarks."""
    os.sync()  # flush what earlier steps wrote, or their writeback is what gets timed
    path = folder / "fsync-probe.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("CREATE TABLE probe (n INTEGER)")
        start = time.perf_counter()
        for n in range(commits):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO probe VALUES (?)", (n,))
            connection.execute("COMMIT")
        return (time.perf_counter() - start) / commits
    finally:
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "n/a"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def banner(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


# -- wrk -------------------------------------------------------------------------------------

WRK = "/usr/bin/wrk"
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d"
    .. " status_errors=%d socket_errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_path() -> str:
    found = shutil.which("wrk") or (WRK if Path(WRK).exists() else None)
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkResult:
    """One closed-loop wrk run; the figures come from the script's `done` hook (exact, in µs)."""
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(int(seconds), 1)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH-RESULT"):
            values = dict(part.split("=") for part in line.split()[1:])
            return WrkResult(
                requests=int(values["requests"]),
                seconds=int(values["duration_us"]) / 1e6,
                p50_ms=int(values["p50_us"]) / 1000,
                p90_ms=int(values["p90_us"]) / 1000,
                p99_ms=int(values["p99_us"]) / 1000,
                max_ms=int(values["max_us"]) / 1000,
                status_errors=int(values["status_errors"]),
                socket_errors=int(values["socket_errors"]),
            )
    raise RuntimeError(f"wrk gave no result ({result.returncode}):\n{result.stdout}{result.stderr}")


def wrk_script(path: Path, body: str) -> Path:
    path.write_text(body + WRK_DONE)
    return path
