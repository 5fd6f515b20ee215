"""A region to carve (unallocated space, file slack, volume slack): byte runs of a file system read end
to end, with each region offset mapped back to where it lies on the disk.

The runs are held in numpy arrays (24 bytes a run), so a file-slack region of a volume with millions of
files stays small, and a region offset is located with one ``searchsorted``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

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


class RegionRaw(SizedReader):
    """Byte runs of a file system read end to end: region offsets mapped to file-system offsets."""

    def __init__(self, read: Callable[[int, int], bytes], runs: list[tuple[int, int]]) -> None:
        table = np.array(runs, dtype=np.int64).reshape(-1, 2)
        self._fs_offsets = table[:, 0].copy()
        self._lengths = table[:, 1].copy()
        ends = np.cumsum(self._lengths)
        self._starts = ends - self._lengths
        super().__init__(int(ends[-1]) if len(ends) else 0)
        self._read = read

    def _index(self, offset: int) -> int:
        return int(np.searchsorted(self._starts, offset, side="right")) - 1

    def fs_offset(self, offset: int) -> int | None:
        """The file-system offset of a region offset (None past the end)."""
        if not 0 <= offset < self._size:
            return None
        i = self._index(offset)
        return int(self._fs_offsets[i]) + offset - int(self._starts[i])

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        i = self._index(self._pos) if self._pos < self._size else 0
        while done < len(view) and self._pos < self._size:
            while self._pos >= int(self._starts[i]) + int(self._lengths[i]):
                i += 1  # zero-length runs never occur, but a run is never read past its end
            within = self._pos - int(self._starts[i])
            want = min(len(view) - done, int(self._lengths[i]) - within)
            data = self._read(int(self._fs_offsets[i]) + within, want)
            if not data:
                if done:
                    break
                raise OSError(f"read failed at region offset {self._pos}")
            view[done : done + len(data)] = data
            done += len(data)
            self._pos += len(data)
            if len(data) < want:
                break
        return done


class RegionReader(io.BufferedReader):
    """A buffered region that can say where a region offset lies on the disk."""

    def __init__(self, raw: RegionRaw, base: int | None) -> None:
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
