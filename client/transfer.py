"""Bytes in and out of a workspace: exec, logs and file copies."""

from __future__ import annotations

import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

import httpx

from client.http import Api, ApiError, UsageError
from client.output import err, print_json

OCTETS = "application/octet-stream"
CHUNK_BYTES = 1024 * 1024
STREAM_TIMEOUT = httpx.Timeout(10.0, read=None)  # a followed log may be quiet for hours


def run_exec(api: Api, workspace_id: str, body: dict[str, Any], as_json: bool) -> int:
    """Run the exec request `body` and print the command's output; the exit code is the
    command's own (124 on a timeout)."""
    timeout = int(body["timeout_seconds"])
    result = api.call(
        "POST",
        f"/workspaces/{workspace_id}/exec",
        json=body,
        timeout=httpx.Timeout(timeout + 30.0, connect=10.0),
    )
    if as_json:
        print_json(result)
    else:
        sys.stdout.write(result.get("stdout") or "")
        sys.stdout.flush()
        sys.stderr.write(result.get("stderr") or "")
        if result.get("truncated"):
            err("output truncated at 1 MiB")
        if result.get("timed_out"):
            err(f"timed out after {timeout} s; the command was killed")
    if result.get("timed_out"):
        return 124
    code = result.get("exit_code")
    return int(code) if code is not None else 1


def print_logs(api: Api, workspace_id: str, tail: int, follow: bool) -> int:
    params = {"tail": tail, "follow": "true" if follow else "false"}
    for response in api.stream(
        f"/workspaces/{workspace_id}/logs", params=params, timeout=STREAM_TIMEOUT
    ):
        try:
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
        except httpx.HTTPError as exc:
            raise ApiError(0, "UNREACHABLE", f"the log stream ended: {exc}") from exc
        finally:
            response.close()
    return 0


def download(api: Api, workspace_id: str, path: str, target: Path) -> int:
    """A file to `target` (a folder comes as a tar archive; `-` writes to stdout)."""
    for response in api.stream(
        f"/workspaces/{workspace_id}/files", params={"path": path}, timeout=STREAM_TIMEOUT
    ):
        try:
            if str(target) == "-":
                for chunk in response.iter_bytes():
                    sys.stdout.buffer.write(chunk)
                return 0
            if target.is_dir():
                name = Path(path).name or "workspace"
                is_tar = response.headers.get("content-type", "").startswith("application/x-tar")
                target = target / (f"{name}.tar" if is_tar else name)
            partial = target.with_name(target.name + ".partial")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
            partial.replace(target)  # never a half-written file under the real name
        finally:
            response.close()
    print(f"copied {path} to {target}")
    return 0


def _put(api: Api, workspace_id: str, path: str, body: Any, content_type: str) -> Any:
    return api.call(
        "PUT",
        f"/workspaces/{workspace_id}/files",
        params={"path": path},
        content=body,
        headers={"Content-Type": content_type},
        timeout=STREAM_TIMEOUT,
    )


def _folder_archive(source: Path) -> IO[bytes]:
    """The folder's contents as a tar in a temporary file (links stored as links)."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    with tarfile.open(fileobj=spool, mode="w") as archive:
        archive.add(source, arcname=".")
    spool.seek(0)
    return spool


def upload(api: Api, workspace_id: str, source: Path, path: str) -> int:
    """Like cp: a target that is empty, ends in `/` or names a folder gets the source's own
    name inside it. A folder goes as a tar and is unpacked there; `-` is standard input."""
    into_folder = path == "" or path.endswith("/")
    if str(source) == "-":
        if into_folder:
            raise UsageError("copying standard input needs a file name: NAME:PATH")
        # chunks, sent chunked: a pipe has no length to announce
        chunks = iter(lambda: sys.stdin.buffer.read(CHUNK_BYTES), b"")
        _put(api, workspace_id, path, chunks, OCTETS)
        print(f"copied standard input to {path}")
        return 0
    if into_folder:
        path = f"{path}{source.resolve().name}"
    if source.is_dir():
        with _folder_archive(source) as archive:
            done = _put(api, workspace_id, path, archive, "application/x-tar")
        files = done.get("files")
        print(f"copied {source} ({files} file{'' if files == 1 else 's'}) to {path}")
        return 0
    if not source.is_file():
        raise ApiError(404, "NOT_FOUND", f"no such local file or folder {source}")
    try:
        with source.open("rb") as data:
            _put(api, workspace_id, path, data, OCTETS)
    except ApiError as exc:
        if exc.code != "PATH_IS_FOLDER":
            raise
        path = f"{path.rstrip('/')}/{source.name}"
        with source.open("rb") as data:
            _put(api, workspace_id, path, data, OCTETS)
    print(f"copied {source} to {path}")
    return 0
