"""Faults on real processes: kill -9 of the worker and of the web server, lost enqueues,
SIGTERM, and backups taken while the service writes.

Recovery bounds used here (and documented in README "Failure and recovery"): a running
operation whose worker died is re-run once its heartbeat is older than
VM_API_HEARTBEAT_TIMEOUT (30 s by default, 3 s in these tests) at the next sweep.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from db_support import Target, execute, on_postgres, query
from harness import ServiceConfig, ServiceProcess, StartService, git_repository, wait_until

pytestmark = pytest.mark.slow

FAST_RECOVERY = {
    "VM_API_HEARTBEAT_TIMEOUT": "3",
    "VM_API_PROVISIONER_INTERVAL": "1",
    "VM_API_REQUEUE_AFTER": "2",
}


def rows(db: Target, sql: str, *params: object) -> list[tuple]:
    return query(db, sql, params)


def all_settled(db: Target) -> bool:
    """No workspace in a transitional status and no operation left pending or running."""
    busy = rows(
        db,
        "SELECT count(*) FROM workspaces WHERE status IN"
        " ('creating', 'deleting', 'starting', 'stopping', 'restarting', 'restoring')",
    )[0][0]
    open_ops = rows(db, "SELECT count(*) FROM operations WHERE status IN ('pending', 'running')")[
        0
    ][0]
    return busy == 0 and open_ops == 0


def wait_for_work_in_flight(db: Target) -> None:
    """Until a worker holds an operation: the moment to kill or stop it."""
    wait_until(
        lambda: rows(db, "SELECT count(*) FROM operations WHERE status = 'running'")[0][0],
        30,
        interval=0.01,
        what="an operation in flight",
    )


def big_repository(root: Path, files: int = 3000) -> Path:
    """Big enough that a clone takes a noticeable time, so a kill lands mid-provisioning."""
    return git_repository(root, {f"file{index}.txt": f"{index}\n" * 20 for index in range(files)})


def web_and_worker(
    start_service: StartService, **overrides: str
) -> tuple[ServiceProcess, ServiceProcess]:
    web = start_service("web", **FAST_RECOVERY, **overrides)
    worker = start_service("worker", config=web.config)
    return web, worker


def test_kill_9_of_the_worker_mid_provisioning_loses_nothing(
    start_service: StartService, tmp_path: Path
) -> None:
    repo = big_repository(tmp_path / "big")
    web, worker = web_and_worker(start_service)
    db = web.config.settings()
    with web.config.client() as api:
        ids = [
            api.post("/api/v1/workspaces", json={"name": f"w{i}", "repo_url": str(repo)}).json()[
                "id"
            ]
            for i in range(12)
        ]
    wait_for_work_in_flight(db)
    worker.kill()  # SIGKILL: no drain, no acknowledgement
    in_flight = rows(db, "SELECT count(*) FROM operations WHERE status = 'running'")[0][0]
    started = time.monotonic()
    start_service("worker", config=web.config)
    wait_until(lambda: all_settled(db), 90, interval=0.2, what="every workspace settled")
    recovery_seconds = time.monotonic() - started

    statuses = dict(rows(db, "SELECT id, status FROM workspaces"))
    assert statuses == {workspace_id: "running" for workspace_id in ids}
    folders = sorted(p.name for p in (web.config.data_dir / "workspaces").iterdir())
    assert folders == sorted(ids)  # one folder each, no half-cloned scratch folder left
    for workspace_id in ids:
        assert (web.config.workspace_dir(workspace_id) / "file0.txt").is_file()
    print(f"\nkill -9 worker: {in_flight} in flight, all 12 running {recovery_seconds:.1f} s later")


def test_kill_9_of_the_web_server_mid_burst_keeps_every_acknowledged_create(
    start_service: StartService,
) -> None:
    web, _worker = web_and_worker(start_service)
    db = web.config.settings()
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop(index: int) -> None:
        with httpx.Client(base_url=web.url, headers={"x-user": f"u{index}"}, timeout=5) as api:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                try:
                    response = api.post("/api/v1/workspaces", json={"name": f"w{sequence}"})
                except httpx.TransportError:
                    continue
                if response.status_code == 201:
                    with lock:
                        accepted.append(response.json()["id"])

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(accepted) >= 40, 30, what="a burst of creates")
    web.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    start_service("web", config=web.config)

    if not on_postgres(db):
        assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    wait_until(lambda: all_settled(db), 90, interval=0.2, what="every workspace settled")
    statuses = dict(rows(db, "SELECT id, status FROM workspaces"))
    missing = [workspace_id for workspace_id in accepted if workspace_id not in statuses]
    assert missing == []
    assert {statuses[workspace_id] for workspace_id in accepted} == {"running"}
    print(f"\nkill -9 web: {len(accepted)} creates acknowledged, all in the database and running")


def test_sigterm_to_the_worker_interrupts_and_the_next_worker_finishes(
    start_service: StartService, tmp_path: Path
) -> None:
    repo = big_repository(tmp_path / "big")
    web, worker = web_and_worker(start_service)
    db = web.config.settings()
    with web.config.client() as api:
        for index in range(6):
            api.post("/api/v1/workspaces", json={"name": f"t{index}", "repo_url": str(repo)})
    wait_for_work_in_flight(db)
    worker.stop(signal.SIGTERM)
    start_service("worker", config=web.config)
    wait_until(lambda: all_settled(db), 90, interval=0.2, what="every workspace settled")
    assert {status for (status,) in rows(db, "SELECT status FROM workspaces")} == {"running"}


def test_sigint_to_the_worker_drains_what_it_started(
    start_service: StartService, tmp_path: Path
) -> None:
    repo = big_repository(tmp_path / "big")
    web, worker = web_and_worker(start_service)
    db = web.config.settings()
    with web.config.client() as api:
        api.post("/api/v1/workspaces", json={"name": "drain", "repo_url": str(repo)})
    wait_for_work_in_flight(db)
    assert worker.stop(signal.SIGINT) == 0
    assert rows(db, "SELECT status FROM operations") == [("success",)]


@pytest.mark.sqlite_only  # pg_dump is a snapshot of one transaction by PostgreSQL's design
def test_backups_taken_while_the_service_writes_are_consistent(
    start_service: StartService, tmp_path: Path
) -> None:
    web, _worker = web_and_worker(start_service)
    stop = threading.Event()

    def writer() -> None:
        with web.config.client("writer") as api:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                api.post("/api/v1/workspaces", json={"name": f"b{sequence}"})

    thread = threading.Thread(target=writer)
    thread.start()
    backups = []
    try:
        for _ in range(5):
            time.sleep(0.3)
            result = subprocess.run(
                [str(Path(web.config.environment()["PATH"].split(":")[0]) / "vm-api"), "backup"],
                env=web.config.environment(),
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            backups.append(Path(result.stdout.strip()))
    finally:
        stop.set()
        thread.join(timeout=10)
    for backup in backups:
        assert rows(backup, "PRAGMA integrity_check") == [("ok",)]
        # Every workspace is inserted with its create operation in one transaction: a backup
        # of one point in time holds both or neither.
        workspaces = rows(backup, "SELECT count(*) FROM workspaces")[0][0]
        creates = rows(backup, "SELECT count(*) FROM operations WHERE operation_type = 'create'")
        assert creates[0][0] == workspaces > 0


def test_a_lost_enqueue_is_recovered_by_the_sweep(start_service: StartService) -> None:
    """Commit without enqueue, as a crash between the two would leave it."""
    prestart = start_service("prestart", ready=False, **FAST_RECOVERY)
    assert prestart.wait(30) == 0
    prestart.stop()  # already exited: this only closes its log
    config: ServiceConfig = prestart.config
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    db = config.settings()
    execute(
        db,
        "INSERT INTO workspaces (id, owner, name, provider, status, created_at, updated_at,"
        " metadata) VALUES ('00000000-0000-4000-8000-000000000001', 'alice', 'lost', 'local',"
        " 'creating', ?, ?, '{}')",
        (now, now),
    )
    execute(
        db,
        "INSERT INTO operations (id, workspace_id, owner, operation_type, status, started_at)"
        " VALUES ('00000000-0000-4000-8000-000000000002',"
        " '00000000-0000-4000-8000-000000000001', 'alice', 'create', 'pending', ?)",
        (now,),
    )
    start_service(config=config)
    started = time.monotonic()
    wait_until(lambda: all_settled(db), 30, interval=0.2, what="the lost create")
    assert rows(db, "SELECT status FROM workspaces") == [("running",)]
    print(f"\nlost enqueue recovered in {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_web_server_drains_a_request_in_flight(
    start_service: StartService, stop_signal: signal.Signals
) -> None:
    """A create whose body is still arriving when the stop signal comes is completed (201,
    committed) before the server exits; only then does it stop, cleanly."""
    web = start_service("web")
    body = json.dumps({"name": "in-flight"}).encode()
    head = (
        "POST /api/v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nx-user: alice\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", web.config.port), timeout=20) as connection:
        connection.sendall(head + body[:5])
        time.sleep(0.3)  # the request is being read when the signal arrives
        web.send(stop_signal)
        time.sleep(0.5)
        assert web.returncode is None  # still draining, not gone
        connection.sendall(body[5:])
        response = connection.recv(65536).decode(errors="replace")
    assert response.startswith("HTTP/1.1 201"), response
    assert web.wait(20) == 0
    web.stop()  # already exited: closes its log
    assert rows(web.config.settings(), "SELECT name FROM workspaces") == [("in-flight",)]
