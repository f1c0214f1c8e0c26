"""GET /api/v1/operations/{id}/logs: the progress lines a worker recorded, for the owner and
admins only; and repo_ref on create (validated, stored, checked out)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from api_support import ALICE, BOB, as_user, assert_error, create_workspace, get_json, run_queued
from quart.testing import QuartClient

from models.progress import record_progress

ROOT = as_user("root")


async def _created(client: QuartClient, **fields: Any) -> tuple[dict[str, Any], str]:
    workspace = await create_workspace(client, "coded", **fields)
    run_queued()
    operations = await get_json(client, f"/api/v1/operations?workspace_id={workspace['id']}")
    return workspace, operations[-1]["id"]


@pytest.mark.parametrize("overrides", [{"admins": frozenset({"root"})}])
async def test_a_clone_records_its_progress_for_the_owner_and_admins(
    client: QuartClient, git_repo: Path
) -> None:
    _, operation_id = await _created(client, repo_url=str(git_repo))

    body = await get_json(client, f"/api/v1/operations/{operation_id}/logs")

    lines = [item["line"] for item in body["lines"]]
    assert lines[-1] == "cloning 100 %"
    assert all(set(item) == {"at", "line"} and item["at"].endswith("Z") for item in body["lines"])
    operation = await get_json(client, f"/api/v1/operations/{operation_id}")
    assert operation["progress"] == "cloning 100 %"
    assert await get_json(client, f"/api/v1/operations/{operation_id}/logs", ROOT) == body
    response = await client.get(f"/api/v1/operations/{operation_id}/logs", headers=BOB)
    await assert_error(response, 404, "NOT_FOUND")


async def test_lines_come_back_in_order_and_an_operation_without_any_has_none(
    client: QuartClient,
) -> None:
    _, operation_id = await _created(client)
    assert await get_json(client, f"/api/v1/operations/{operation_id}/logs") == {"lines": []}

    for line in ("pulling image x", "cloning 40 %", "starting container"):
        record_progress(operation_id, line)

    body = await get_json(client, f"/api/v1/operations/{operation_id}/logs")
    assert [item["line"] for item in body["lines"]] == [
        "pulling image x",
        "cloning 40 %",
        "starting container",
    ]


async def test_an_unknown_or_malformed_operation_id(client: QuartClient) -> None:
    missing = await client.get(
        "/api/v1/operations/00000000-0000-4000-8000-000000000000/logs", headers=ALICE
    )
    await assert_error(missing, 404, "NOT_FOUND")
    malformed = await client.get("/api/v1/operations/nope/logs", headers=ALICE)
    assert malformed.status_code in (400, 404)


async def test_repo_ref_is_stored_and_checked_out(client: QuartClient, git_repo: Path) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for command in (
        ["checkout", "-q", "-b", "topic"],
        ["commit", "-q", "--allow-empty", "-m", "t"],
    ):
        subprocess.run(["git", *identity, *command], cwd=git_repo, check=True, timeout=30)
    (git_repo / "topic.txt").write_text("on topic\n")
    subprocess.run(["git", "add", "topic.txt"], cwd=git_repo, check=True, timeout=30)
    subprocess.run(["git", *identity, "commit", "-qm", "t2"], cwd=git_repo, check=True, timeout=30)
    subprocess.run(["git", "checkout", "-q", "-"], cwd=git_repo, check=True, timeout=30)

    workspace, _ = await _created(client, repo_url=str(git_repo), repo_ref="topic")

    current = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert workspace["repo_ref"] == current["repo_ref"] == "topic"
    assert current["status"] == "running", current["error_message"]
    assert (Path(current["connection_info"]["path"]) / "topic.txt").read_text() == "on topic\n"


async def test_an_unknown_repo_ref_fails_the_create_with_gits_line(
    client: QuartClient, git_repo: Path
) -> None:
    workspace, operation_id = await _created(client, repo_url=str(git_repo), repo_ref="absent")

    current = await get_json(client, f"/api/v1/workspaces/{workspace['id']}")
    assert current["status"] == "failed"
    assert current["error_message"].startswith("git checkout absent failed: error: pathspec")
    operation = await get_json(client, f"/api/v1/operations/{operation_id}")
    assert operation["error"] == current["error_message"]


@pytest.mark.parametrize(
    "ref",
    [
        "-b",
        "",
        "a b",
        "a..b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "a@{1}",
        "@",
        "a//b",
        "/a",
        "a/",
        "a.",
        ".a",
        "a/.b",
        "a.lock",
        "a\x01",
        "x" * 256,
    ],
)
async def test_a_bad_repo_ref_is_refused(client: QuartClient, ref: str) -> None:
    response = await client.post(
        "/api/v1/workspaces",
        json={"name": "bad", "repo_url": "https://example.invalid/r.git", "repo_ref": ref},
        headers=ALICE,
    )

    body = await assert_error(response, 400)
    assert "repo_ref" in body["error"]


@pytest.mark.parametrize(
    "ref", ["main", "release/1.2", "v1.0.0", "feature-x_y", "0123abc", "a" * 40]
)
async def test_a_good_repo_ref_is_accepted(client: QuartClient, ref: str) -> None:
    workspace = await create_workspace(
        client, "good", repo_url="https://example.invalid/r.git", repo_ref=ref
    )
    assert workspace["repo_ref"] == ref


async def test_repo_ref_needs_a_repo_url(client: QuartClient) -> None:
    response = await client.post(
        "/api/v1/workspaces", json={"name": "n", "repo_ref": "main"}, headers=ALICE
    )

    body = await assert_error(response, 400, "INVALID_REPO_REF")
    assert body["error"] == "repo_ref needs a repo_url"
