"""Archive expansion: every format lists its members with the right bytes, names, sizes and times;
nested archives expand engine-style; every member can be reopened from its locator."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import py7zr
import pytest

from safenet.evidence.archive import (
    EXPANDABLE,
    WARNING_CODES,
    ArchiveLimits,
    depth_allowed,
    expand,
    open_member,
    spool,
)
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, Item, TimeSource
from tests.evidence.archive_builders import (
    Result,
    raw_zip,
    read_all,
    run,
    run_opener,
    sha,
    stored,
    tar_bytes,
    tar_file,
    top_item,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CONTENT = {
    "photos/holiday.jpg": os.urandom(70_000),
    "notes.txt": b"meet at the usual place\n" * 200,
    "empty.dat": b"",
    "deep/er/still/x.bin": os.urandom(3_000),
}


def _zip(compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        archive.writestr("photos/", b"")  # a folder entry: not yielded
        for name, data in CONTENT.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _tar(mode: str = "w") -> bytes:
    folder = tarfile.TarInfo("photos")
    folder.type = tarfile.DIRTYPE
    return tar_bytes([(folder, None), *(tar_file(name, data) for name, data in CONTENT.items())], mode)


def _7z(**kwargs: object) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", **kwargs) as archive:  # type: ignore[arg-type]
        for name, data in CONTENT.items():
            archive.writestr(data, name)
    return buf.getvalue()


def _assert_content(result: Result, detail: str, depth: int = 1) -> None:
    assert result.warnings == [] and result.read_errors == []
    assert sorted(result.names) == sorted(CONTENT)
    for item, data in result.members:
        name = item.locator.leaf.value
        assert sha(data) == sha(CONTENT[name])
        assert item.size == len(CONTENT[name])
        assert item.name == name.rsplit("/", 1)[-1]
        assert item.locator.leaf.kind is LayerKind.ARCHIVE_MEMBER
        assert item.locator.leaf.detail == detail
        assert item.locator.archive_depth == depth
        assert not item.deleted and item.modified is not None
        assert item.modified.source is TimeSource.ARCHIVE


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_lists_members_with_their_bytes(compression: int) -> None:
    result = run(_zip(compression), "zip")
    _assert_content(result, "zip")
    for item, _ in result.members:
        assert item.locator.leaf.offset is not None
        assert item.modified is not None and not item.modified.zone_known and item.modified.precision_s == 2.0


@pytest.mark.parametrize(
    ("filetype", "mode", "detail"),
    [
        ("tar", "w", "tar"),
        ("gzip", "w:gz", "tar.gz"),
        ("bzip2", "w:bz2", "tar.bz2"),
        ("xz", "w:xz", "tar.xz"),
    ],
)
def test_tar_family_lists_members_with_their_bytes(filetype: str, mode: str, detail: str) -> None:
    result = run(_tar(mode), filetype)
    _assert_content(result, detail)
    for item, _ in result.members:
        assert item.modified is not None and item.modified.zone_known
        assert item.modified.value.timestamp() == 1_700_000_000


@pytest.mark.parametrize(
    "kwargs", [{}, {"filters": [{"id": py7zr.FILTER_DEFLATE}]}, {"filters": [{"id": py7zr.FILTER_BZIP2}]}]
)
def test_7z_lists_members_with_their_bytes(kwargs: dict[str, object]) -> None:
    result = run(_7z(**kwargs), "7z")
    _assert_content(result, "7z")
    assert [item.locator.leaf.inode for item, _ in result.members] == list(range(len(CONTENT)))


def test_7z_with_several_folders_and_partly_read_members(tmp_path: Path) -> None:
    path = tmp_path / "multi.7z"
    names = list(CONTENT)
    for i, name in enumerate(names):  # each append writes a new folder (solid block)
        with py7zr.SevenZipFile(path, "w" if i == 0 else "a") as archive:
            archive.writestr(CONTENT[name], name)
    parent = top_item("multi.7z", path.stat().st_size)
    seen = {}
    for item, stream in expand(parent, "7z", lambda: path.open("rb"), ArchiveLimits(), _no_warning):
        seen[item.locator.leaf.value] = stream.read(10)  # only the head: the rest must be skipped
    assert seen == {name: CONTENT[name][:10] for name in names}


@pytest.mark.parametrize(
    ("filetype", "compress"),
    [
        ("gzip", gzip.compress),
        ("bzip2", bz2.compress),
        ("xz", lzma.compress),
    ],
)
def test_compressed_single_file_is_one_member_named_after_the_parent(
    filetype: str, compress: Callable[[bytes], bytes]
) -> None:
    data = os.urandom(5_000)
    suffix = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz"}[filetype]
    result = run(compress(data), filetype, name=f"evidence.jpg{suffix}")
    assert result.warnings == []
    [(item, got)] = result.members
    assert got == data and item.name == "evidence.jpg" and item.locator.leaf.detail == filetype
    assert item.size is None
    odd = run(compress(data), filetype, name="blob")
    assert odd.names == ["blob.decompressed"]


def test_gzip_header_time_is_used() -> None:
    result = run(gzip.compress(b"x" * 100, mtime=1_600_000_000), "gzip", name="a.txt.gz")
    [(item, _)] = result.members
    assert item.modified is not None and item.modified.value.timestamp() == 1_600_000_000


def test_zip_extended_timestamp_is_utc() -> None:
    extra = b"\x55\x54" + (5).to_bytes(2, "little") + b"\x01" + (1_650_000_000).to_bytes(4, "little")
    result = run(raw_zip([stored(b"a.txt", b"abc", extra=extra)]), "zip")
    [(item, _)] = result.members
    assert item.modified is not None and item.modified.zone_known
    assert item.modified.value.timestamp() == 1_650_000_000


class _Unclosable:
    """What the engine hands expand for a nested archive: a view of its spooled copy."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def __enter__(self) -> _Unclosable:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.parametrize("inner_type", ["zip", "7z"])
def test_nested_archive_expands_from_a_spooled_copy(inner_type: str) -> None:
    inner = _zip() if inner_type == "zip" else _7z()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("readme.txt", b"outer")
        archive.writestr(f"sub/inner.{inner_type}", inner)
    outer = buf.getvalue()
    found: dict[Locator, bytes] = {}
    for member, stream in expand(top_item("outer.zip"), "zip", lambda: io.BytesIO(outer), ArchiveLimits(), _no_warning):
        if not member.name.startswith("inner"):
            found[member.locator] = read_all(stream)
            continue
        with spool() as copy:
            shutil.copyfileobj(stream, copy)
            assert depth_allowed(member, ArchiveLimits())

            def opener(copy: BinaryIO = copy) -> BinaryIO:  # type: ignore[assignment]
                copy.seek(0)
                return _Unclosable(copy)  # type: ignore[return-value]

            nested = run_opener(opener, inner_type, member)
        _assert_content(nested, inner_type, depth=2)
        for item, data in nested.members:
            members = [layer for layer in item.locator.layers if layer.kind is LayerKind.ARCHIVE_MEMBER]
            assert members[0].value == f"sub/inner.{inner_type}"
            assert item.locator.archive_depth == 2 and item.locator.parent == member.locator
            found[item.locator] = data
    assert len(found) == 1 + len(CONTENT)
    for locator, data in found.items():  # reopen through both layers, from the outer bytes alone
        reopened: BinaryIO = io.BytesIO(outer)
        for layer in locator.layers[1:]:
            reopened = open_member(reopened, layer)
        assert read_all(reopened) == data


ALL_FORMATS = [
    ("zip", _zip),
    ("tar", _tar),
    ("gzip", lambda: _tar("w:gz")),
    ("bzip2", lambda: _tar("w:bz2")),
    ("xz", lambda: _tar("w:xz")),
    ("7z", _7z),
    ("gzip", lambda: gzip.compress(b"single" * 999)),
]


@pytest.mark.parametrize(("filetype", "build"), ALL_FORMATS)
def test_open_member_reproduces_every_member(filetype: str, build: Callable[[], bytes]) -> None:
    data = build()
    result = run(data, filetype, name="x.gz")
    assert result.members
    for item, content in result.members:
        layer = Locator.from_json(item.locator.to_json()).leaf  # as stored in a case file
        assert read_all(open_member(io.BytesIO(data), layer)) == content
        if filetype == "tar":  # a non-seekable container takes the streaming path
            assert read_all(open_member(io.BufferedReader(_NoSeek(data)), layer)) == content


class _NoSeek(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._inner.readinto(buffer)


@pytest.mark.parametrize(("filetype", "build"), ALL_FORMATS[:6])
def test_open_member_says_when_the_member_is_gone(filetype: str, build: Callable[[], bytes]) -> None:
    data = build()
    item = run(data, filetype).members[1][0]
    leaf = item.locator.leaf
    moved = Layer(leaf.kind, leaf.value + "x", leaf.inode, leaf.offset, detail=leaf.detail)
    with pytest.raises(EvidenceError, match="gone"):
        open_member(io.BytesIO(data), moved)


def test_open_member_rejects_unknown_layers() -> None:
    with pytest.raises(EvidenceError):
        open_member(io.BytesIO(b""), Layer(LayerKind.ARCHIVE_MEMBER, "a", detail="arj"))
    with pytest.raises(EvidenceError):
        open_member(io.BytesIO(b""), Layer(LayerKind.PATH, "a"))


def test_stream_is_invalid_once_the_generator_moves_on() -> None:
    streams = []
    for _item, stream in expand(top_item("a.zip"), "zip", lambda: io.BytesIO(_zip()), ArchiveLimits(), _no_warning):
        stream.read(1)
        streams.append(stream)
    with pytest.raises(ValueError, match="no longer valid"):
        streams[0].read(100_000)


def test_closing_the_generator_early_is_clean() -> None:
    gen = expand(top_item("a.tar.gz"), "gzip", lambda: io.BytesIO(_tar("w:gz")), ArchiveLimits(), _no_warning)
    next(gen)[1].read(5)
    gen.close()


def test_real_file_parent_and_rar_is_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(_zip())
    result = run_opener(lambda: path.open("rb"), "zip", top_item("a.zip"))
    _assert_content(result, "zip")
    rar = run(b"Rar!\x1a\x07\x01\x00", "rar", name="x.rar")
    assert rar.members == [] and rar.codes() == ["unsupported-archive"]
    assert "rar" in rar.warnings[0].message and rar.warnings[0].locator == top_item("x.rar").locator


@pytest.mark.parametrize(
    ("filetype", "data"),
    [
        ("zip", b"PK\x05\x06" + bytes(18)),
        ("tar", bytes(10240)),
        ("7z", None),
    ],
)
def test_empty_archives_yield_nothing_and_warn_nothing(filetype: str, data: bytes | None) -> None:
    if data is None:
        buf = io.BytesIO()
        with py7zr.SevenZipFile(buf, "w"):
            pass
        data = buf.getvalue()
    result = run(data, filetype)
    assert result.members == [] and result.warnings == []


def _nested_item(depth: int) -> Item:
    locator = Locator.source("/e/a.zip")
    for level in range(depth):
        locator = locator.child(Layer(LayerKind.ARCHIVE_MEMBER, f"level{level}.zip", detail="zip", offset=0))
    return Item(locator, "x.zip", 10)


def test_depth_limit() -> None:
    limits = ArchiveLimits(max_depth=2)
    assert [depth_allowed(_nested_item(depth), limits) for depth in range(4)] == [True, True, False, False]
    result = run(_zip(), "zip", parent=_nested_item(2), limits=limits)
    assert result.members == [] and result.codes() == ["archive-depth"]


def test_expandable_names_match_filetype_names_and_codes_are_documented() -> None:
    from safenet.analysis.filetype import TYPES

    assert set(TYPES) >= EXPANDABLE and "rar" not in EXPANDABLE
    assert all(code == code.lower() and " " not in code for code in WARNING_CODES)


def test_spool_uses_the_temp_folder_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # tempfile's default folder, whatever it is
    with spool(limit_in_memory=10) as copy:
        copy.write(b"x" * 100)  # over the limit: now a real (unlinked or named) file in the temp folder
        copy.seek(0)
        assert copy.read() == b"x" * 100
        name = copy.name
        assert isinstance(name, int) or Path(name).parent == scratch
    assert list(scratch.iterdir()) == []


def _no_warning(warning: object) -> None:
    raise AssertionError(f"unexpected warning: {warning}")


def test_7z_folders_and_links_are_not_yielded(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"real")
    (tmp_path / "link.txt").symlink_to("real.txt")
    (tmp_path / "sub").mkdir()
    path = tmp_path / "links.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.write(tmp_path / "sub", "sub")
        archive.write(tmp_path / "link.txt", "link.txt")
        archive.write(tmp_path / "real.txt", "real.txt")
    result = run(path.read_bytes(), "7z")
    assert result.names == ["real.txt"] and result.content("real.txt") == b"real"
    assert result.codes() == ["special-member"] and "symbolic link" in result.warnings[0].message


def test_zip_unicode_path_field_and_ntfs_time() -> None:
    raw = "Ünïcode.jpg".encode("cp437", "replace")
    unicode_path = b"\x01" + zlib.crc32(raw).to_bytes(4, "little") + "Ünïcode.jpg".encode()
    ntfs = bytes(4) + b"\x01\x00\x18\x00" + (132_000_000_000_000_000).to_bytes(8, "little") + bytes(16)
    extra = b"\x75\x70" + len(unicode_path).to_bytes(2, "little") + unicode_path
    extra += b"\x0a\x00" + len(ntfs).to_bytes(2, "little") + ntfs
    data = raw_zip([stored(raw, b"x", extra=extra)])
    [(item, _)] = run(data, "zip").members
    assert item.name == "Ünïcode.jpg"
    assert item.modified is not None and item.modified.precision_s == 1e-7 and item.modified.zone_known
    assert item.modified.value.year == 2019
