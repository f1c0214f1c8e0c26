"""Bytes in and out of a workspace: exec, logs and file copies."""

from __future__ import annotations

import shutil
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


def _skip_unsafe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but an entry it refuses (a link out of the folder, made in
    the workspace) is left out with a word, not the end of the copy."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError as error:
        err(f"left out {member.name}: {error}")
        return None


def _unpack_folder(archive: Path, target: Path) -> Path:
    """The downloaded tar (entries under the folder's own name) as a local folder, as cp -r
    does: into `target` when it is a folder already, else as `target` itself."""
    if target.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter=_skip_unsafe)
            tops = {name.split("/")[0] for name in tar.getnames()}
        return target / tops.pop() if len(tops) == 1 else target
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter=_skip_unsafe)
        inside = list(scratch.iterdir())
        top = inside[0] if len(inside) == 1 and inside[0].is_dir() else scratch
        top.replace(target)  # never a half-copied folder under the real name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def download(api: Api, workspace_id: str, path: str, target: Path) -> int:
    """A file to `target`; a folder to a local folder (or, when `target` ends in `.tar`, its
    tar archive as it came); `-` writes either to stdout (a folder as a tar)."""
    for response in api.stream(
        f"/workspaces/{workspace_id}/files", params={"path": path}, timeout=STREAM_TIMEOUT
    ):
        try:
            if str(target) == "-":
                for chunk in response.iter_bytes():
                    sys.stdout.buffer.write(chunk)
                return 0
            is_tar = response.headers.get("content-type", "").startswith("application/x-tar")
            unpack = is_tar and target.suffix != ".tar"
            if target.is_dir() and not unpack:
                name = Path(path).name or "workspace"
                target = target / (f"{name}.tar" if is_tar else name)
            partial = target.parent / f".{target.name}.partial"
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
            if unpack:
                try:
                    target = _unpack_folder(partial, target)
                finally:
                    partial.unlink(missing_ok=True)
            else:
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
