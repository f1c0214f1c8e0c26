"""Benchmark: create with a clone of a 3,000-file repository -> running, through the real
all-in-one `vm-api` (web + consumer, Docker provider), against doing the same by hand.

A repository of --files files (100 folders, ~1 KiB each, one commit) is made in a temporary
folder. In alternation, N times each:
  service   POST /api/v1/workspaces {"repo_url": "file://..."}, then GET every ~5 ms until
            `running` (from sending): the worker clones into the workspace's volume
            (straight into its folder, or through put_archive) and starts the container
  baseline  git clone file://... DIR  +  docker run -d --network none -v DIR:/workspace
            vm-api/test-base:latest sleep 2147483647
Everything is removed afterwards (the service's workspaces through DELETE, which removes their
volumes; then by label whatever is left). Skips when no Docker daemon answers.
Target: median ratio <= 1.3x.

    /work/venv/bin/python bench/clone_create.py [--count 10] [--files 3000] [--through-daemon]

--through-daemon measures the path for a remote or rootless daemon (the files go in with
put_archive) instead of git cloning straight into the volume's folder.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

# Scripts, not a package: the shared helpers sit beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docker_overhead import COMMAND, IMAGE, daemon_answers, docker, ensure_image
from harness import (
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

TARGET_RATIO = 1.3
POLL_SECONDS = 0.005
RUNNING_TIMEOUT = 120.0
USER = {"x-user": "clone-bench"}
GIT_IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def make_repository(path: Path, files: int) -> None:
    path.mkdir(parents=True)
    for n in range(files):
        folder = path / f"pkg{n % 100:02d}"
        folder.mkdir(exist_ok=True)
        line = f"# file {n}: some source text to make the file about a kibibyte long\n"
        (folder / f"module_{n:05d}.py").write_text(line * 14)
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "bench"]):
        subprocess.run(["git", *GIT_IDENTITY, *command], cwd=path, check=True, timeout=120)


def service_create(client: httpx.Client, n: int, url: str) -> tuple[str, float]:
    """The workspace id and the seconds from sending the POST to reading `running`."""
    start = time.perf_counter()
    response = client.post(
        "/api/v1/workspaces", json={"name": f"clone-{n:03d}", "repo_url": url}, headers=USER
    )
    if response.status_code != 201:
        raise RuntimeError(f"create {n}: {response.status_code} {response.text}")
    workspace_id = response.json()["id"]
    deadline = time.monotonic() + RUNNING_TIMEOUT
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/workspaces/{workspace_id}", headers=USER).json()
        if body["status"] == "running":
            return workspace_id, time.perf_counter() - start
        if body["status"] != "creating":
            raise RuntimeError(
                f"workspace {workspace_id}: {body['status']} {body['error_message']}"
            )
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"workspace {workspace_id} not running after {RUNNING_TIMEOUT} s")


def by_hand(url: str, scratch: Path, name: str) -> float:
    """git clone, then docker run -d with the clone mounted at /workspace."""
    into = scratch / name
    start = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", url, str(into)], check=True, timeout=120)
    result = docker(
        "run", "-d", "--network", "none", "--name", name, "-v", f"{into}:/workspace",
        "-w", "/workspace", IMAGE, *COMMAND,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"docker run failed: {result.stderr}")
    return seconds


def server_seconds(db_path: Path, ids: list[str]) -> list[float]:
    with read_only(db_path) as connection:
        rows = connection.execute(
            "SELECT workspace_id, started_at, completed_at FROM operations"
            " WHERE operation_type = 'create' AND completed_at IS NOT NULL"
        ).fetchall()
    wanted = set(ids)
    return [parse_sql_time(end) - parse_sql_time(begin) for w, begin, end in rows if w in wanted]


def remove_everything(client: httpx.Client, ids: list[str], instance: str) -> None:
    for workspace_id in ids:
        client.delete(f"/api/v1/workspaces/{workspace_id}", headers=USER)
    deadline = time.monotonic() + 120
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for workspace_id in list(pending):
            if client.get(f"/api/v1/workspaces/{workspace_id}", headers=USER).status_code == 404:
                pending.discard(workspace_id)
        time.sleep(0.2)


def remove_labelled(instance: str) -> None:
    """Whatever the service left (only if a DELETE did not finish): by its own label."""
    label = f"label=vm-api.service={instance}"
    containers = docker("ps", "-aq", "--filter", label).stdout.split()
    if containers:
        docker("rm", "-f", *containers, timeout=120)
    volumes = docker("volume", "ls", "-q", "--filter", label).stdout.split()
    if volumes:
        docker("volume", "rm", "-f", *volumes, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="creates of each kind")
    parser.add_argument("--files", type=int, default=3000, help="files in the repository")
    parser.add_argument(
        "--through-daemon",
        action="store_true",
        help="the files through the archive API (VM_API_DOCKER_CLONE_IN_PLACE=false)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    if not daemon_answers():
        print("SKIPPED clone_create: no Docker daemon answers (`docker version` failed)")
        return 0
    ensure_image()
    ids: list[str] = []
    names: list[str] = []
    service_times: list[float] = []
    hand_times: list[float] = []
    instance = f"vm-bench-{uuid.uuid4().hex[:12]}"
    with workdir("clone") as root:
        repo = root / "repo"
        make_repository(repo, args.files)
        url = f"file://{repo}"
        scratch = Path(tempfile.mkdtemp(prefix="vm-bench-clones-"))
        port = free_port()
        env = service_env(
            root,
            port,
            VM_API_DEFAULT_PROVIDER="docker",
            VM_API_ALLOW_FILE_REPOS="1",
            VM_API_DOCKER_NETWORK="none",  # the test daemon has no bridge
            VM_API_INSTANCE=instance,
            VM_API_JANITOR_INTERVAL="86400",
            VM_API_DOCKER_CLONE_IN_PLACE="false" if args.through_daemon else "true",
        )
        env["VM_API_TEMPLATES_FILE"] = str(write_templates(root, cpus=False))
        service = Service(vm_api_command(), env, root / "vm-api.log", port=port)

        def hand() -> float:
            names.append(f"vm-bench-{uuid.uuid4().hex[:12]}")
            return by_hand(url, scratch, names[-1])

        try:
            service.start()
            time.sleep(2)
            banner(f"clone of {args.files} files -> running, {args.count} of each, alternating")
            with httpx.Client(base_url=service.base_url, timeout=120) as client:
                ids.append(service_create(client, 999, url)[0])  # warm-up, not counted
                hand()
                for n in range(args.count):
                    workspace_id, seconds = service_create(client, n, url)
                    ids.append(workspace_id)
                    service_times.append(seconds)
                    hand_times.append(hand())
                server = server_seconds(root / "vm.db", ids[1:])
                remove_everything(client, ids, instance)
        finally:
            service.stop()
            if names:
                docker("rm", "-f", *names, timeout=120)
            remove_labelled(instance)
            shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for label, values in (
        ("vm-api: POST -> running (client)", service_times),
        ("vm-api: started_at -> completed_at", server),
        ("baseline: git clone + docker run -d", hand_times),
    ):
        rows.append([label, ms(statistics.median(values)), ms(min(values)), ms(max(values))])
    print_table(["measure", "median", "min", "max"], rows)
    median_service = statistics.median(service_times)
    median_hand = statistics.median(hand_times)
    print(f"ratio median vm-api / median by hand: {ratio(median_service, median_hand)}")
    print(f"target <= {TARGET_RATIO}x: {verdict(median_service / median_hand <= TARGET_RATIO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
