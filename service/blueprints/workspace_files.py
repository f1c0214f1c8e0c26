"""Files: download a file or a folder (as a tar) from a workspace, upload a file into it.
Paths are relative to the workspace folder (the template's workdir) and confined to it."""

from __future__ import annotations

import contextlib
import posixpath
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO

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
from tasks.providers import docker_files
from tasks.providers.docker_files import PathOutside, Resolved
from tasks.specs import spec_for

blueprint = Blueprint("workspace_files", __name__, url_prefix="/api/v1")

MIB = 1024 * 1024
SPOOL_IN_MEMORY_BYTES = 8 * MIB
_UPLOAD_PATH = re.compile(r"/api/v1/workspaces/[^/]+/files")
_END = object()


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


async def _resolve(workspace: WorkspaceRecord, path: str) -> Resolved:
    if workspace.provider != "docker":
        raise APIError(409, "FILES_UNSUPPORTED", "a local workspace is a folder on the server")
    provider = access.docker_provider(workspace)
    workdir = spec_for(workspace, access.settings()).workdir
    try:
        with access.docker_errors("read the path"):
            return await access.in_thread(
                lambda: docker_files.resolve(
                    provider.client(), access.container_of(workspace), workdir, path
                )
            )
    except PathOutside as error:
        raise APIError(400, "PATH_OUTSIDE_WORKSPACE", str(error)) from error


async def _stream(chunks: Iterator[bytes], operation_id: str) -> AsyncIterator[bytes]:
    sent, error = 0, "the client went away"
    try:
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
        await run_sync(finish_access)(
            operation_id, error=error or None, detail={"size_bytes": sent}
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
    provider = access.docker_provider(workspace)
    container = access.container_of(workspace)
    record = await run_sync(begin_access)(
        workspace.id, workspace.owner, AccessType.FILE_DOWNLOAD, viewer().user, {"path": path}
    )
    name = posixpath.basename(target.base) or "workspace"
    if target.is_dir:
        chunks = docker_files.download_folder(provider.client(), container, target.base)
        mimetype, filename = "application/x-tar", f"{name}.tar"
        headers = {}
    else:
        chunks = docker_files.download_file(provider.client(), container, target.base)
        mimetype, filename = "application/octet-stream", name
        headers = {"Content-Length": str(target.stat["size"])} if target.stat else {}
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response = Response(_stream(chunks, record.id), mimetype=mimetype, headers=headers)
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


def _too_large(limit: int) -> APIError:
    return APIError(
        413, "PAYLOAD_TOO_LARGE", f"an upload is at most {limit // MIB} MiB (VM_API_MAX_UPLOAD_MB)"
    )


def _upload(
    workspace: WorkspaceRecord, target: Resolved, source: IO[bytes], size: int, op: str
) -> None:
    provider = access.docker_provider(workspace)
    try:
        with access.docker_errors("write the file"):
            docker_files.upload_file(
                provider.client(), access.container_of(workspace), target, source, size
            )
    except Exception as error:
        finish_access(op, error=str(error) or type(error).__name__)
        raise
    finish_access(op, detail={"size_bytes": size})


@blueprint.put("/workspaces/<workspace_id>/files")
@document_querystring(FilesQuery)
@document_response(Uploaded, 200)
@document_response(Error, 400)
@document_response(Error, 413)
@require_user
async def put_file(workspace_id: str) -> Response:
    """Upload the request body as the file at `path` (folders on the way are made)."""
    workspace = await access.visible_workspace(workspace_id)
    path = _path_arg()
    target = await _resolve(workspace, path)
    if target.is_dir:
        raise APIError(400, "PATH_IS_FOLDER", f"{path!r} is a folder; name a file")
    source, size = await _spool(upload_limit(access.settings()))
    with contextlib.closing(source):
        record = await run_sync(begin_access)(
            workspace.id,
            workspace.owner,
            AccessType.FILE_UPLOAD,
            viewer().user,
            {"path": path, "size_bytes": size},
        )
        await access.in_thread(_upload, workspace, target, source, size, record.id)
    return json_response({"path": path, "size_bytes": size})
