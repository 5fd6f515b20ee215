"""7z archives: py7zr parses the header; members are decoded here, in order, a chunk at a time.

py7zr's public extraction cannot be used on evidence: ``read()`` returns every member in memory, and
``extract(factory=...)`` refuses the whole archive when one member name climbs out of a folder (and
resolves names against the current directory). So py7zr supplies the header and the decoders, and this
module walks the folders (solid blocks) in the order py7zr's own Worker does, pulling bounded chunks.
That touches py7zr internals (``header.main_streams``, ``Folder.get_decompressor``, ``afterheader``):
the version is pinned in pyproject.toml and the tests exercise every path used here.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from typing import IO, Any, BinaryIO

import py7zr
from py7zr.exceptions import PasswordRequired, UnsupportedCompressionMethodError

from safenet.evidence.archives.common import (
    CHUNK,
    ArchiveBudget,
    ArchiveCorrupt,
    ArchiveLimits,
    Expansion,
    Members,
    MemberStream,
    describe,
    seekable_copy,
    stream_size,
)
from safenet.evidence.archives.fields import filetime
from safenet.evidence.locator import Layer, display_safe
from safenet.evidence.model import EvidenceError, Item, Timestamp
from safenet.reasons import reason_of

DETAIL = "7z"
_ENCRYPTED = "encrypted"
_UNSUPPORTED = "unsupported"
_BROKEN = "broken"


class _Folder:
    """The decoder of one folder; it reads the shared file from where it last stopped."""

    def __init__(self, fp: IO[bytes], start: int, decompressor: Any) -> None:
        self._fp = fp
        self._pos = start
        self._decompressor = decompressor

    def read(self, size: int) -> bytes:
        self._fp.seek(self._pos)
        before = self._pos
        try:
            data: bytes = self._decompressor.decompress(self._fp, size)
        except EvidenceError:
            raise
        except Exception as exc:  # py7zr raises assorted types (even AssertionError) on malformed data
            raise ArchiveCorrupt(describe(exc)) from exc
        self._pos = self._fp.tell()
        if not data and self._pos == before:
            raise ArchiveCorrupt("7z data ends before the member does")
        return bytes(data)


class _Reader:
    """One member's bytes from its folder: exactly its declared size, then the CRC check."""

    def __init__(self, folder: _Folder, size: int, crc: int | None) -> None:
        self._folder = folder
        self._left = size
        self._expected = crc
        self._crc = 0
        self._checked = False

    def read(self, size: int) -> bytes:
        while self._left > 0:
            data = self._folder.read(min(size, self._left))
            if data:
                self._left -= len(data)
                self._crc = zlib.crc32(data, self._crc)
                return data
        if not self._checked:
            self._checked = True
            if self._expected is not None and self._crc != self._expected:
                raise ArchiveCorrupt(f"CRC mismatch (stored {self._expected:08x}, computed {self._crc:08x})")
        return b""


def _empty(_size: int) -> bytes:
    return b""


class _Walker:
    """Which folder holds each member, and the folder decoder currently open."""

    def __init__(self, archive: py7zr.SevenZipFile, files: Sequence[Any]) -> None:
        self._archive = archive
        streams = getattr(getattr(archive, "header", None), "main_streams", None)
        self._folders: list[Any] = list(streams.unpackinfo.folders) if streams is not None else []
        self._positions: list[int] = list(streams.packinfo.packpositions) if streams is not None else []
        index_of = {id(folder): i for i, folder in enumerate(self._folders)}
        self.folder_of: list[int | None] = [None if f.folder is None else index_of[id(f.folder)] for f in files]
        self._packsize: dict[int, int] = {}
        for f, folder in zip(files, self.folder_of, strict=True):
            if folder is not None:
                self._packsize.setdefault(folder, f.compressed or 0)
        self._open: tuple[int, _Folder] | None = None
        self.problem: dict[int, str] = {}
        self._shares_folder = self._next_shares_folder()

    def _next_shares_folder(self) -> list[bool]:
        """For each member: does the next member with data sit in the same folder?"""
        shares = [False] * len(self.folder_of)
        following: int | None = None
        for index in range(len(self.folder_of) - 1, -1, -1):
            folder = self.folder_of[index]
            shares[index] = folder is not None and folder == following
            if folder is not None:
                following = folder
        return shares

    def more_after(self, index: int) -> bool:
        """Must the rest of this member be read past, because a later member shares its folder?"""
        return self._shares_folder[index]

    def folder(self, folder: int) -> _Folder:
        if self._open is None or self._open[0] != folder:
            decompressor = self._folders[folder].get_decompressor(self._packsize[folder])
            start = self._archive.afterheader + self._positions[folder]
            self._open = (folder, _Folder(self._archive.fp, start, decompressor))
        return self._open[1]

    def check(self, folder: int) -> str | None:
        """Why the folder cannot be decoded (encrypted, unsupported, broken), or None."""
        if folder not in self.problem:
            try:
                self.folder(folder)
            except PasswordRequired:
                self.problem[folder] = _ENCRYPTED
            except UnsupportedCompressionMethodError:
                self.problem[folder] = _UNSUPPORTED
            except Exception as exc:  # py7zr on malformed coder data
                self.problem[folder] = f"{_BROKEN}: {describe(exc)}"
            else:
                return None
        return self.problem[folder]


def _open(ctx: Expansion, fp: BinaryIO) -> py7zr.SevenZipFile | None:
    try:
        return py7zr.SevenZipFile(fp, mode="r")
    except PasswordRequired:
        ctx.warn(
            "encrypted-member",
            "7z archive with an encrypted header: member names and contents need a password; nothing examined",
        )
    except Exception as exc:  # py7zr raises assorted types on malformed headers
        ctx.corrupt(f"7z header unreadable ({describe(exc)}); nothing examined")
    return None


def expand_7z(ctx: Expansion, stream: BinaryIO) -> Members:
    fp = seekable_copy(stream)
    archive = _open(ctx, fp)
    if archive is None:
        return
    files: list[Any] = list(getattr(archive, "files", None) or [])
    ctx.budget.check_member_count(len(files))
    ctx.budget.check_declared(sum(f.uncompressed or 0 for f in files))
    walker = _Walker(archive, files)
    for index, entry in enumerate(files):
        ctx.budget.count_member()
        found = _member(ctx, walker, index, entry)
        if found is None:
            continue
        yield found
        folder = walker.folder_of[index]
        if found[1].failure is not None and folder is not None:
            walker.problem[folder] = _BROKEN
            if walker.more_after(index):
                ctx.corrupt(
                    f"solid block damaged at member {display_safe(entry.filename)}; its later members not examined"
                )


def _kind(entry: Any) -> str | None:
    if entry.is_directory:
        return "directory"
    if entry.is_symlink:
        return "symbolic link"
    if entry.is_junction:
        return "junction"
    if entry.is_socket:
        return "socket"
    return None


def _member(ctx: Expansion, walker: _Walker, index: int, entry: Any) -> tuple[Item, MemberStream] | None:
    locator = ctx.locator(entry.filename, DETAIL, inode=index)
    kind = _kind(entry)
    folder = walker.folder_of[index]
    if folder is None:  # no data stream: an empty file, a folder, or a link without target data
        if kind is None:
            return ctx.item(locator, 0, _mtime(entry)), ctx.stream(_empty, locator)
        if kind != "directory":
            ctx.special(locator, kind)
        return None
    problem = walker.check(folder)
    if problem == _ENCRYPTED:
        ctx.encrypted(locator)
        return None
    if problem == _UNSUPPORTED:
        ctx.unsupported(locator, "a 7z method Safenet cannot decode")
        return None
    if problem is not None:
        if problem != _BROKEN:  # a damaged coder: say so for each member it holds
            ctx.corrupt(f"member {display_safe(entry.filename)} not examined ({problem})")
        return None
    reader = _Reader(walker.folder(folder), entry.uncompressed, entry.crc32)
    if kind is not None:
        if kind != "directory":
            ctx.special(locator, kind)
        if walker.more_after(index):
            _skip(ctx, walker, folder, reader, entry)
        return None
    item = ctx.item(locator, entry.uncompressed, _mtime(entry))
    return item, ctx.stream(reader.read, locator, drain=walker.more_after(index))


def _skip(ctx: Expansion, walker: _Walker, folder: int, reader: _Reader, entry: Any) -> None:
    """Read past a member that is not yielded, to keep the folder's decoder in step."""
    try:
        while data := reader.read(CHUNK):
            ctx.budget.charge(len(data))
    except ArchiveCorrupt as exc:
        walker.problem[folder] = _BROKEN
        ctx.corrupt(
            f"solid block damaged at member {display_safe(entry.filename)} ({reason_of(exc)}); "
            "its later members not examined"
        )


def _mtime(entry: Any) -> Timestamp | None:
    ticks = entry.lastwritetime
    return filetime(int(ticks)) if ticks is not None else None


def open_7z_member(container: BinaryIO, layer: Layer, limits: ArchiveLimits) -> BinaryIO:
    """Reopen a member by its index in the file list (``layer.inode``), checking its name."""
    fp = seekable_copy(container)
    label = display_safe(layer.value)
    try:
        archive = py7zr.SevenZipFile(fp, mode="r")
    except Exception as exc:  # PasswordRequired and py7zr's assorted header errors
        raise EvidenceError(f"cannot reopen 7z member {label}: {describe(exc)}") from exc
    files: list[Any] = list(getattr(archive, "files", None) or [])
    index = layer.inode
    if index is None or not 0 <= index < len(files) or files[index].filename != layer.value:
        raise EvidenceError(f"7z member {label} is gone: no such member at index {index}")
    budget = ArchiveBudget(limits, stream_size(fp))
    walker = _Walker(archive, files)
    folder = walker.folder_of[index]
    if folder is None:
        return io.BufferedReader(MemberStream(_empty, label, None, drain=False))
    if (problem := walker.check(folder)) is not None:
        raise EvidenceError(f"7z member {label} cannot be decoded: {problem}")
    for earlier in range(index):  # members before it in the same solid block must be decoded first
        if walker.folder_of[earlier] == folder:
            skipped = _Reader(walker.folder(folder), files[earlier].uncompressed, None)
            while data := skipped.read(CHUNK):
                budget.charge(len(data))
    reader = _Reader(walker.folder(folder), files[index].uncompressed, files[index].crc32)
    return io.BufferedReader(MemberStream(reader.read, label, budget, drain=False))
