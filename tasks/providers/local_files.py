"""Files of a `local` workspace: its folder on the server, with the same confinement as a
container's workdir (no `..`, no absolute path outside, no symlink that leads out)."""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tasks.providers.docker_files import CHUNK_BYTES, PathOutside, split_path

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


def resolve_local(folder: Path, path: str) -> Path:
    """The real path (every symlink resolved) of `path` in `folder`; PathOutside if it leaves."""
    root = folder.resolve()
    target = (root.joinpath(*split_path(str(root), path))).resolve()
    if not target.is_relative_to(root):
        raise PathOutside(f"{path!r} leads out of the workspace folder")
    return target


def download_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk


def download_folder(path: Path) -> Iterator[bytes]:
    """A tar of the folder under its own name; links inside are stored as links."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        with tarfile.open(fileobj=spool, mode="w") as archive:
            archive.add(path, arcname=path.name or "workspace")
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


def upload_file(path: Path, source: IO[bytes]) -> None:
    """Write beside the target, then rename over it: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                out.write(chunk)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def upload_folder(path: Path, archive: IO[bytes]) -> None:
    """Unpack a checked, rebuilt archive into the folder at `path` (made if missing). Each
    entry is checked against the disk first with tarfile's `data` filter, which resolves
    symlinks already there: one that leads out refuses the upload before anything is written.
    The route refuses a file at `path`."""
    path.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=archive, mode="r:") as unpacked:
        members = unpacked.getmembers()
        try:
            for member in members:
                tarfile.data_filter(member, str(path))
        except tarfile.FilterError as error:
            raise PathOutside(str(error)) from None
        unpacked.extractall(path, members=members, filter="data")
