"""A region to carve (unallocated space, file slack, volume slack): byte runs of a file system read end
to end, with each region offset mapped back to where it lies on the disk.

The runs are held in typed arrays (24 bytes a run), so a file-slack region of a volume with millions of
files stays small, and an offset is located with one ``bisect``; a file of a few runs costs little to open.
"""

from __future__ import annotations

import bisect
import io
import itertools
from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

from safenet.evidence.streams import SizedReader

_BUF = 64 << 10

#: Names of the region items of a file system (PATH-layer values stored in case files: never rename).
UNALLOCATED = "$Unallocated"
FILE_SLACK = "$FileSlack"
VOLUME_SLACK = "$VolumeSlack"
REGION_NAMES = (UNALLOCATED, FILE_SLACK, VOLUME_SLACK)
REGION_NOTES = {
    UNALLOCATED: "unallocated space: {runs} run(s) of clusters free in the {fs} allocation map, less those of "
    "deleted files listed",
    FILE_SLACK: "file slack: {runs} run(s) between a live file's end (rounded up to its sector) and the end of its "
    "last cluster",
    VOLUME_SLACK: "volume slack: the bytes between the end of the {fs} file system and the end of its volume",
}


class Region(NamedTuple):
    """One region of a file system to carve: its item name, its byte runs in the file system, a note."""

    name: str
    runs: list[tuple[int, int]]
    note: str


#: Reads bytes at a file-system offset into a buffer and says how many (0: nothing there, e.g. past the image end).
Fill = Callable[[memoryview, int], int]


class RunsRaw(SizedReader):
    """Byte runs of a file system read end to end: a region to carve, or a file read straight from its runs
    (``tsk.TskFileSystem.open``). Offsets in the stream are mapped to file-system offsets; ``size`` may end
    the stream inside its last run (a file's end)."""

    def __init__(self, fill: Fill, runs: list[tuple[int, int]], size: int | None = None) -> None:
        self._fs_offsets = array("q", (offset for offset, _ in runs))
        self._lengths = array("q", (length for _, length in runs))
        self._starts = array("q", itertools.accumulate(self._lengths, initial=0))  # one more: the total at the end
        total = self._starts[-1]
        super().__init__(total if size is None else min(size, total))
        self._fill = fill

    def _index(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset, 0, len(self._lengths)) - 1

    def fs_offset(self, offset: int) -> int | None:
        """The file-system offset of a stream offset (None past the end)."""
        if not 0 <= offset < self._size:
            return None
        i = self._index(offset)
        return self._fs_offsets[i] + offset - self._starts[i]

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        i = self._index(self._pos) if self._pos < self._size else 0
        while done < len(view) and self._pos < self._size:
            while self._pos >= self._starts[i + 1]:
                i += 1  # zero-length runs never occur, but a run is never read past its end
            within = self._pos - self._starts[i]
            want = min(len(view) - done, self._lengths[i] - within, self._size - self._pos)
            got = self._fill(view[done : done + want], self._fs_offsets[i] + within)
            if got <= 0:
                if done:
                    break
                raise OSError(f"read failed at offset {self._pos}: nothing to read there (the image ends before it)")
            done += got
            self._pos += got
            if got < want:
                break
        return done


class RegionReader(io.BufferedReader):
    """A buffered region that can say where a region offset lies on the disk."""

    def __init__(self, raw: RunsRaw, base: int | None) -> None:
        super().__init__(raw, buffer_size=_BUF)
        self._region = raw
        self._base = base

    def disk_location(self, offset: int) -> str:
        """Where region offset ``offset`` is, in words for a carve note."""
        fs_offset = self._region.fs_offset(offset)
        if fs_offset is None:
            return f"region offset {offset}"
        if self._base is None:
            return f"file-system offset {fs_offset}"
        return f"disk offset {self._base + fs_offset} (file-system offset {fs_offset})"
