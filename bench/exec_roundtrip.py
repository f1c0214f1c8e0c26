"""Benchmark: exec round trip of `true` through the API, against `docker exec` of the same
container.

The real all-in-one `vm-api` (Hypercorn + consumer) runs with the Docker provider; one
workspace is created from vm-api/test-base:latest. Then, alternating N times each:
  service   POST /api/v1/workspaces/{id}/exec {"command": ["true"]} (one kept-alive client;
            identity, the workspace read, the exec recorded as an operation, create + start +
            inspect of the Docker exec)
  baseline  docker exec vm-ws-<id> true (the CLI, as a person on the server would run it)
Target: median ratio <= 1.5x. Every container is removed afterwards.

    /work/venv/bin/python bench/exec_roundtrip.py [--count 200]
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

from docker_overhead import daemon_answers, docker, ensure_image, force_remove
from harness import (
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    ms,
    percentile,
    print_table,
    ratio,
    service_env,
    verdict,
    vm_api_command,
    workdir,
    write_templates,
)

TARGET_RATIO = 1.5
USER = {"x-user": "exec-bench"}


def create_running(client: httpx.Client) -> str:
    response = client.post("/api/v1/workspaces", json={"name": "exec-bench"}, headers=USER)
    if response.status_code != 201:
        raise RuntimeError(f"create: {response.status_code} {response.text}")
    workspace_id = str(response.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/workspaces/{workspace_id}", headers=USER).json()
        if body["status"] == "running":
            return workspace_id
        if body["status"] != "creating":
            raise RuntimeError(f"workspace {workspace_id}: {body['status']}")
        time.sleep(0.02)
    raise RuntimeError("workspace not running after 60 s")


def api_exec(client: httpx.Client, path: str) -> float:
    start = time.perf_counter()
    response = client.post(path, json={"command": ["true"]}, headers=USER)
    seconds = time.perf_counter() - start
    if response.status_code != 200 or response.json()["exit_code"] != 0:
        raise RuntimeError(f"exec: {response.status_code} {response.text}")
    return seconds


def cli_exec(container: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(["docker", "exec", container, "true"], capture_output=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"docker exec: {result.stderr!r}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="round trips of each kind")
    args = parser.parse_args()
    exit_on_sigterm()
    if not daemon_answers():
        print("SKIPPED exec_roundtrip: no Docker daemon answers (`docker version` failed)")
        return 0
    ensure_image()
    service_times: list[float] = []
    cli_times: list[float] = []
    container = ""
    with workdir("exec") as root:
        port = free_port()
        env = service_env(
            root,
            port,
            VM_API_DEFAULT_PROVIDER="docker",
            VM_API_DOCKER_NETWORK="none",
            VM_API_JANITOR_INTERVAL="86400",  # drift repair must not see other runs' containers
            VM_API_INSTANCE=f"vm-bench-exec-{uuid.uuid4().hex[:12]}",
        )
        env["VM_API_TEMPLATES_FILE"] = str(write_templates(root, cpus=False))
        service = Service(vm_api_command(), env, root / "vm-api.log", port=port)
        try:
            service.start()
            with httpx.Client(base_url=service.base_url, timeout=60) as client:
                workspace_id = create_running(client)
                container = f"vm-ws-{workspace_id}"
                docker("exec", container, "mkdir", "-p", "/workspace")  # no volume yet
                path = f"/api/v1/workspaces/{workspace_id}/exec"
                banner(f"exec round trip of `true`, {args.count} of each, alternating")
                for _ in range(10):  # warm up both sides, not counted
                    api_exec(client, path)
                    cli_exec(container)
                for _ in range(args.count):
                    service_times.append(api_exec(client, path))
                    cli_times.append(cli_exec(container))
        finally:
            service.stop()
            if container:
                force_remove([container])
    rows = [
        [label, ms(statistics.median(v)), ms(percentile(v, 90)), ms(min(v)), ms(max(v))]
        for label, v in (
            ("vm-api: POST .../exec", service_times),
            ("baseline: docker exec", cli_times),
        )
    ]
    print_table(["measure", "median", "p90", "min", "max"], rows)
    median_service, median_cli = statistics.median(service_times), statistics.median(cli_times)
    print(f"ratio median vm-api / median docker exec: {ratio(median_service, median_cli)}")
    print(f"target <= {TARGET_RATIO}x: {verdict(median_service / median_cli <= TARGET_RATIO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
