"""Benchmark 5: create -> running with the Docker provider, against a plain `docker run`.

The real all-in-one `vm-api` runs with VM_API_DEFAULT_PROVIDER=docker and a template file
naming vm-api/test-base:latest with the command ["sleep", "2147483647"] (built by
.ci/build-test-image.sh, which is run when the image is missing). The template sets no CPU or
memory limits, so the service's container differs from the baseline only by what the
provider always adds (labels, hostname, --init). In alternation, N times each:
  service   POST /api/v1/workspaces, then GET every ~5 ms until `running` (from sending)
  baseline  docker run -d --network none vm-api/test-base:latest sleep 2147483647
Every container is removed afterwards (the service's through DELETE, then by name whatever
is left). Skips with a message when no Docker daemon answers. Target: median ratio <= 1.3x.

The janitor is pushed a day away: its drift repair removes every container labelled as a
vm-api workspace that its own database does not know, which on a shared daemon would
include other runs' containers.

    /work/venv/bin/python bench/docker_overhead.py [--count 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    REPO,
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    ms,
    parse_sql_time,
    print_table,
    ratio,
    read_only,
    service_env,
    verdict,
    vm_api_command,
    workdir,
    write_templates,
)

IMAGE = "vm-api/test-base:latest"
COMMAND = ["sleep", "2147483647"]
TARGET_RATIO = 1.3
POLL_SECONDS = 0.005
RUNNING_TIMEOUT = 60.0


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def daemon_answers() -> bool:
    try:
        return docker("version", "--format", "{{.Server.Version}}", timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def ensure_image() -> None:
    if docker("image", "inspect", IMAGE).returncode == 0:
        return
    print(f"building {IMAGE} with .ci/build-test-image.sh", flush=True)
    subprocess.run(["bash", str(REPO / ".ci" / "build-test-image.sh")], check=True, timeout=600)


def service_create(client: httpx.Client, n: int) -> tuple[str, float, float]:
    """Returns the workspace id, the seconds to 201 and the seconds to `running`."""
    user = {"x-user": "docker-bench"}
    start = time.perf_counter()
    response = client.post("/api/v1/workspaces", json={"name": f"dk-{n:03d}"}, headers=user)
    answered = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"create {n}: {response.status_code} {response.text}")
    workspace_id = response.json()["id"]
    deadline = time.monotonic() + RUNNING_TIMEOUT
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/workspaces/{workspace_id}", headers=user).json()
        if body["status"] == "running":
            return workspace_id, answered - start, time.perf_counter() - start
        if body["status"] != "creating":
            raise RuntimeError(
                f"workspace {workspace_id}: {body['status']} {body['error_message']}"
            )
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"workspace {workspace_id} not running after {RUNNING_TIMEOUT} s")


def plain_run(name: str, *extra: str) -> float:
    start = time.perf_counter()
    result = docker("run", "-d", *extra, "--network", "none", "--name", name, IMAGE, *COMMAND)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"docker run failed: {result.stderr}")
    return seconds


def server_seconds(db_path: Path, ids: list[str]) -> list[float]:
    """started_at -> completed_at of each create operation, as the service recorded them."""
    with read_only(db_path) as connection:
        rows = connection.execute(
            "SELECT workspace_id, started_at, completed_at FROM operations"
            " WHERE operation_type = 'create' AND completed_at IS NOT NULL"
        ).fetchall()
    wanted = set(ids)
    return [
        parse_sql_time(done) - parse_sql_time(began) for wid, began, done in rows if wid in wanted
    ]


def remove_workspaces(client: httpx.Client, ids: list[str]) -> None:
    user = {"x-user": "docker-bench"}
    for workspace_id in ids:
        client.delete(f"/api/v1/workspaces/{workspace_id}", headers=user)
    deadline = time.monotonic() + 120
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for workspace_id in list(pending):
            if client.get(f"/api/v1/workspaces/{workspace_id}", headers=user).status_code == 404:
                pending.discard(workspace_id)
        time.sleep(0.2)


def force_remove(names: list[str]) -> None:
    for start in range(0, len(names), 50):
        docker("rm", "-f", *names[start : start + 50], timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="creates of each kind")
    args = parser.parse_args()
    exit_on_sigterm()
    if not daemon_answers():
        print("SKIPPED docker_overhead: no Docker daemon answers (`docker version` failed)")
        return 0
    ensure_image()
    ids: list[str] = []
    plain_names: list[str] = []
    service_times: list[tuple[float, float]] = []
    plain_times: list[float] = []
    init_times: list[float] = []

    def plain(*extra: str) -> float:
        plain_names.append(f"vm-bench-{uuid.uuid4().hex[:12]}")
        return plain_run(plain_names[-1], *extra)

    with workdir("docker") as root:
        port = free_port()
        env = service_env(
            root, port, VM_API_DEFAULT_PROVIDER="docker", VM_API_JANITOR_INTERVAL="86400"
        )
        env["VM_API_TEMPLATES_FILE"] = str(write_templates(root, cpus=False))
        service = Service(vm_api_command(), env, root / "vm-api.log", port=port)
        try:
            service.start()
            time.sleep(2)
            banner(f"docker: create -> running, {args.count} of each, alternating")
            with httpx.Client(base_url=service.base_url, timeout=120) as client:
                # One of each first, not counted: the image and the daemon's caches warm up.
                ids.append(service_create(client, 999)[0])
                plain()
                plain("--init")
                for n in range(args.count):
                    workspace_id, to_201, to_running = service_create(client, n)
                    ids.append(workspace_id)
                    service_times.append((to_201, to_running))
                    plain_times.append(plain())
                    init_times.append(plain("--init"))
                server = server_seconds(root / "vm.db", ids[1:])
                remove_workspaces(client, ids)
        finally:
            service.stop()
            force_remove(plain_names + [f"vm-ws-{workspace_id}" for workspace_id in ids])
            if ids:  # a workspace's volume, should its DELETE not have finished
                docker("volume", "rm", "-f", *[f"vm-ws-{workspace_id}" for workspace_id in ids])
    rows = []
    for label, values in (
        ("vm-api: POST -> running (client)", [t for _, t in service_times]),
        ("vm-api: started_at -> completed_at", server),
        ("vm-api: POST -> 201", [t for t, _ in service_times]),
        ("baseline: docker run -d", plain_times),
        ("reference: docker run -d --init", init_times),
    ):
        rows.append([label, ms(statistics.median(values)), ms(min(values)), ms(max(values))])
    print_table(["measure", "median", "min", "max"], rows)
    median_running = statistics.median(t for _, t in service_times)
    median_plain = statistics.median(plain_times)
    print(f"ratio median vm-api / median docker run: {ratio(median_running, median_plain)}")
    print(
        "ratio median vm-api / median docker run --init:"
        f" {ratio(median_running, statistics.median(init_times))}"
    )
    print(f"target <= {TARGET_RATIO}x: {verdict(median_running / median_plain <= TARGET_RATIO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
