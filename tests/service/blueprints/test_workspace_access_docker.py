"""Exec, logs and files of a Docker workspace through the real app on the real daemon."""

from __future__ import annotations

import asyncio
import io
import tarfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import docker
import pytest
from api_support import ALICE, BOB, assert_error, create_workspace, operations_of, run_queued
from docker_support import remove_labelled
from quart.testing import QuartClient

from models.settings import Settings

pytestmark = pytest.mark.docker

MIB = 1024 * 1024
Workspace = dict[str, Any]


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {
        "default_provider": "docker",
        "instance": f"vm-api-test-{uuid.uuid4().hex[:12]}",
        "max_upload_mb": 2,
    }


@pytest.fixture
async def ws(
    client: QuartClient, docker_client: docker.DockerClient, settings: Settings
) -> AsyncIterator[Workspace]:
    """A running Docker workspace (provisioned by the real task, inline), its workdir made."""
    try:
        created = await create_workspace(client, "box", template="base")
        run_queued()
        container = docker_client.containers.get(f"vm-ws-{created['id']}")
        assert container.status == "running"
        # no volume in this branch yet: the image has no /workspace of its own
        assert container.exec_run(["mkdir", "-p", "/workspace"]).exit_code == 0
        yield {**created, "container": container}
    finally:
        remove_labelled(docker_client, settings.instance)


async def exec_(client: QuartClient, ws: Workspace, headers: dict = ALICE, **body: Any) -> Any:
    return await client.post(f"/api/v1/workspaces/{ws['id']}/exec", json=body, headers=headers)


async def ok_exec(client: QuartClient, ws: Workspace, **body: Any) -> dict[str, Any]:
    response = await exec_(client, ws, **body)
    result = await response.get_json()
    assert response.status_code == 200, result
    return result  # type: ignore[no-any-return]


def processes(container: Any) -> list[str]:
    return [row[-1] for row in container.top()["Processes"]]


# -- exec ----------------------------------------------------------------------------------


async def test_exec_answers_exit_code_stdout_and_stderr(client: QuartClient, ws: Workspace) -> None:
    result = await ok_exec(client, ws, command="echo out; echo err >&2; exit 3")

    assert result["exit_code"] == 3
    assert result["stdout"] == "out\n"
    assert result["stderr"] == "err\n"
    assert result["timed_out"] is False and result["truncated"] is False
    assert result["duration_ms"] >= 0


async def test_exec_takes_argv_stdin_env_and_workdir(client: QuartClient, ws: Workspace) -> None:
    assert (await ok_exec(client, ws, command=["cat"], stdin="from stdin"))["stdout"] == (
        "from stdin"
    )
    env = await ok_exec(client, ws, command=["sh", "-c", "echo $GREETING"], env={"GREETING": "hi"})
    assert env["stdout"] == "hi\n"
    assert (await ok_exec(client, ws, command=["pwd"]))["stdout"] == "/workspace\n"
    await ok_exec(client, ws, command="mkdir -p /workspace/sub")
    assert (await ok_exec(client, ws, command=["pwd"], workdir="sub"))["stdout"] == (
        "/workspace/sub\n"
    )
    assert (await ok_exec(client, ws, command=["pwd"], workdir="/tmp"))["stdout"] == "/tmp\n"
    assert (await ok_exec(client, ws, command=["false"]))["exit_code"] == 1


async def test_a_command_past_its_timeout_is_killed_inside_the_container(
    client: QuartClient, ws: Workspace
) -> None:
    began = time.monotonic()
    result = await ok_exec(client, ws, command=["sleep", "100"], timeout_seconds=1)

    assert time.monotonic() - began < 10, result
    assert result["timed_out"] is True, result
    assert result["exit_code"] == 137, result
    # killed, not left running: gone from the container's process list (once reaped)
    deadline = time.monotonic() + 5
    while any("sleep 100" in line for line in processes(ws["container"])):
        assert time.monotonic() < deadline, processes(ws["container"])
        await asyncio.sleep(0.05)


async def test_output_past_one_mib_is_truncated_and_says_so(
    client: QuartClient, ws: Workspace
) -> None:
    result = await ok_exec(client, ws, command="head -c 3000000 /dev/zero | tr '\\0' x; echo e >&2")

    assert result["truncated"] is True
    assert result["stdout"] == "x" * MIB
    assert result["stderr"] == "e\n"
    assert result["exit_code"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"command": []},
        {"command": ""},
        {"command": ["ls"], "timeout_seconds": 601},
        {"command": ["ls"], "timeout_seconds": 0},
        {"command": ["ls"], "env": {"A=B": "x"}},
        {"command": ["ls"], "env": {"A": 1}},
        {"command": ["ls"], "shell": True},
    ],
)
async def test_bad_exec_requests_are_400(
    client: QuartClient, ws: Workspace, body: dict[str, Any]
) -> None:
    response = await client.post(f"/api/v1/workspaces/{ws['id']}/exec", json=body, headers=ALICE)
    await assert_error(response, 400, "VALIDATION_ERROR")


async def test_exec_in_a_stopped_workspace_is_409(client: QuartClient, ws: Workspace) -> None:
    response = await client.post(f"/api/v1/workspaces/{ws['id']}/stop", headers=ALICE)
    assert response.status_code == 202
    run_queued()

    body = await assert_error(await exec_(client, ws, command=["true"]), 409, "NOT_RUNNING")
    assert body["status"] == "stopped"


async def test_a_container_stopped_behind_our_back_is_409(
    client: QuartClient, ws: Workspace
) -> None:
    ws["container"].stop(timeout=1)

    await assert_error(await exec_(client, ws, command=["true"]), 409, "NOT_RUNNING")


async def test_another_user_cannot_exec_read_logs_or_files(
    client: QuartClient, ws: Workspace
) -> None:
    await assert_error(await exec_(client, ws, BOB, command=["true"]), 404, "NOT_FOUND")
    logs = await client.get(f"/api/v1/workspaces/{ws['id']}/logs", headers=BOB)
    await assert_error(logs, 404, "NOT_FOUND")
    files = await client.get(
        f"/api/v1/workspaces/{ws['id']}/files", query_string={"path": "."}, headers=BOB
    )
    await assert_error(files, 404, "NOT_FOUND")
    put = await client.put(
        f"/api/v1/workspaces/{ws['id']}/files", query_string={"path": "x"}, data=b"x", headers=BOB
    )
    await assert_error(put, 404, "NOT_FOUND")


async def test_the_history_shows_who_ran_what(client: QuartClient, ws: Workspace) -> None:
    await ok_exec(client, ws, command=["sh", "-c", "exit 2"])
    await ok_exec(client, ws, command=["sleep", "5"], timeout_seconds=1)
    await client.put(
        f"/api/v1/workspaces/{ws['id']}/files",
        query_string={"path": "h.txt"},
        data=b"hey",
        headers=ALICE,
    )
    response = await client.get(
        f"/api/v1/workspaces/{ws['id']}/files", query_string={"path": "h.txt"}, headers=ALICE
    )
    assert await response.get_data() == b"hey"

    ops = [o for o in await operations_of(client, ws["id"]) if o["operation_type"] != "create"]
    download, upload, slept, exited = ops
    assert exited["operation_type"] == "exec" and exited["requested_by"] == "alice"
    assert exited["detail"]["command"] == ["sh", "-c", "exit 2"]
    assert exited["detail"]["exit_code"] == 2
    assert (exited["status"], exited["error"]) == ("failed", "exit code 2")
    assert slept["detail"]["timed_out"] is True and "timed out" in slept["error"]
    assert upload["operation_type"] == "file_upload" and upload["status"] == "success"
    assert upload["detail"] == {"path": "h.txt", "size_bytes": 3}
    assert download["operation_type"] == "file_download" and download["status"] == "success"
    assert download["detail"] == {"path": "h.txt", "size_bytes": 3}
    assert all(o["completed_at"] for o in ops)


# -- logs ----------------------------------------------------------------------------------


async def test_logs_answer_the_containers_last_lines(client: QuartClient, ws: Workspace) -> None:
    # stderr first, then a pause: Docker copies the two streams separately
    script = (
        "echo oops > /proc/1/fd/2; sleep 0.3;"
        " for i in 1 2 3 4 5; do echo line$i > /proc/1/fd/1; done"
    )
    assert ws["container"].exec_run(["sh", "-c", script]).exit_code == 0
    url = f"/api/v1/workspaces/{ws['id']}/logs"

    async def logs(query: str = "") -> str:
        response = await client.get(url + query, headers=ALICE)
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        return await response.get_data(as_text=True)  # type: ignore[no-any-return]

    deadline = time.monotonic() + 10
    while not (await logs()).endswith("line5\n"):  # the log driver writes a moment later
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert await logs("?tail=3") == "line3\nline4\nline5\n"
    assert await logs() == "oops\nline1\nline2\nline3\nline4\nline5\n"
    assert await logs("?tail=0") == ""


@pytest.mark.parametrize("query", ["tail=-1", "tail=x", "tail=100001", "follow=maybe", "x=1"])
async def test_bad_log_queries_are_400(client: QuartClient, ws: Workspace, query: str) -> None:
    response = await client.get(f"/api/v1/workspaces/{ws['id']}/logs?{query}", headers=ALICE)
    await assert_error(response, 400, "INVALID_PARAMETER")


# -- files ---------------------------------------------------------------------------------


async def put_file(client: QuartClient, ws: Workspace, path: str, data: bytes) -> Any:
    return await client.put(
        f"/api/v1/workspaces/{ws['id']}/files",
        query_string={"path": path},
        data=data,
        headers=ALICE,
    )


async def get_file(client: QuartClient, ws: Workspace, path: str) -> Any:
    return await client.get(
        f"/api/v1/workspaces/{ws['id']}/files", query_string={"path": path}, headers=ALICE
    )


async def test_upload_then_download_a_file(client: QuartClient, ws: Workspace) -> None:
    data = bytes(range(256)) * 5000  # over a MiB, binary
    response = await put_file(client, ws, "deep/er/blob.bin", data)
    assert response.status_code == 200, await response.get_json()
    assert await response.get_json() == {"path": "deep/er/blob.bin", "size_bytes": len(data)}
    listed = ws["container"].exec_run(["ls", "-l", "/workspace/deep/er/blob.bin"])
    assert str(len(data)).encode() in listed.output

    got = await get_file(client, ws, "deep/er/blob.bin")
    assert got.status_code == 200
    assert got.mimetype == "application/octet-stream"
    assert await got.get_data() == data
    replaced = await put_file(client, ws, "/workspace/deep/er/blob.bin", b"short")
    assert replaced.status_code == 200
    assert await (await get_file(client, ws, "deep/er/blob.bin")).get_data() == b"short"


async def test_a_folder_downloads_as_a_tar(client: QuartClient, ws: Workspace) -> None:
    await ok_exec(client, ws, command="mkdir -p d/e && echo one > d/a && echo two > d/e/b")

    response = await get_file(client, ws, "d")
    assert response.status_code == 200
    assert response.mimetype == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(await response.get_data())) as archive:
        names = sorted(archive.getnames())
        assert archive.extractfile("d/e/b").read() == b"two\n"  # type: ignore[union-attr]
    assert names == ["d", "d/a", "d/e", "d/e/b"]
    whole = await get_file(client, ws, ".")
    assert whole.mimetype == "application/x-tar"


async def test_files_work_on_a_stopped_workspace(client: QuartClient, ws: Workspace) -> None:
    assert (await put_file(client, ws, "kept.txt", b"kept")).status_code == 200
    ws["container"].stop(timeout=1)

    assert await (await get_file(client, ws, "kept.txt")).get_data() == b"kept"
    assert (await put_file(client, ws, "later.txt", b"later")).status_code == 200
    ws["container"].start()
    assert ws["container"].exec_run(["cat", "/workspace/later.txt"]).output == b"later"


async def test_an_upload_past_the_cap_is_413(client: QuartClient, ws: Workspace) -> None:
    response = await put_file(client, ws, "big.bin", b"x" * (2 * MIB + 1))
    body = await assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "VM_API_MAX_UPLOAD_MB" in body["error"]
    assert (await get_file(client, ws, "big.bin")).status_code == 404


async def test_a_missing_file_is_404(client: QuartClient, ws: Workspace) -> None:
    await assert_error(await get_file(client, ws, "nothing/here"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "a/../../x", "a/..", "..", "/workspace/../etc", "/"]
)
async def test_paths_that_leave_the_workspace_are_400(
    client: QuartClient, ws: Workspace, path: str
) -> None:
    await assert_error(await get_file(client, ws, path), 400, "PATH_OUTSIDE_WORKSPACE")
    await assert_error(await put_file(client, ws, path, b"x"), 400, "PATH_OUTSIDE_WORKSPACE")


async def test_symlinks_out_of_the_workspace_are_400(client: QuartClient, ws: Workspace) -> None:
    script = (
        "ln -s /etc etc && ln -s /etc/passwd pw && ln -s pw chain1 && ln -s chain1 chain2"
        " && mkdir in && ln -s /workspace/in inside && ln -s ../ up"
    )
    await ok_exec(client, ws, command=script)

    for path in ("etc/passwd", "etc", "pw", "chain2", "up/etc", "etc/new-file"):
        await assert_error(await get_file(client, ws, path), 400, "PATH_OUTSIDE_WORKSPACE")
        await assert_error(await put_file(client, ws, path, b"x"), 400, "PATH_OUTSIDE_WORKSPACE")
    assert b"root" in ws["container"].exec_run(["cat", "/etc/passwd"]).output  # untouched
    # a link that stays inside is followed
    assert (await put_file(client, ws, "inside/f", b"ok")).status_code == 200
    assert ws["container"].exec_run(["cat", "/workspace/in/f"]).output == b"ok"


async def test_a_folder_cannot_be_overwritten_by_an_upload(
    client: QuartClient, ws: Workspace
) -> None:
    await ok_exec(client, ws, command="mkdir -p folder")
    await assert_error(await put_file(client, ws, "folder", b"x"), 400, "PATH_IS_FOLDER")
    await assert_error(await put_file(client, ws, ".", b"x"), 400, "PATH_IS_FOLDER")
