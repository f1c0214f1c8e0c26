"""Exec in a `local` workspace runs on the server itself: refused unless the operator allows it."""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

import pytest
from api_support import ALICE, assert_error, create_workspace, operations_of, run_queued
from quart.testing import QuartClient

from models.settings import Settings


async def _local_workspace(client: QuartClient) -> dict[str, Any]:
    workspace = await create_workspace(client, "folder")
    run_queued()
    return workspace


async def test_exec_in_a_local_workspace_is_refused_by_default(client: QuartClient) -> None:
    workspace = await _local_workspace(client)

    response = await client.post(
        f"/api/v1/workspaces/{workspace['id']}/exec", json={"command": "id"}, headers=ALICE
    )

    body = await assert_error(response, 403, "EXEC_DISABLED")
    assert "VM_API_ALLOW_LOCAL_EXEC" in body["error"]
    ops = await operations_of(client, workspace["id"])
    assert [o["operation_type"] for o in ops] == ["create"]  # nothing ran, nothing recorded


@pytest.mark.parametrize("overrides", [{"allow_local_exec": True}])
async def test_exec_in_a_local_workspace_when_allowed(
    client: QuartClient, settings: Settings
) -> None:
    workspace = await _local_workspace(client)
    url = f"/api/v1/workspaces/{workspace['id']}/exec"
    folder = settings.resolved_data_dir / "workspaces" / workspace["id"]

    response = await client.post(
        url,
        json={"command": "pwd; cat; echo $X >&2; exit 4", "stdin": "in", "env": {"X": "y"}},
        headers=ALICE,
    )
    result = await response.get_json()
    assert response.status_code == 200, result
    assert result["stdout"] == f"{folder}\nin"
    assert (result["stderr"], result["exit_code"]) == ("y\n", 4)
    assert (
        "VM_API"
        not in (await (await client.post(url, json={"command": "env"}, headers=ALICE)).get_json())[
            "stdout"
        ]
    )

    began = time.monotonic()
    slow = await (
        await client.post(url, json={"command": "sleep 100", "timeout_seconds": 1}, headers=ALICE)
    ).get_json()
    assert time.monotonic() - began < 10
    assert (slow["timed_out"], slow["exit_code"]) == (True, 137)

    big = await (
        await client.post(url, json={"command": "head -c 2000000 /dev/zero"}, headers=ALICE)
    ).get_json()
    assert big["truncated"] is True and len(big["stdout"]) == 1024 * 1024

    outside = await client.post(url, json={"command": "pwd", "workdir": "../.."}, headers=ALICE)
    await assert_error(outside, 400, "PATH_OUTSIDE_WORKSPACE")
    execs = [
        o for o in await operations_of(client, workspace["id"]) if o["operation_type"] == "exec"
    ]
    assert len(execs) == 4 and {o["requested_by"] for o in execs} == {"alice"}


async def test_local_workspaces_have_no_logs(client: QuartClient) -> None:
    workspace = await _local_workspace(client)
    response = await client.get(f"/api/v1/workspaces/{workspace['id']}/logs", headers=ALICE)
    await assert_error(response, 409, "LOGS_UNSUPPORTED")


async def test_files_of_a_local_workspace(client: QuartClient, settings: Settings) -> None:
    workspace = await _local_workspace(client)
    url = f"/api/v1/workspaces/{workspace['id']}/files"
    folder = settings.resolved_data_dir / "workspaces" / workspace["id"]
    (folder.parent / "secret").write_text("not yours")
    (folder / "out").symlink_to(folder.parent)
    (folder / "chain").symlink_to(folder / "out")

    put = await client.put(url, query_string={"path": "a/b.txt"}, data=b"hello", headers=ALICE)
    assert put.status_code == 200, await put.get_json()
    assert (folder / "a" / "b.txt").read_bytes() == b"hello"
    got = await client.get(url, query_string={"path": "a/b.txt"}, headers=ALICE)
    assert (got.mimetype, await got.get_data()) == ("application/octet-stream", b"hello")
    tar = await client.get(url, query_string={"path": "a"}, headers=ALICE)
    with tarfile.open(fileobj=io.BytesIO(await tar.get_data())) as archive:
        assert sorted(archive.getnames()) == ["a", "a/b.txt"]
    for path in ("../secret", "out/secret", "chain/secret", "/etc/passwd", "a/../../x"):
        response = await client.get(url, query_string={"path": path}, headers=ALICE)
        await assert_error(response, 400, "PATH_OUTSIDE_WORKSPACE")
        response = await client.put(url, query_string={"path": path}, data=b"x", headers=ALICE)
        await assert_error(response, 400, "PATH_OUTSIDE_WORKSPACE")
    assert (folder.parent / "secret").read_text() == "not yours"
    kinds = [o["operation_type"] for o in await operations_of(client, workspace["id"])]
    assert kinds == ["file_download", "file_download", "file_upload", "create"]
