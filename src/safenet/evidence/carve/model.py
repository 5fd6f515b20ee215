"""The carver's vocabulary: what a validator is handed (a Source) and what it answers (a Carve).

Validators read through :class:`Source`, which serves reads from the scan window already in memory
and falls back to the stream only for files that run past it, so validating a candidate does not
re-read the disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class Carve:
    """One file found in a region: its byte range and, when it is not whole, why not."""

    offset: int
    length: int
    filetype: str  # an analysis.filetype name: "jpeg", "png", "gif", "bmp", "webp", "tiff", "mp4", "mov", "avi"
    partial: str | None = None  # None: structurally whole; else what failed (fragmented, truncated, capped)

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class CarveSpan:
    """The part of a region one task carves when a large region is split into byte ranges (``engine.split``).

    Only file starts in [start, stop) are carved; a file that runs past ``stop`` is still validated and carved
    whole (its reads go on past ``stop``), so a file crossing a boundary is carved once, by the range holding
    its first byte. ``skip_until`` and ``carved_before`` are the scan's state at ``start`` when the ranges before
    were carved first (a whole file found there covers the region up to ``skip_until``; ``carved_before`` count
    towards ``max_carves``); 0 when not known: the coordinator then checks the range's carves against the true
    state and has the range carved again where they differ.
    """

    start: int
    stop: int
    skip_until: int = 0
    carved_before: int = 0


@dataclass(frozen=True, slots=True)
class CarveLimits:
    """How much one region may cost. Caps bound the work an endless or lying file can cause."""

    window: int = 16 * MIB  # bytes searched per bytes.find pass
    alignment: int = 1  # 1: a file may start at any byte; 512/4096: only at sector/cluster starts (faster)
    max_carves: int = 1_000_000  # carves from one region before the scan stops with a warning
    #: Largest file of unknown type carved inside (full profile): page and hibernation files, databases and
    #: other containers hide whole pictures; past this size the file is hashed but not searched inside.
    max_in_file: int = 16 * 1024 * MIB
    caps: dict[str, int] = field(
        default_factory=lambda: {
            "jpeg": 64 * MIB,
            "png": 128 * MIB,
            "gif": 64 * MIB,
            "bmp": 256 * MIB,
            "webp": 64 * MIB,
            "tiff": 512 * MIB,
            "mp4": 4096 * MIB,
            "mov": 4096 * MIB,
            "avi": 4096 * MIB,
        }
    )

    #: None: the whole region; else the byte range of it that this scan carves (regions only, never in-file)
    span: CarveSpan | None = None

    def cap(self, filetype: str) -> int:
        return self.caps.get(filetype, 64 * MIB)


class Source:
    """Random reads over a seekable region of ``size`` bytes, served from the current window when possible."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self.size = size
        self._base = 0
        self._buf = b""

    def load(self, offset: int, length: int) -> bytes:
        """Read and keep the window [offset, offset+length) (clipped to the region)."""
        self._base = offset
        self._buf = self._raw(offset, length)
        return self._buf

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer only at the end of the region)."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        rel = offset - self._base
        if rel >= 0 and rel + length <= len(self._buf):
            return self._buf[rel : rel + length]
        return self._raw(offset, length)

    def _raw(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        self._stream.seek(offset)
        parts: list[bytes] = []
        while length > 0:
            block = self._stream.read(length)
            if not block:
                break
            parts.append(block)
            length -= len(block)
        return b"".join(parts)


Validator = Callable[[Source, int, int], Carve | None]
"""``validator(source, start, cap)``: a Carve (whole or partial) for a real file, None for a decoy."""
