"""A folder uploaded as a tar archive, checked before anything is written.

The archive comes from a client, so nothing in it is believed: every entry must be a file, a
folder or a symlink; names are relative and never climb (`..`); a symlink's target stays
inside the folder it is unpacked into, and no entry lies below a symlink of the archive (a
link to `.` would otherwise carry the next entry's `..`-free name out). Hard links, devices
and fifos are refused. What passes is written again as a new archive under the target's
path, so the provider unpacks names this module made, not the client's.
"""

from __future__ import annotations

import posixpath
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tasks.providers.docker_files import CHUNK_BYTES, PathOutside

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
_PLAIN_KINDS = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE})  # files, folders


class ArchiveRefused(ValueError):
    """The upload is not a tar archive we unpack (not a tar, or an entry of a refused kind)."""


class ArchiveTooLarge(ArchiveRefused):
    """Its files add up to more than the upload cap (a compressed archive can)."""


@dataclass(frozen=True)
class CheckedArchive:
    """The entries that passed, in order, with their normalised names."""

    members: list[tarfile.TarInfo]
    files: int
    size_bytes: int


def _name(member: tarfile.TarInfo) -> str:
    name = member.name
    if "\0" in name or name.startswith("/"):
        raise PathOutside(f"archive entry {name!r}: names must be relative")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathOutside(f"archive entry {name!r}: '..' is not allowed")
    return "/".join(parts)


def _link_stays_inside(name: str, target: str) -> bool:
    if not target or target.startswith("/") or "\0" in target:
        return False
    landed = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return landed != ".." and not landed.startswith("../")


def _checked(member: tarfile.TarInfo, links: set[str], seen: dict[str, bool]) -> str:
    """The entry's normalised name, once it passed every rule ("" for the archive's own root
    folder, `.` or `./`, which is left out); `links` and `seen` (name: is a folder) are what
    came before it."""
    name = _name(member)
    if not name:
        return name
    parents = name.split("/")[:-1]
    if any("/".join(parents[: depth + 1]) in links for depth in range(len(parents))):
        raise PathOutside(f"archive entry {name!r} lies below a symlink")
    if member.issym():
        if not _link_stays_inside(name, member.linkname):
            target = member.linkname
            raise PathOutside(f"archive entry {name!r} links to {target!r}, out of the folder")
        links.add(name)
    elif member.type not in _PLAIN_KINDS:
        raise ArchiveRefused(
            f"archive entry {name!r}: only files, folders and symlinks are unpacked"
        )
    if name in seen and not (member.isdir() and seen[name]):
        raise ArchiveRefused(f"archive entry {name!r} appears twice")
    seen[name] = member.isdir()
    return name


def check(source: IO[bytes], limit: int) -> CheckedArchive:
    """Read the whole archive in `source` (seekable; plain, gzip, bzip2 or xz) and keep what
    may be unpacked; raises ArchiveRefused or PathOutside at the first entry that may not,
    ArchiveTooLarge once its files pass `limit` bytes."""
    members: list[tarfile.TarInfo] = []
    links: set[str] = set()
    seen: dict[str, bool] = {}
    files = size = 0
    source.seek(0)
    try:
        with tarfile.open(fileobj=source, mode="r:*") as archive:
            for member in archive:
                member.name = _checked(member, links, seen)
                if not member.name:
                    continue
                if member.isfile():
                    files += 1
                    size += member.size
                    if size > limit:
                        raise ArchiveTooLarge(f"its files add up to more than {limit} bytes")
                members.append(member)
    except tarfile.TarError as error:
        raise ArchiveRefused(f"not a tar archive we can read: {error}") from None
    return CheckedArchive(members, files, size)


def _folder(name: str, now: float) -> tarfile.TarInfo:
    folder = tarfile.TarInfo(name)
    folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, now
    return folder


def rebuilt(source: IO[bytes], checked: CheckedArchive, under: tuple[str, ...]) -> IO[bytes]:
    """A new archive of the checked entries, each under the folders `under`, in a temporary
    file the caller closes. Owners become root (the workspace's own user); a folder's entry
    comes before its contents."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
    prefix = "/".join(under)
    source.seek(0)
    try:
        _copy(source, spool, checked, prefix)
    except (tarfile.TarError, EOFError, OSError) as error:  # an entry's data ends early
        spool.close()
        raise ArchiveRefused(f"the tar archive is damaged: {error}") from None
    spool.seek(0)
    return spool


def _copy(source: IO[bytes], spool: IO[bytes], checked: CheckedArchive, prefix: str) -> None:
    now = time.time()
    with (
        tarfile.open(fileobj=source, mode="r:*") as original,
        tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as out,
    ):
        made: set[str] = set()

        def folders_to(name: str) -> None:
            # Every folder gets an entry before what is in it: Docker then replaces a symlink
            # already at that name instead of writing through it.
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    made.add(folder)
                    out.addfile(_folder(folder, now))

        for member in checked.members:
            entry = tarfile.TarInfo(posixpath.join(prefix, member.name) if prefix else member.name)
            folders_to(entry.name)
            if member.isdir():
                if entry.name in made:
                    continue
                made.add(entry.name)
            entry.type, entry.mtime = member.type, member.mtime
            entry.mode = member.mode & 0o7777 & ~0o6000  # no setuid or setgid from a client
            if member.issym():
                entry.linkname = member.linkname
                out.addfile(entry)
            elif member.isfile():
                entry.size = member.size
                out.addfile(entry, original.extractfile(member))
            else:
                out.addfile(entry)


def chunks(archive: IO[bytes]) -> Iterator[bytes]:
    while chunk := archive.read(CHUNK_BYTES):
        yield chunk
