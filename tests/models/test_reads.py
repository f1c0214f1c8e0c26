"""The read path: SQLite builds the workspace JSON; it must be exactly the record's JSON."""

from __future__ import annotations

import json

import pytest

from models.reads import select_workspace, select_workspace_json, select_workspaces_json
from models.work import Outcome, claim_operation, complete_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace

pytestmark = pytest.mark.usefixtures("migrated")


def test_database_json_equals_the_record_json_with_every_field_set_or_null() -> None:
    full, op = insert_workspace(
        NewWorkspace(
            "alice",
            "full",
            "local",
            repo_url="https://example.invalid/repo.git",
            template="base",
            ttl_seconds=3600,
            metadata={"team": "core", "nested": {"list": [1, 2.5, None, True]}, "ü": "ß"},
            cpus=1.5,
            memory_mb=512,
        ),
        Limits(),
    )
    claim_operation(op.id, 3)
    complete_operation(op.id, Outcome(provider_id="p-1", connection_info={"path": "/x"}))
    bare, _ = insert_workspace(NewWorkspace("alice", "bare", "local"), Limits())

    for workspace_id in (full.id, bare.id):
        expected = select_workspace(workspace_id, "alice").to_json()
        assert json.loads(select_workspace_json(workspace_id, "alice")) == expected


def test_json_pages_visit_every_workspace_once_newest_first() -> None:
    ids = [
        insert_workspace(NewWorkspace("bob", f"w{index}", "local"), Limits())[0].id
        for index in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        body, cursor = select_workspaces_json("bob", None, 3, cursor)
        seen.extend(item["id"] for item in json.loads(body))
        if cursor is None:
            break
    assert seen == list(reversed(ids))
