"""The rules an uploaded folder archive must pass before anything is unpacked."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from tasks.providers.docker_files import PathOutside
from tasks.providers.folder_uploads import (
    ArchiveRefused,
    ArchiveTooLarge,
    CheckedArchive,
    check,
    rebuilt,
)


def check_(source: io.BytesIO, limit: int = 1 << 30) -> CheckedArchive:
    return check(source, limit)


def archive(*entries: tuple[str, str, str]) -> io.BytesIO:
    """A tar of (kind, name, data-or-link-target) entries, kind one of file, dir, sym, hard,
    fifo."""
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
             "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, value in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kinds[kind], 0o6755 if kind == "file" else 0o755
            if kind in ("sym", "hard"):
                info.linkname = value
            if kind == "file":
                info.size = len(value.encode())
                tar.addfile(info, io.BytesIO(value.encode()))
            else:
                tar.addfile(info)
    buffer.seek(0)
    return buffer


def test_a_plain_folder_passes_and_is_rebuilt_under_the_missing_folders() -> None:
    source = archive(("dir", "./", ""), ("file", "./a.txt", "A"), ("dir", "src", ""),
                     ("file", "src/deep/b.txt", "BB"), ("sym", "src/link", "../a.txt"))  # fmt: skip
    checked = check_(source)
    assert (checked.files, checked.size_bytes) == (2, 3)
    out = rebuilt(source, checked, ("new", "place"))
    with tarfile.open(fileobj=out, mode="r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert list(members) == ["new", "new/place", "new/place/a.txt", "new/place/src",
                                 "new/place/src/deep", "new/place/src/deep/b.txt",
                                 "new/place/src/link"]  # fmt: skip
        assert tar.extractfile(members["new/place/src/deep/b.txt"]).read() == b"BB"  # type: ignore[union-attr]
        assert members["new/place/src/link"].linkname == "../a.txt"
        assert members["new/place/a.txt"].mode == 0o755  # setuid and setgid dropped
    out.close()


@pytest.mark.parametrize(
    "entries",
    [
        [("file", "../evil", "x")],
        [("file", "a/../../evil", "x")],
        [("file", "/etc/evil", "x")],
        [("sym", "out", "/etc")],
        [("sym", "out", "../..")],
        [("sym", "a/out", "../../x")],
        # a link to the folder itself is inside, but nothing may go through it
        [("sym", "here", "."), ("sym", "here/up", "..")],
        [("sym", "here", "."), ("file", "here/x", "x")],
    ],
)
def test_entries_that_would_leave_the_folder_are_refused(entries: list) -> None:
    with pytest.raises(PathOutside):
        check_(archive(*entries))


@pytest.mark.parametrize(
    "entries",
    [
        [("hard", "h", "a")],
        [("fifo", "f", "")],
        [("file", "a", "1"), ("file", "a", "2")],
        [("sym", "a", "b"), ("file", "a", "2")],
    ],
)
def test_other_kinds_and_repeated_names_are_refused(entries: list) -> None:
    with pytest.raises(ArchiveRefused):
        check_(archive(*entries))


def test_what_is_not_a_tar_is_refused() -> None:
    with pytest.raises(ArchiveRefused, match="not a tar"):
        check_(io.BytesIO(b"hello, this is not a tar archive" * 40))
    with pytest.raises(ArchiveRefused):
        check_(io.BytesIO(b""))


def test_an_archive_whose_data_ends_early_is_refused() -> None:
    whole = archive(("file", "big", "x" * 5000)).getvalue()
    cut = io.BytesIO(whole[:2048])
    with pytest.raises(ArchiveRefused):
        rebuilt(cut, check_(cut), ()).close()


def test_a_compressed_archive_is_read_and_its_files_count_against_the_cap() -> None:
    plain = archive(("file", "a", "x" * 4000), ("file", "b", "y" * 4000))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb") as zipped:
        zipped.write(plain.getvalue())
    packed.seek(0)
    assert check_(packed).size_bytes == 8000
    out = rebuilt(packed, check_(packed), ())
    with tarfile.open(fileobj=out, mode="r:") as tar:
        assert tar.extractfile("b").read() == b"y" * 4000  # type: ignore[union-attr]
    out.close()
    packed.seek(0)
    with pytest.raises(ArchiveTooLarge):
        check_(packed, limit=7999)
