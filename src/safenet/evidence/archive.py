"""Expanding archives found in evidence: zip, tar, gzip, bzip2, xz and 7z.

The engine calls :func:`expand` on an item whose signature says it is an archive and examines each
member from the stream it is handed, as it would a file. Members are never written to disk by name
(the name is evidence, not a path); scratch copies go to tempfile's default folder, never beside the
evidence. Everything an archive can do wrong (lie about sizes, hide behind passwords, climb out of
folders, end early, expand without end) becomes a warning with a locator, and the run goes on.

Member layers: ``value`` is the name as stored (undecodable bytes as surrogate escapes), ``detail`` the
format ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "gzip", "bzip2", "xz", "7z"), ``offset`` the
member's header offset (zip local header; tar header, within the decompressed stream for tar.gz).
7z has no per-member header, so its layer holds the member's index in the archive's file list in
``inode`` (the nearest field Layer has: an entry number in a directory table).

Depth: the engine asks :func:`depth_allowed` before expanding an item; :func:`expand` checks again
and records an "archive-depth" warning rather than going deeper than ``ArchiveLimits.max_depth``.
Nesting: the limits hold per archive and, through :class:`Nesting`, for everything nested in the
outermost archive together (bytes produced, members, ratio against the outermost compressed size), so a
small zip of zips of bombs each under the limits still stops with one "archive-bomb" warning.

Warning codes are listed in :data:`WARNING_CODES`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import BinaryIO

from safenet.evidence.archives.common import (
    ArchiveBudget,
    ArchiveCorrupt,
    ArchiveLimitExceeded,
    ArchiveLimits,
    Expansion,
    Members,
    deliver,
    spool,
    stream_size,
)
from safenet.evidence.archives.tarfmt import OPENERS, expand_compressed, expand_tar, open_tar_member
from safenet.evidence.archives.zipfmt import expand_zip, open_zip_member
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, WarningSink

__all__ = [
    "EXPANDABLE",
    "WARNING_CODES",
    "ArchiveCorrupt",
    "ArchiveLimitExceeded",
    "ArchiveLimits",
    "Nesting",
    "depth_allowed",
    "expand",
    "open_member",
    "spool",
]

EXPANDABLE: frozenset[str] = frozenset({"zip", "tar", "gzip", "bzip2", "xz", "7z"})

WARNING_CODES: dict[str, str] = {
    "unsupported-archive": "an archive type Safenet does not expand (e.g. rar); its contents were not examined",
    "archive-depth": "archive nested deeper than the depth limit; its contents were not examined",
    "archive-bomb": "an archive limit (size, ratio, member count, overlapping entries) was crossed, by one "
    "archive or by the archives nested in the outermost one together; "
    "expansion stopped, the rest was not examined",
    "archive-corrupt": "archive truncated or damaged; members before the damage stand, the rest was not examined",
    "encrypted-member": "member (or a whole 7z header) is encrypted; not examined, needs a password",
    "unsupported-member": "member compressed with a method Safenet cannot decode; not examined",
    "special-member": "symbolic/hard link, device, fifo or socket entry; not examined",
    "suspicious-member-name": "member name is absolute, climbs out of its folder (..), has a drive letter, "
    "control or bidi characters; examined, the name is recorded as evidence",
}


def _expand_7z(ctx: Expansion, stream: BinaryIO) -> Members:
    from safenet.evidence.archives.sevenzip import expand_7z  # py7zr and its codecs: imported when a 7z is met

    return expand_7z(ctx, stream)


def _open_7z_member(container: BinaryIO, layer: Layer, limits: ArchiveLimits) -> BinaryIO:
    from safenet.evidence.archives.sevenzip import open_7z_member

    return open_7z_member(container, layer, limits)


_EXPANDERS: dict[str, Callable[[Expansion, BinaryIO], Members]] = {
    "zip": expand_zip,
    "tar": expand_tar,
    "7z": _expand_7z,
    **{name: partial(expand_compressed, filetype=name) for name in OPENERS},
}


class Nesting:
    """The archives being expanded while one top-level item is examined, outermost first.

    The examiner of one item keeps one (never shared between threads); :func:`expand` enters each archive
    while its members are examined, so an archive found inside another is charged to the outermost's budget.
    """

    def __init__(self) -> None:
        self._open: list[ArchiveBudget] = []

    @property
    def outermost(self) -> ArchiveBudget | None:
        return self._open[0] if self._open else None

    @contextmanager
    def entered(self, budget: ArchiveBudget) -> Iterator[ArchiveBudget]:
        self._open.append(budget)
        try:
            yield budget
        finally:
            self._open.pop()


def depth_allowed(item: Item, limits: ArchiveLimits) -> bool:
    """May ``item`` be expanded? Its members would sit one archive level deeper than it does."""
    return item.locator.archive_depth < limits.max_depth


def expand(
    parent: Item,
    filetype: str,
    open_parent: Callable[[], BinaryIO],
    limits: ArchiveLimits,
    warn: WarningSink,
    nesting: Nesting | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each member of an archive with a stream of its decompressed bytes.

    ``nesting``: the examiner's archives being expanded around this one (their outermost budget is charged
    too); None treats this archive as outermost.

    A stream is valid until the generator is advanced. Bad data never raises out of here: it ends the
    expansion with a warning. A member stream's ``read`` raises ArchiveLimitExceeded when a limit is
    crossed (the expansion then ends with one "archive-bomb" warning) and ArchiveCorrupt when the
    member's data cannot be decoded (recorded as "archive-corrupt" when the generator moves on).
    """
    if filetype not in EXPANDABLE:
        message = f"{display_safe(filetype)} archives are not expanded; contents not examined"
        warn(EvidenceWarning("unsupported-archive", message, parent.locator))
        return
    if not depth_allowed(parent, limits):
        message = f"archive at nesting depth {parent.locator.archive_depth} (limit {limits.max_depth}); not expanded"
        warn(EvidenceWarning("archive-depth", message, parent.locator))
        return
    with open_parent() as stream:
        size = stream_size(stream) if stream.seekable() else parent.size
        nesting = nesting if nesting is not None else Nesting()
        with nesting.entered(ArchiveBudget(limits, size, nesting.outermost)) as budget:
            ctx = Expansion(parent, limits, warn, budget)
            yield from deliver(ctx, _EXPANDERS[filetype](ctx, stream))


def open_member(container: BinaryIO, layer: Layer, limits: ArchiveLimits | None = None) -> BinaryIO:
    """Reopen one member from its locator layer and a stream of its container (``safenet verify``).

    The same limits apply as when it was found. Raises EvidenceError when the member is gone or
    cannot be decoded.
    """
    if layer.kind is not LayerKind.ARCHIVE_MEMBER:
        raise EvidenceError(f"not an archive-member layer: {layer.kind.value}")
    limits = limits if limits is not None else ArchiveLimits()
    detail = layer.detail or ""
    if detail == "zip":
        return open_zip_member(container, layer, limits)
    if detail == "7z":
        return _open_7z_member(container, layer, limits)
    if detail in OPENERS or detail == "tar" or detail.startswith("tar."):
        return open_tar_member(container, layer, limits)
    raise EvidenceError(
        f"cannot reopen archive member {display_safe(layer.value)}: unknown format {display_safe(detail)!r}"
    )
