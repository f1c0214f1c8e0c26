"""Files: download a file or a folder (as a tar) from a workspace, upload a file or a folder
(as a tar) into it. Paths are relative to the workspace folder (the template's workdir) and
confined to it."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from quart import Blueprint, Response, request
from quart.utils import run_sync
from quart_schema import document_querystring, document_response
from werkzeug.exceptions import RequestEntityTooLarge

from models.access import begin_access, finish_access
from models.records import WorkspaceRecord
from models.settings import Settings
from models.states import AccessType
from service import access, params
from service.auth import require_user, viewer
from service.errors import APIError
from service.responses import json_response
from service.schemas import Error, FilesQuery, Uploaded
from tasks.providers import direct_provider, docker_files, folder_uploads, local_files
from tasks.providers.docker_files import PathOutside
from tasks.providers.local import LocalProvider
from tasks.specs import spec_for

blueprint = Blueprint("workspace_files", __name__, url_prefix="/api/v1")

MIB = 1024 * 1024
SPOOL_IN_MEMORY_BYTES = 8 * MIB
_UPLOAD_PATH = re.compile(r"/api/v1/workspaces/[^/]+/files")
_END = object()
TAR = "application/x-tar"


def upload_limit(settings: Settings) -> int:
    return settings.max_upload_mb * MIB


def is_upload(method: str, path: str) -> bool:
    return method == "PUT" and _UPLOAD_PATH.fullmatch(path) is not None


def _path_arg() -> str:
    params.check_known(request.args, ("path",))
    path = request.args.get("path")
    if path is None or path == "":
        raise APIError(400, "INVALID_PARAMETER", "path: required ('.' is the workspace folder)")
    return path


@dataclass(frozen=True)
class _Target:
    """A resolved path of either provider: what is there, and how to read or write it."""

    exists: bool
    is_dir: bool
    size: int | None
    name: str
    download: Callable[[], Iterator[bytes]]
    upload: Callable[[IO[bytes], int], None]
    missing: tuple[str, ...]  # the folders an unpacked archive is put under
    unpack: Callable[[IO[bytes]], None]


def _docker_target(workspace: WorkspaceRecord, path: str) -> _Target:
    provider = access.docker_provider(workspace)
    client, container = provider.client(), access.container_of(workspace)
    workdir = spec_for(workspace, access.settings()).workdir
    found = docker_files.resolve(client, container, workdir, path)
    download = docker_files.download_folder if found.is_dir else docker_files.download_file
    return _Target(
        exists=found.exists,
        is_dir=found.is_dir,
        size=found.stat["size"] if found.stat and not found.is_dir else None,
        name=posixpath.basename(found.base) or "workspace",
        download=lambda: download(provider.client(), container, found.base),
        upload=lambda source, size: docker_files.upload_file(
            provider.client(), container, found, source, size
        ),
        missing=found.missing,
        unpack=lambda archive: docker_files.upload_folder(
            provider.client(), container, found, folder_uploads.chunks(archive)
        ),
    )


def _local_target(workspace: WorkspaceRecord, path: str) -> _Target:
    provider = direct_provider("local", access.settings())
    assert isinstance(provider, LocalProvider)
    folder = provider._path(workspace.id)
    if not folder.is_dir():
        raise APIError(409, "NOT_RUNNING", "the workspace's folder does not exist (yet)")
    real = local_files.resolve_local(folder, path)
    is_dir = real.is_dir()
    return _Target(
        exists=real.exists(),
        is_dir=is_dir,
        size=real.stat().st_size if real.is_file() else None,
        name=real.name or "workspace",
        download=lambda: (local_files.download_folder if is_dir else local_files.download_file)(
            real
        ),
        upload=lambda source, _size: local_files.upload_file(real, source),
        missing=(),
        unpack=lambda archive: local_files.upload_folder(real, archive),
    )


async def _resolve(workspace: WorkspaceRecord, path: str) -> _Target:
    make = _local_target if workspace.provider == "local" else _docker_target
    try:
        with access.docker_errors("read the path"):
            return await access.in_thread(make, workspace, path)
    except PathOutside as error:
        raise APIError(400, "PATH_OUTSIDE_WORKSPACE", str(error)) from error


async def _stream(
    chunks: Iterator[bytes], operation_id: str, size: int | None, heartbeat_timeout: float
) -> AsyncIterator[bytes]:
    """The download's chunks, recorded when it ends. A file's `size` is its Content-Length:
    once all of it is handed to the server, the download is done, even if the client hangs
    up before the server asks for the (empty) rest."""
    sent, error = 0, "the client went away"
    try:
        with access.heartbeat(operation_id, heartbeat_timeout):
            while True:
                chunk = await access.in_thread(next, chunks, _END)
                if chunk is _END:
                    error = ""
                    return
                sent += len(chunk)  # type: ignore[arg-type]
                yield chunk  # type: ignore[misc]
    except Exception as failure:
        error = str(failure) or type(failure).__name__
        raise
    finally:
        if size is not None and sent >= size and error == "the client went away":
            error = ""
        # Shielded: the client leaving cancels this body, and the record must still be written.
        await asyncio.shield(
            run_sync(finish_access)(operation_id, error=error or None, detail={"size_bytes": sent})
        )


@blueprint.get("/workspaces/<workspace_id>/files")
@document_querystring(FilesQuery)
@document_response(Error, 400)
@document_response(Error, 404)
@require_user
async def get_files(workspace_id: str) -> Response:
    """A file's bytes (application/octet-stream), or a folder as application/x-tar."""
    workspace = await access.visible_workspace(workspace_id)
    path = _path_arg()
    target = await _resolve(workspace, path)
    if not target.exists:
        raise APIError(404, "NOT_FOUND", f"no file or folder at {path!r}")
    record = await run_sync(begin_access)(
        workspace.id, workspace.owner, AccessType.FILE_DOWNLOAD, viewer().user, {"path": path}
    )
    headers = {}
    if target.is_dir:
        mimetype, filename = "application/x-tar", f"{target.name}.tar"
    else:
        mimetype, filename = "application/octet-stream", target.name
        if target.size is not None:
            headers["Content-Length"] = str(target.size)
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    chunks = target.download()
    body = _stream(chunks, record.id, target.size, access.settings().heartbeat_timeout)
    response = Response(body, mimetype=mimetype, headers=headers)
    response.timeout = None
    return response


async def _spool(limit: int) -> tuple[IO[bytes], int]:
    """The request body in a temporary file (in memory up to 8 MiB), never past `limit`."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
    size, pending = 0, bytearray()
    try:
        async for chunk in request.body:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            pending += chunk
            if len(pending) >= MIB:
                await access.in_thread(spool.write, bytes(pending))
                pending.clear()
        await access.in_thread(spool.write, bytes(pending))
        spool.seek(0)
    except RequestEntityTooLarge:
        spool.close()
        raise _too_large(limit) from None
    except BaseException:
        spool.close()
        raise
    return spool, size


def _too_large(limit: int, why: str = "") -> APIError:
    cap = f"an upload is at most {limit // MIB} MiB (VM_API_MAX_UPLOAD_MB)"
    return APIError(413, "PAYLOAD_TOO_LARGE", f"{cap}: {why}" if why else cap)


def _upload(target: _Target, source: IO[bytes], size: int, operation_id: str) -> None:
    try:
        with access.docker_errors("write the file"):
            target.upload(source, size)
    except Exception as error:
        finish_access(operation_id, error=str(error) or type(error).__name__)
        raise
    finish_access(operation_id, detail={"size_bytes": size})


@blueprint.put("/workspaces/<workspace_id>/files")
@document_querystring(FilesQuery)
@document_response(Uploaded, 200)
@document_response(Error, 400)
@document_response(Error, 413)
@require_user
async def put_file(workspace_id: str) -> Response:
    """Upload the request body as the file at `path` (folders on the way are made); with
    `Content-Type: application/x-tar`, unpack it into the folder at `path`."""
    workspace = await access.visible_workspace(workspace_id)
    path = _path_arg()
    target = await _resolve(workspace, path)
    if request.mimetype == TAR:
        return await _put_folder(workspace, path, target)
    if target.is_dir:
        raise APIError(400, "PATH_IS_FOLDER", f"{path!r} is a folder; name a file")
    source, size = await _spool(upload_limit(access.settings()))
    with contextlib.closing(source):
        operation_id = await _begin_upload(workspace, {"path": path, "size_bytes": size})
        with access.heartbeat(operation_id, access.settings().heartbeat_timeout):
            await access.in_thread(_upload, target, source, size, operation_id)
    return json_response({"path": path, "size_bytes": size})


async def _begin_upload(workspace: WorkspaceRecord, detail: dict[str, Any]) -> str:
    record = await run_sync(begin_access)(
        workspace.id, workspace.owner, AccessType.FILE_UPLOAD, viewer().user, detail
    )
    return record.id


def _unpack(target: _Target, source: IO[bytes], limit: int, operation_id: str) -> dict[str, int]:
    """Check the archive, rebuild it under the target's missing folders, unpack it; the
    record says how it ended."""
    try:
        checked = folder_uploads.check(source, limit)
        with (
            contextlib.closing(folder_uploads.rebuilt(source, checked, target.missing)) as archive,
            access.docker_errors("write the folder"),
        ):
            target.unpack(archive)
    except Exception as error:
        finish_access(operation_id, error=str(error) or type(error).__name__)
        raise
    counts = {"files": checked.files, "size_bytes": checked.size_bytes}
    finish_access(operation_id, detail=counts)
    return counts


async def _put_folder(workspace: WorkspaceRecord, path: str, target: _Target) -> Response:
    if target.exists and not target.is_dir:
        raise APIError(400, "PATH_IS_FILE", f"{path!r} is a file; a tar unpacks into a folder")
    limit = upload_limit(access.settings())
    source, size = await _spool(limit)
    with contextlib.closing(source):
        detail = {"path": path, "size_bytes": size, "archive": True}
        operation_id = await _begin_upload(workspace, detail)
        try:
            with access.heartbeat(operation_id, access.settings().heartbeat_timeout):
                counts = await access.in_thread(_unpack, target, source, limit, operation_id)
        except folder_uploads.ArchiveTooLarge as error:
            raise _too_large(limit, str(error)) from error
        except folder_uploads.ArchiveRefused as error:
            raise APIError(400, "INVALID_ARCHIVE", str(error)) from error
        except PathOutside as error:
            raise APIError(400, "PATH_OUTSIDE_WORKSPACE", str(error)) from error
    return json_response({"path": path, **counts})
