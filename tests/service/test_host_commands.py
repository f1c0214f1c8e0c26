"""`vm-api hosts` (the real command in a subprocess) and its table."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from db_support import execute

from models.records import sql_time, utcnow
from models.settings import Settings
from service.host_commands import host_table

RunVmApi = Callable[..., subprocess.CompletedProcess[str]]


def _data(tmp_path: Path, database_url: str | None) -> Settings:
    env = {"VM_API_DB_PATH": str(tmp_path / "vm.db")}
    if database_url:
        env["VM_API_DATABASE_URL"] = database_url
    return Settings.from_env(env)


def _add_host(data: Settings, name: str, seconds_ago: int, error: str | None = None) -> None:
    seen = sql_time(utcnow() - timedelta(seconds=seconds_ago))
    execute(
        data,
        "INSERT INTO docker_hosts (name, docker_url, first_seen, last_seen, daemon_error)"
        " VALUES (?, ?, ?, ?, ?)",
        (name, f"tcp://{name}:2376", seen, seen, error),
    )


def test_hosts_lists_live_and_down_hosts_and_forgets_one(
    run_vm_api: RunVmApi, tmp_path: Path, cli_database_url: str | None
) -> None:
    assert run_vm_api("prestart").returncode == 0
    assert run_vm_api("hosts").stdout.strip().startswith("no Docker hosts")
    data = _data(tmp_path, cli_database_url)
    _add_host(data, "alpha", 1)
    _add_host(data, "beta", 600)

    listed = run_vm_api("hosts", "--json")
    assert listed.returncode == 0, listed.stderr
    hosts = json.loads(listed.stdout)
    assert [(h["name"], h["live"]) for h in hosts] == [("alpha", True), ("beta", False)]
    table = run_vm_api("hosts").stdout
    assert "alpha" in table and "tcp://alpha:2376" in table
    assert "beta" in table and "has not reported since" in table

    assert run_vm_api("hosts", "forget", "beta").returncode == 0
    missing = run_vm_api("hosts", "forget", "beta")
    assert missing.returncode == 1 and "no Docker host named 'beta'" in missing.stderr
    assert [h["name"] for h in json.loads(run_vm_api("hosts", "--json").stdout)] == ["alpha"]


def test_the_table_says_why_a_host_is_down() -> None:
    row = {"name": "b", "live": False, "active_workspaces": 2, "docker_url": "tcp://b:2376"}
    text = host_table([{**row, "unreachable": "host b is unreachable: its consumer stopped"}])
    assert text.splitlines()[1].split() == ["b", "down", "2", "host", "b", "is", "unreachable:",
                                             "its", "consumer", "stopped"]  # fmt: skip
