"""`vm-api ws` as a person runs it: a real process against a real `vm-api` (local provider)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from harness import RunningService, vm_api_command, wait_until

from client.http import Api, Connection
from client.workspaces import wait_for_operation

pytestmark = pytest.mark.slow


def ws(
    service: RunningService, *args: str, user: str = "alice"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VM_API_")}
    env.update(VM_API_URL=service.process.url, VM_API_USER=user)
    return subprocess.run(
        [vm_api_command(), "ws", *args], env=env, capture_output=True, text=True, timeout=60
    )


def ws_json(service: RunningService, *args: str) -> Any:
    done = ws(service, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_workspace_from_create_to_delete(service: RunningService) -> None:
    created = ws(service, "create", "dev", "--ttl", "3600")
    assert created.returncode == 0, created.stderr
    assert "create dev: done" in created.stdout

    listed = ws(service, "list")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "TEMPLATE", "EXPIRES", "ID"]
    assert row.split()[:2] == ["dev", "running"]
    assert "in 59m" in row or "in 1h" in row

    shown = ws_json(service, "get", "dev")
    assert shown["status"] == "running"
    assert ws_json(service, "get", shown["id"])["name"] == "dev"  # by id as well as by name
    assert "Expires" in ws(service, "get", "dev").stdout

    for action, status in (("stop", "stopped"), ("start", "running"), ("restart", "running")):
        done = ws(service, action, "dev")
        assert done.returncode == 0, (action, done.stderr)
        assert ws_json(service, "get", "dev")["status"] == status

    snap = ws_json(service, "snapshot", "dev", "first")
    assert snap["status"] == "success" and snap["operation_type"] == "snapshot"
    restored = ws(service, "restore", "dev", "first")
    assert restored.returncode == 0, restored.stderr

    deleted = ws(service, "delete", "dev")
    assert deleted.returncode == 0, deleted.stderr
    assert ws(service, "get", "dev").returncode == 3
    assert ws_json(service, "list") == []


def test_no_wait_returns_the_accepted_operation(service: RunningService) -> None:
    accepted = ws_json(service, "create", "quick", "--no-wait")

    assert accepted["name"] == "quick"
    assert accepted["operation_id"]


def test_exit_codes_say_what_went_wrong(service: RunningService) -> None:
    assert ws(service, "create", "ok").returncode == 0

    missing = ws(service, "stop", "nope")
    assert missing.returncode == 3
    assert "nope" in missing.stderr

    conflict = ws(service, "start", "ok")  # running already: the API refuses with 409
    assert conflict.returncode == 4, conflict.stderr

    bad = ws(service, "create", "Bad Name!")
    assert bad.returncode == 4
    assert "name" in bad.stderr

    failed = ws(service, "create", "broken", "--repo", "file:///no/such/repo")
    assert failed.returncode == 1
    assert "failed" in failed.stderr

    assert ws(service, "frobnicate").returncode == 2
    assert ws(service, "cp", "a", "b").returncode == 2


def test_another_user_cannot_name_my_workspace(service: RunningService) -> None:
    assert ws(service, "create", "private").returncode == 0

    assert ws(service, "get", "private", user="bob").returncode == 3
    assert ws(service, "delete", "private", user="bob").returncode == 3
    assert ws_json(service, "get", "private")["status"] == "running"


def test_delete_keep_then_undelete_under_a_new_name_and_purge(service: RunningService) -> None:
    assert ws(service, "create", "notes").returncode == 0
    kept = ws(service, "delete", "notes", "--keep")
    assert kept.returncode == 0, kept.stderr
    assert ws(service, "create", "notes").returncode == 0  # the name is free meanwhile

    listed = ws(service, "trash")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split()[:2] == ["NAME", "ID"] and row.split()[0] == "notes"
    taken = ws(service, "undelete", "notes")
    assert taken.returncode == 4 and "NAME_TAKEN" in taken.stderr
    back = ws(service, "undelete", "notes", "--as", "notes-old")
    assert back.returncode == 0, back.stderr
    assert ws_json(service, "get", "notes-old")["status"] == "running"
    assert ws(service, "trash").stdout.strip() == "the trash is empty"

    kept_again = ws(service, "delete", "notes-old", "--keep")
    assert kept_again.returncode == 0, kept_again.stderr
    purged = ws(service, "purge", "notes-old")
    assert purged.returncode == 0 and "out of the trash" in purged.stdout
    assert ws_json(service, "trash") == []
    assert ws(service, "purge", "notes-old").returncode == 3


def test_the_wait_on_a_delete_that_ended_before_its_stream_opened(service: RunningService) -> None:
    # The workspace's event stream answers 404 once it is deleted: the wait reads the
    # operation instead of failing as if the workspace had never been there.
    client = service.client
    created = client.post("/api/v1/workspaces", json={"name": "brief"}).json()
    wait_until(
        lambda: client.get(f"/api/v1/workspaces/{created['id']}").json()["status"] == "running",
        30,
        what="the workspace to run",
    )
    accepted = client.delete(f"/api/v1/workspaces/{created['id']}").json()
    wait_until(
        lambda: client.get(f"/api/v1/workspaces/{created['id']}").status_code == 404,
        30,
        what="the delete to end",
    )
    api = Api(Connection(service.process.url, {"x-user": "alice"}))
    try:
        operation = wait_for_operation(api, created["id"], accepted["operation_id"], print)
    finally:
        api.close()
    assert operation["id"] == accepted["operation_id"] and operation["status"] == "success"
