"""What the image back-end asks of a file-system reader, whichever library reads it.

Two readers keep this one shape: ``tsk.TskFileSystem`` (The Sleuth Kit: deleted files, streams, regions to
carve, plain files read straight from their runs) and ``native.NativeFileSystem`` (dfVFS's libyal readers
for APFS and XFS: live files only). A reader that lacks a capability says so in its own answer (a
"deleted-not-listed" or "carve-not-supported" warning, no direct extents) instead of the back-end asking
which reader it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol

from safenet.evidence.image.region import Region
from safenet.evidence.locator import Layer, Locator
from safenet.evidence.model import Item, WarningSink

#: a file's size and its byte runs, when it can be read straight from them
Extent = tuple[int, tuple[tuple[int, int], ...]]
#: (metadata address, stream name) -> its Extent
Extents = dict[tuple[int, str], Extent]


class FileSystemReader(Protocol):
    """One opened file system of a volume (one per thread)."""

    name: str  # the FILESYSTEM layer's detail ("NTFS", "ext4", "APFS")
    direct: Extents  # filled by items(): files the back-end's workers may read straight from their runs

    def root_problem(self) -> str:
        """Why the root folder cannot be read ("" when it can)."""
        ...

    def items(self, base: Locator, warn: WarningSink, *, slack: bool = True, metadata: bool = False) -> Iterator[Item]:
        """Every file the reader lists (``slack``/``metadata``: what the full profile adds, where it can)."""
        ...

    def regions(self, base: Locator, warn: WarningSink) -> list[Region]:
        """The regions to carve, after :meth:`items`; a reader that cannot find them warns and gives none."""
        ...

    def region_runs(self, name: str) -> list[tuple[int, int]]:
        """Byte runs of one region (raises EvidenceError where the reader has no regions)."""
        ...

    def open_region(self, runs: list[tuple[int, int]], base: int | None) -> BinaryIO:
        """A seekable stream of a region's runs end to end."""
        ...

    def open(self, path_layer: Layer, stream_name: str | None, extent: Extent | None = None) -> BinaryIO:
        """A file's stream (``extent``: its entry in :attr:`direct`, when it has one)."""
        ...
