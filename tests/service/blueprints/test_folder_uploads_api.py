"""A folder uploaded as a tar (`PUT .../files` with `Content-Type: application/x-tar`): on the
real daemon and in a `local` workspace's folder, through the real app."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from collections.abc import AsyncIterator
from typing import Any

import docker
import pytest
from api_support import ALICE, assert_error, create_workspace, operations_of, run_queued
from docker_support import remove_labelled
from quart.testing import QuartClient

from models.settings import Settings

TAR = {**ALICE, "Content-Type": "application/x-tar"}


def tar_of(*entries: tuple[str, str]) -> bytes:
    """(name, data) files; a name ending in '/' is a folder, 'name -> target' a symlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name.rstrip("/").split(" -> ")[0])
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif " -> " in name:
                info.type, info.linkname = tarfile.SYMTYPE, name.split(" -> ")[1]
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data.encode()))
    return buffer.getvalue()


PROJECT = tar_of(("./", ""), ("./README", "read me\n"), ("./src/", ""),
                 ("./src/main.py", "print(1)\n"), ("./src/lib/util.py", "x = 2\n"),
                 ("./docs -> src", ""))  # fmt: skip


async def put_tar(client: QuartClient, ws: dict[str, Any], path: str, data: bytes) -> Any:
    return await client.put(
        f"/api/v1/workspaces/{ws['id']}/files", query_string={"path": path}, data=data, headers=TAR
    )


REFUSED = [
    (tar_of(("../evil", "x")), "PATH_OUTSIDE_WORKSPACE"),
    (tar_of(("/etc/evil", "x")), "PATH_OUTSIDE_WORKSPACE"),
    (tar_of(("out -> /etc", "")), "PATH_OUTSIDE_WORKSPACE"),
    (tar_of(("out -> ../..", "")), "PATH_OUTSIDE_WORKSPACE"),
    (tar_of(("here -> .", ""), ("here/up -> ..", "")), "PATH_OUTSIDE_WORKSPACE"),
    (b"not a tar at all" * 64, "INVALID_ARCHIVE"),
]


# -- Docker --------------------------------------------------------------------------------


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {
        "default_provider": "docker",
        "instance": f"vm-api-test-{uuid.uuid4().hex[:12]}",
        "max_upload_mb": 1,
    }


@pytest.fixture
async def box(
    client: QuartClient, docker_client: docker.DockerClient, settings: Settings
) -> AsyncIterator[dict[str, Any]]:
    try:
        created = await create_workspace(client, "box", template="base")
        run_queued()
        container = docker_client.containers.get(f"vm-ws-{created['id']}")
        assert container.exec_run(["mkdir", "-p", "/workspace"]).exit_code == 0
        yield {**created, "container": container}
    finally:
        remove_labelled(docker_client, settings.instance)


def sh(box: dict[str, Any], script: str) -> str:
    done = box["container"].exec_run(["sh", "-c", script])
    return done.output.decode()  # type: ignore[no-any-return]


@pytest.mark.docker
async def test_a_folder_unpacks_into_a_new_or_existing_folder(
    client: QuartClient, box: dict[str, Any]
) -> None:
    response = await put_tar(client, box, "projects/app", PROJECT)
    assert response.status_code == 200, await response.get_json()
    assert await response.get_json() == {"path": "projects/app", "files": 3, "size_bytes": 23}
    listing = sh(box, "cd /workspace/projects/app && find . | sort && cat src/lib/util.py")
    assert listing.split() == [".", "./README", "./docs", "./src", "./src/lib", "./src/lib/util.py",
                               "./src/main.py", "x", "=", "2"]  # fmt: skip
    assert sh(box, "readlink /workspace/projects/app/docs") == "src\n"

    # again, into the folder that is there now: files are replaced, others stay
    sh(box, "echo mine > /workspace/projects/app/notes")
    again = await put_tar(client, box, "projects/app", tar_of(("README", "new\n")))
    assert again.status_code == 200
    assert sh(box, "cat /workspace/projects/app/README /workspace/projects/app/notes") == (
        "new\nmine\n"
    )
    ops = [
        o for o in await operations_of(client, box["id"]) if o["operation_type"] == "file_upload"
    ]
    assert [(o["status"], o["detail"]["files"]) for o in ops] == [("success", 1), ("success", 3)]


@pytest.mark.docker
@pytest.mark.parametrize(("archive", "code"), REFUSED)
async def test_archives_that_leave_the_folder_are_refused_and_write_nothing(
    client: QuartClient, box: dict[str, Any], archive: bytes, code: str
) -> None:
    await assert_error(await put_tar(client, box, "dest", archive), 400, code)
    assert (
        sh(box, "ls -a /workspace; ls /etc/evil 2>&1")
        == ".\n..\nls: /etc/evil: No such file or directory\n"
    )
    ops = [
        o for o in await operations_of(client, box["id"]) if o["operation_type"] == "file_upload"
    ]
    assert [o["status"] for o in ops] == ["failed"]


@pytest.mark.docker
async def test_a_symlink_already_in_the_workspace_is_not_written_through(
    client: QuartClient, box: dict[str, Any]
) -> None:
    sh(box, "mkdir -p /tmp/outside && ln -s /tmp/outside /workspace/link")
    response = await put_tar(client, box, ".", tar_of(("link/evil", "x")))
    assert response.status_code == 200, await response.get_json()
    # Docker replaced the link by the folder the archive names: nothing landed outside
    assert (
        sh(box, "ls /tmp/outside; cat /workspace/link/evil; test -L /workspace/link || echo dir")
        == "xdir\n"
    )
    await assert_error(await put_tar(client, box, "link/evil", PROJECT), 400, "PATH_IS_FILE")


# -- local ---------------------------------------------------------------------------------


async def test_a_folder_in_a_local_workspace(client: QuartClient, settings: Settings) -> None:
    workspace = await create_workspace(client, "folder", provider="local")
    run_queued()
    folder = settings.resolved_data_dir / "workspaces" / workspace["id"]
    response = await put_tar(client, workspace, "app", PROJECT)
    assert response.status_code == 200, await response.get_json()
    assert (folder / "app" / "src" / "lib" / "util.py").read_text() == "x = 2\n"
    assert (folder / "app" / "docs").readlink().as_posix() == "src"

    for archive, code in REFUSED:
        await assert_error(await put_tar(client, workspace, "dest", archive), 400, code)
    assert not (folder / "dest").exists() or not any((folder / "dest").iterdir())
    # a link already in the folder that leads out refuses the upload before anything is written
    (folder.parent / "outside").mkdir(exist_ok=True)
    (folder / "out").symlink_to(folder.parent / "outside")
    refused = await put_tar(client, workspace, ".", tar_of(("fine.txt", "ok"), ("out/evil", "x")))
    await assert_error(refused, 400, "PATH_OUTSIDE_WORKSPACE")
    assert not (folder.parent / "outside" / "evil").exists()
    assert not (folder / "fine.txt").exists()

    # compressed archives are read; their files count against the same cap
    zipped = gzip.compress(tar_of(("a.txt", "hello\n")))
    assert (await put_tar(client, workspace, "z", zipped)).status_code == 200
    assert (folder / "z" / "a.txt").read_text() == "hello\n"
    bomb = gzip.compress(tar_of(("zeros", "\0" * (2 * 1024 * 1024))))
    assert len(bomb) < 1024 * 1024
    await assert_error(await put_tar(client, workspace, "bomb", bomb), 413, "PAYLOAD_TOO_LARGE")
    assert not (folder / "bomb").exists()
