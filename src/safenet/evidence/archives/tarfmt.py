"""Tar archives, and gzip/bzip2/xz streams (which hold either a tar or one compressed file).

Everything is read as a stream, once, in order: a compressed tar cannot be sought cheaply, and a
stream read never holds more than a chunk. The decompressed bytes are counted where they are produced,
so a gzip bomb is stopped however the tar inside it is laid out.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, cast

from safenet.evidence.archives.common import (
    DATA_ERRORS,
    ArchiveBudget,
    ArchiveCorrupt,
    ArchiveLimits,
    Expansion,
    Members,
    MemberStream,
    describe,
    stream_size,
)
from safenet.evidence.archives.fields import unix_time
from safenet.evidence.locator import Layer, display_safe
from safenet.evidence.model import EvidenceError, Item
from safenet.reasons import reason_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Decompressing readers over the caller's stream; they own nothing the caller does not close.
OPENERS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    "gzip": lambda fp: cast(BinaryIO, gzip.GzipFile(fileobj=fp, mode="rb")),
    "bzip2": lambda fp: cast(BinaryIO, bz2.BZ2File(fp)),
    "xz": lambda fp: cast(BinaryIO, lzma.LZMAFile(fp)),  # noqa: SIM115
}
_SHORT = {"gzip": "gz", "bzip2": "bz2", "xz": "xz"}
_SUFFIXES = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz"), "xz": (".xz",)}
_TAR_MAGIC_AT = 257
_HEAD = 512
_EOF_HEADER = tarfile.EOFHeaderError  # type: ignore[attr-defined]  # typeshed lists only the base class
_SPECIAL = (
    (tarfile.TarInfo.issym, "symbolic link"),
    (tarfile.TarInfo.islnk, "hard link"),
    (tarfile.TarInfo.ischr, "character device"),
    (tarfile.TarInfo.isblk, "block device"),
    (tarfile.TarInfo.isfifo, "fifo"),
)


class _Source(io.RawIOBase):
    """An archive's decompressed byte stream, counted against its budget as it is produced.

    A decoding error ends the stream (recorded in ``error``) instead of being raised, so the bytes
    decoded before it still reach tarfile, which reads ahead: members before the damage stand.
    """

    def __init__(self, inner: BinaryIO, budget: ArchiveBudget) -> None:
        super().__init__()
        self.inner = inner
        self.error: str | None = None
        self._budget = budget
        self._head = b""

    def readable(self) -> bool:
        return True

    def peek_head(self, size: int) -> bytes:
        """Read and keep the first bytes, so the content can be sniffed without losing them."""
        while len(self._head) < size:
            more = self._read(size - len(self._head))
            if not more:
                break
            self._head += more
        return self._head

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            data, self._head = self._head[: len(view)], self._head[len(view) :]
        else:
            data = self._read(len(view))
        view[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        if self.error is not None:
            return b""
        try:
            data = self.inner.read(size)
        except DATA_ERRORS as exc:
            self.error = describe(exc)
            return b""
        self._budget.charge(len(data))
        return data

    def pull(self, buffered: BinaryIO) -> Callable[[int], bytes]:
        """A member pull over the buffered stream that raises at the end if decoding failed."""

        def pull(size: int) -> bytes:
            data = buffered.read(size)
            if not data and self.error is not None:
                raise ArchiveCorrupt(self.error)
            return data

        return pull


def expand_tar(ctx: Expansion, stream: BinaryIO) -> Members:
    yield from _tar_members(ctx, _Source(stream, ctx.budget), "tar")


def expand_compressed(ctx: Expansion, stream: BinaryIO, filetype: str) -> Members:
    """A gzip/bzip2/xz stream: a tar inside is expanded as tar, anything else is one member."""
    source = _Source(OPENERS[filetype](stream), ctx.budget)
    head = source.peek_head(_HEAD)
    if head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar":
        yield from _tar_members(ctx, source, f"tar.{_SHORT[filetype]}")
        return
    if not head and source.error is not None:
        ctx.corrupt(f"{filetype} stream unreadable ({source.error}); nothing examined")
        return
    locator = ctx.locator(decompressed_name(ctx.parent.name, filetype), filetype)
    mtime = getattr(source.inner, "mtime", None)  # gzip headers carry one (0: not recorded)
    item = ctx.item(locator, None, unix_time(mtime, 1.0) if mtime else None)
    yield item, ctx.stream(source.pull(io.BufferedReader(source)), locator, charge=False)


def decompressed_name(name: str, filetype: str) -> str:
    """``photo.jpg.gz`` holds ``photo.jpg``; a name without the usual suffix gets ``.decompressed``."""
    for suffix in _SUFFIXES[filetype]:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return f"{name}.decompressed"


def _watching_tarinfo() -> tuple[type[tarfile.TarInfo], list[str]]:
    """A TarInfo class that remembers damaged headers, which tarfile otherwise takes as the end."""
    problems: list[str] = []

    class Watched(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Watched:
            try:
                return super().fromtarfile(tarfile_)
            except tarfile.HeaderError as exc:
                if not isinstance(exc, _EOF_HEADER):
                    problems.append(reason_of(exc))
                raise

    return Watched, problems


def _open_stream(fileobj: BinaryIO, tarinfo: type[tarfile.TarInfo] = tarfile.TarInfo) -> tarfile.TarFile:
    return tarfile.open(fileobj=fileobj, mode="r|", encoding="utf-8", errors="surrogateescape", tarinfo=tarinfo)


def _tar_members(ctx: Expansion, source: _Source, detail: str) -> Members:
    watched, problems = _watching_tarinfo()
    try:
        archive = _open_stream(io.BufferedReader(source), watched)
    except DATA_ERRORS as exc:
        ctx.corrupt(f"not a readable tar ({source.error or describe(exc)}); nothing examined")
        return
    while True:
        try:
            member = archive.next()
        except DATA_ERRORS as exc:
            problems.append(describe(exc))
            break
        if member is None:
            break
        _forget_members(archive)
        ctx.budget.count_member()
        found = _tar_member(ctx, archive, member, detail)
        if found is not None:
            yield found
            if found[1].failure is not None:
                break  # the stream is broken: tarfile cannot find the next header
    if source.error is not None or problems:
        why = source.error or display_safe(problems[-1])
        ctx.corrupt(f"{detail} damaged after {ctx.budget.members} members ({why}); the rest not examined")


def _forget_members(archive: tarfile.TarFile) -> None:
    """tarfile keeps every TarInfo it reads; in stream mode nothing needs them, and millions would fill memory."""
    archive.members.clear()  # type: ignore[attr-defined]  # undocumented in typeshed, stable in tarfile


def _tar_member(
    ctx: Expansion,
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    detail: str,
) -> tuple[Item, MemberStream] | None:
    if member.isdir():
        return None
    locator = ctx.locator(member.name, detail, offset=member.offset)
    kind = _special_kind(member)
    data = archive.extractfile(member) if kind is None else None
    if data is None:
        ctx.special(locator, kind or "non-file")
        return None
    precision = 1e-6 if "mtime" in member.pax_headers else 1.0
    item = ctx.item(locator, member.size, unix_time(member.mtime, precision), separators="/")
    # A sparse member's holes cost nothing to store: count what it produces, not just what was read.
    return item, ctx.stream(data.read, locator, charge=member.issparse())


def _special_kind(member: tarfile.TarInfo) -> str | None:
    return next((name for test, name in _SPECIAL if test(member)), None)


def open_tar_member(container: BinaryIO, layer: Layer, limits: ArchiveLimits) -> BinaryIO:
    """Reopen a tar member (at its header offset) or a compressed stream's content."""
    detail = layer.detail or ""
    budget = ArchiveBudget(limits, stream_size(container) if container.seekable() else None)
    label = display_safe(layer.value)
    try:
        if detail in OPENERS:
            source = _Source(OPENERS[detail](container), budget)
            return io.BufferedReader(MemberStream(source.pull(io.BufferedReader(source)), label, None, drain=False))
        if detail == "tar" and container.seekable():
            return _tar_at(container, layer, budget)
        filetype = next((name for name, short in _SHORT.items() if detail == f"tar.{short}"), None)
        inner = OPENERS[filetype](container) if filetype is not None else container
        return _tar_scan(io.BufferedReader(_Source(inner, budget)), layer, budget)
    except DATA_ERRORS as exc:
        raise EvidenceError(f"cannot reopen archive member {label}: {describe(exc)}") from exc


def _tar_at(container: BinaryIO, layer: Layer, budget: ArchiveBudget) -> BinaryIO:
    """A seekable plain tar: read the member's header where the locator says it is."""
    container.seek(0)
    archive = tarfile.TarFile(fileobj=container, mode="r", encoding="utf-8", errors="surrogateescape")
    container.seek(layer.offset or 0)
    return _member_stream(archive, tarfile.TarInfo.fromtarfile(archive), layer, budget)


def _tar_scan(fileobj: BinaryIO, layer: Layer, budget: ArchiveBudget) -> BinaryIO:
    """A compressed tar: read through it to the member's header offset."""
    archive = _open_stream(fileobj)
    while (member := archive.next()) is not None:
        _forget_members(archive)
        if member.offset == layer.offset:
            return _member_stream(archive, member, layer, budget)
        if layer.offset is not None and member.offset > layer.offset:
            break
    raise EvidenceError(f"tar member {display_safe(layer.value)} is gone: no member at offset {layer.offset}")


def _member_stream(archive: tarfile.TarFile, member: tarfile.TarInfo, layer: Layer, budget: ArchiveBudget) -> BinaryIO:
    label = display_safe(layer.value)
    same = member.name == layer.value and member.offset == layer.offset
    is_file = not member.isdir() and _special_kind(member) is None
    data = archive.extractfile(member) if same and is_file else None
    if data is None:
        raise EvidenceError(f"tar member {label} is gone: no such file at offset {layer.offset}")
    stream = MemberStream(data.read, label, budget if member.issparse() else None, drain=False)
    return io.BufferedReader(stream)
