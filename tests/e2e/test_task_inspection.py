"""`vm-api tasks` and the admin task endpoints against a real consumer and its task history."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    ServiceConfig,
    StartService,
    git_repository,
    vm_api_command,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.slow
BOSS = {"x-user": "boss"}


def tasks_cli(config: ServiceConfig, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator on the server runs it (the service's environment)."""
    env = config.environment()
    env["USER"] = "operator1"
    return subprocess.run(
        [vm_api_command(), "tasks", *args],
        env=env,
        cwd=config.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def tasks_json(config: ServiceConfig, *args: str) -> Any:
    result = tasks_cli(config, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert too_wide == []


def create(client: Any, name: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/workspaces", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def operation_of(client: Any, workspace_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/operations?workspace_id={workspace_id}")
    assert response.status_code == 200, response.text
    return response.json()[0]  # type: ignore[no-any-return]


def test_success_failure_and_retry_show_up_in_recent_and_retry_reruns_a_failure(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(
        VM_API_ADMINS="boss",
        VM_API_MAX_ATTEMPTS="2",
        DOCKER_HOST=f"unix://{tmp_path}/no-daemon.sock",  # docker workspaces fail transiently
    )
    config = service.config
    later_repo = tmp_path / "later-repo"
    with config.client() as client:
        good = create(client, "good")
        bad = create(client, "bad", repo_url=str(later_repo))
        flaky = create(client, "flaky", provider="docker")
        wait_for_status(client, good["id"], ("running",), 15)
        wait_for_status(client, bad["id"], ("failed",), 15)
        # the first attempt fails transiently and is retried after 5 s; the second gives up
        wait_for_status(client, flaky["id"], ("failed",), 30)
        ops = {ws["id"]: operation_of(client, ws["id"]) for ws in (good, bad, flaky)}

    def recorded() -> list[dict[str, Any]] | None:
        rows = tasks_json(config, "recent", "--task", "provision_workspace")
        return rows if len(rows) >= 4 else None  # good, bad, flaky's retry and its last run

    rows = wait_until(recorded, 10, interval=0.5, what="four runs in the history")
    by_op: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_op.setdefault(row["operation_id"], []).append(row)
    good_runs, bad_runs, flaky_runs = (by_op[ops[ws["id"]]["id"]] for ws in (good, bad, flaky))
    assert [r["outcome"] for r in good_runs] == ["complete"]
    assert [r["outcome"] for r in bad_runs] == ["failed"]
    assert "git clone failed" in bad_runs[0]["error"]
    assert [r["outcome"] for r in flaky_runs] == ["failed", "retrying"]
    assert flaky_runs[0]["retries"] == 1
    assert all(r["duration"] is not None and r["duration"] >= 0 for r in rows)
    assert all(r["task_id"] in ops[r["workspace_id"]]["task_ids"] for r in rows[:4])
    table = tasks_cli(config, "recent")
    assert table.returncode == 0 and "TASK_ID" in table.stdout
    assert_fits(table.stdout)
    overview = tasks_cli(config)
    assert overview.returncode == 0 and "last hour" in overview.stdout
    assert_fits(overview.stdout)
    assert tasks_json(config)["last_hour"]["completed"] >= 1

    shown = tasks_json(config, "show", ops[bad["id"]]["id"])
    assert shown["workspace_id"] == bad["id"]
    assert [e["signal"] for e in shown["events"]] == ["executing", "complete"]
    assert "git clone failed" in shown["error"]
    assert_fits(tasks_cli(config, "show", rows[0]["task_id"]).stdout)

    # retry: refused for a success, accepted for the failure once its cause is gone
    refused = tasks_cli(config, "retry", ops[good["id"]]["id"])
    assert refused.returncode == 1 and "failed or cancelled" in refused.stderr
    git_repository(later_repo, {"README.md": "now it exists\n"})
    retried = tasks_json(config, "retry", ops[bad["id"]]["id"])
    assert retried["operation"]["reason"] == f"retry of {ops[bad['id']]['id']}"
    assert retried["operation"]["requested_by"] == "operator1"
    assert len(retried["operation"]["task_ids"]) == 1
    with config.client() as client:
        wait_for_status(client, bad["id"], ("running",), 15)
        assert (config.workspace_dir(bad["id"]) / "README.md").exists()
        again = tasks_cli(config, "retry", ops[bad["id"]]["id"])
        assert again.returncode == 1 and "already retried" in again.stderr

        # the same over HTTP, for admins only
        assert client.get("/api/v1/admin/tasks").status_code == 403
        listed = client.get("/api/v1/admin/tasks?state=recent&limit=2", headers=BOSS)
        assert listed.status_code == 200 and len(listed.json()) == 2
        one = client.get(f"/api/v1/admin/tasks/{ops[good['id']]['id']}", headers=BOSS).json()
        assert one["operation"]["status"] == "success"
        refused_http = client.post(
            f"/api/v1/admin/operations/{ops[good['id']]['id']}/retry", headers=BOSS
        )
        assert refused_http.status_code == 409 and refused_http.json()["code"] == "NOT_FAILED"
        done = client.post(f"/api/v1/admin/tasks/{good_runs[0]['task_id']}/revoke", headers=BOSS)
        assert done.status_code == 409 and done.json()["code"] == "NOT_PENDING"
        assert client.get("/api/v1/admin/queue", headers=BOSS).json()["history"] is True


def test_a_revoked_pending_task_never_runs_and_its_operation_is_cancelled(
    start_service: StartService,
) -> None:
    # The web process alone: what it enqueues stays pending until a consumer starts.
    web = start_service("web", VM_API_REQUEUE_AFTER="1", VM_API_PROVISIONER_INTERVAL="1")
    config = web.config
    with config.client() as client:
        held = create(client, "held")
        kept = create(client, "kept")
        held_op, kept_op = operation_of(client, held["id"]), operation_of(client, kept["id"])
    pending = tasks_json(config, "pending")
    assert {r["operation_id"] for r in pending} == {held_op["id"], kept_op["id"]}
    assert_fits(tasks_cli(config, "pending").stdout)
    assert tasks_json(config)["pending"] == 2
    (task_id,) = held_op["task_ids"]

    revoked = tasks_json(config, "revoke", task_id, "--by", "carol")
    assert revoked["revoked"] == [task_id]
    assert revoked["operation"]["status"] == "cancelled"
    assert revoked["operation"]["error"] == "revoked by carol"
    with config.client() as client:
        workspace = client.get(f"/api/v1/workspaces/{held['id']}").json()
    assert workspace["status"] == "failed"
    assert workspace["error_message"] == "create cancelled by carol"

    start_service("worker", config=config)
    with config.client() as client:
        wait_for_status(client, kept["id"], ("running",), 15)

    def revoked_run() -> list[dict[str, Any]]:
        return [r for r in tasks_json(config, "recent") if r["task_id"] == task_id]

    (row,) = wait_until(revoked_run, 10, interval=0.3, what="the revoked event")
    assert row["outcome"] == "revoked"
    # several sweeps later (one a second, re-enqueueing what is pending for 1 s): not run
    time.sleep(3)
    with config.client() as client:
        after = operation_of(client, held["id"])
    assert after["status"] == "cancelled" and after["attempts"] == 0
    assert after["task_ids"] == [task_id]
    assert not config.workspace_dir(held["id"]).exists()
    # a cancelled operation can be retried like a failed one
    retried = tasks_json(config, "retry", held_op["id"])
    with config.client() as client:
        wait_for_status(client, held["id"], ("running",), 15)
    assert retried["operation"]["operation_type"] == "create"
