"""Files of a workspace's container, confined to its workdir: download a file or a folder,
upload a file or a folder (an archive checked by folder_uploads). Works on a stopped
container as on a running one (Docker's archive API).

Confinement is checked component by component with Docker's path stat (a HEAD of the archive
endpoint, no data): for a symlink the daemon reports its target fully resolved in the
container's root, so a link (or a chain of links) that ends outside the workdir is refused.
Docker itself never leaves the container's root; the rule keeps the API to the workspace.
"""

from __future__ import annotations

import base64
import io
import json
import posixpath
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import docker

MODE_DIR = 1 << 31  # Go's os.ModeDir, as the daemon reports modes
MODE_SYMLINK = 1 << 27
CHUNK_BYTES = 1024 * 1024
STAT_HEADER = "X-Docker-Container-Path-Stat"


class PathOutside(Exception):
    """The path leaves the workspace's workdir."""


class PathMissing(Exception):
    """Nothing at that path."""


def split_path(workdir: str, path: str) -> list[str]:
    """The path's components below `workdir`; PathOutside for `..` anywhere, NUL, or an
    absolute path that does not start with the workdir."""
    if "\0" in path:
        raise PathOutside("a path cannot hold a NUL byte")
    pieces = path.split("/")
    if ".." in pieces:
        raise PathOutside("'..' is not allowed in a path")
    parts = [part for part in pieces if part not in ("", ".")]
    if path.startswith("/"):
        root = [part for part in workdir.split("/") if part]
        if parts[: len(root)] != root:
            raise PathOutside(f"{path!r} is not inside the workspace folder {workdir}")
        parts = parts[len(root) :]
    return parts


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def stat_path(client: docker.DockerClient, container: str, path: str) -> dict[str, Any] | None:
    """Docker's stat of `path` (name, size, mode, linkTarget), None when nothing is there."""
    api = client.api
    response = api.head(api._url("/containers/{0}/archive", container), params={"path": path})
    if response.status_code == 404 and STAT_HEADER not in response.headers:
        # 404 is also "no such container": tell them apart
        api.inspect_container(container)
        return None
    api._raise_for_status(response)
    return json.loads(base64.b64decode(response.headers[STAT_HEADER]))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Resolved:
    """Where a path really is: `base` exists (no symlink in it), `missing` are the components
    below it that do not exist yet (none when the whole path exists), `stat` the target's."""

    base: str
    missing: tuple[str, ...]
    stat: dict[str, Any] | None

    @property
    def exists(self) -> bool:
        return not self.missing

    @property
    def is_dir(self) -> bool:
        return self.stat is not None and bool(self.stat["mode"] & MODE_DIR)


def resolve(client: docker.DockerClient, container: str, workdir: str, path: str) -> Resolved:
    parts = split_path(workdir, path)
    root = workdir
    stat = stat_path(client, container, root)
    if stat is not None and stat["mode"] & MODE_SYMLINK:
        root = stat["linkTarget"]
        stat = stat_path(client, container, root)
    if stat is None:  # no workdir yet (an image without it, no volume): made on upload
        return Resolved("/", (*split_path("/", root), *parts), None)
    current = root
    for index, part in enumerate(parts):
        candidate = posixpath.join(current, part)
        stat = stat_path(client, container, candidate)
        if stat is not None and stat["mode"] & MODE_SYMLINK:
            target = stat["linkTarget"]
            if not _inside(target, root):
                raise PathOutside(f"{'/'.join(parts[: index + 1])!r} is a link out of {workdir}")
            candidate, stat = target, stat_path(client, container, target)
        if stat is None:
            base, name = posixpath.split(candidate)
            return Resolved(base, (name, *parts[index + 1 :]), None)
        current = candidate
    return Resolved(current, (), stat)


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def download_folder(client: docker.DockerClient, container: str, path: str) -> Iterator[bytes]:
    """The folder as a tar stream (its entries under the folder's own name)."""
    stream, _stat = client.api.get_archive(container, path, chunk_size=CHUNK_BYTES)
    yield from stream


def download_file(client: docker.DockerClient, container: str, path: str) -> Iterator[bytes]:
    """The file's bytes, taken out of the one-entry tar Docker sends."""
    stream, _stat = client.api.get_archive(container, path, chunk_size=CHUNK_BYTES)
    reader = io.BufferedReader(_ChunkReader(stream), CHUNK_BYTES)
    with tarfile.open(fileobj=reader, mode="r|") as archive:
        member = archive.next()
        extracted = archive.extractfile(member) if member is not None else None
        if extracted is None:
            raise PathMissing(path)
        while chunk := extracted.read(CHUNK_BYTES):
            yield chunk


def _tar_stream(missing: tuple[str, ...], source: IO[bytes], size: int) -> Iterator[bytes]:
    """A tar of the missing folders and the file, read from `source` as it is sent."""
    now = time.time()
    for depth in range(1, len(missing)):
        folder = tarfile.TarInfo("/".join(missing[:depth]))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, now
        yield folder.tobuf(format=tarfile.PAX_FORMAT)
    entry = tarfile.TarInfo("/".join(missing))
    entry.size, entry.mode, entry.mtime = size, 0o644, now
    yield entry.tobuf(format=tarfile.PAX_FORMAT)
    while chunk := source.read(CHUNK_BYTES):
        yield chunk
    yield b"\0" * ((-size) % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE)


def upload_file(
    client: docker.DockerClient, container: str, target: Resolved, source: IO[bytes], size: int
) -> None:
    """Write `size` bytes from `source` at the resolved path, making missing folders. An
    existing symlink at the end (inside the workdir) is written through, never replaced."""
    if target.is_dir:
        raise IsADirectoryError("a folder is at that path")
    base, missing = target.base, target.missing
    if not missing:  # the file exists: replace it where it really is
        base, name = posixpath.split(base)
        missing = (name,)
    client.api.put_archive(container, base, _tar_stream(missing, source, size))


def upload_folder(
    client: docker.DockerClient, container: str, target: Resolved, archive: Iterator[bytes]
) -> None:
    """Unpack a checked, rebuilt archive (its names under `target.missing`) at the resolved
    path, a folder (the route refuses a file). Docker replaces a symlink at a folder's name
    by the folder (never follows it)."""
    client.api.put_archive(container, target.base, archive)
