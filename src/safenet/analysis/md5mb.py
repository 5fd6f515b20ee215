"""MD5 of many messages at once: in SIMD lanes where ``safenet._md5mb`` was built, else with hashlib.

MD5 is sequential within a message, so hashlib's MD5 runs at one message's pace (about 0.6 GB/s per core);
the C extension ``safenet._md5mb`` hashes 16 messages side by side with AVX-512 (8 with AVX2), which is
several times faster per core when there are many files to hash. It is optional: where it could not be built
(no C compiler when Safenet was installed) or ``SAFENET_MD5=hashlib`` is set, the same API runs on hashlib,
with the same digests.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

Chunk = bytes | bytearray | memoryview


class Lanes(Protocol):
    """One streaming MD5 per lane: lane ``i`` hashes ``chunks[i]`` of every ``update_lanes`` call."""

    @property
    def lanes(self) -> int: ...

    @property
    def isa(self) -> str: ...

    def update_lanes(self, chunks: Sequence[Chunk | None], /) -> None: ...

    def finish(self, lane: int, /) -> bytes: ...

    def reset(self, lane: int, /) -> None: ...


class HashlibLanes:
    """``Lanes`` on hashlib: one hashlib MD5 per lane (the fallback, and the reference in the tests)."""

    def __init__(self, lanes: int) -> None:
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        self._hashers = [hashlib.md5(usedforsecurity=False) for _ in range(lanes)]

    @property
    def lanes(self) -> int:
        return len(self._hashers)

    @property
    def isa(self) -> str:
        return "hashlib"

    def update_lanes(self, chunks: Sequence[Chunk | None], /) -> None:
        if len(chunks) != len(self._hashers):
            raise ValueError(f"update_lanes needs one entry per lane ({len(self._hashers)}), got {len(chunks)}")
        for hasher, chunk in zip(self._hashers, chunks, strict=True):
            if chunk is not None:
                hasher.update(chunk)

    def finish(self, lane: int, /) -> bytes:
        digest = self._hashers[lane].digest()
        self._hashers[lane] = hashlib.md5(usedforsecurity=False)
        return digest

    def reset(self, lane: int, /) -> None:
        self._hashers[lane] = hashlib.md5(usedforsecurity=False)


def _hashlib_many(messages: Sequence[Chunk]) -> list[bytes]:
    return [hashlib.md5(message, usedforsecurity=False).digest() for message in messages]


def _load() -> tuple[str, Callable[[Sequence[Chunk]], list[bytes]], Callable[[int], Lanes]]:
    """The implementation to use: the extension's best on this CPU, or hashlib."""
    if os.environ.get("SAFENET_MD5", "").lower() == "hashlib":
        return "hashlib", _hashlib_many, HashlibLanes
    try:
        from safenet import _md5mb
    except ImportError:  # not built on this machine: hashlib gives the same digests, slower
        return "hashlib", _hashlib_many, HashlibLanes
    return _md5mb.available()[0], _md5mb.md5_many, _md5mb.Md5Lanes


#: The implementation in use: "avx512", "avx2", "scalar" (the extension) or "hashlib".
ISA, _many, _new_lanes = _load()


def new_lanes(lanes: int) -> Lanes:
    """``lanes`` streaming MD5s hashed side by side (more lanes than the CPU's SIMD width take turns)."""
    return _new_lanes(lanes)


def md5_many(messages: Sequence[Chunk]) -> list[bytes]:
    """The MD5 digest of each message, in order; the messages are hashed side by side."""
    return _many(messages)


_arenas = threading.local()  # one arena per worker thread, reused by its batches


def _arena(size: int) -> memoryview:
    arena: memoryview | None = getattr(_arenas, "arena", None)
    if arena is None or len(arena) < size:
        arena = _arenas.arena = memoryview(bytearray(size))
    return arena


class Md5Batch:
    """The MD5s of a batch of items' bytes, computed together when the batch ends, in SIMD lanes.

    A worker examining a batch of small files reads each file's bytes straight into ``room`` (free bytes of the
    thread's arena) instead of feeding a hashlib MD5, and ``defer`` s the digest; ``finish`` then hashes every
    file at once and fills in each file's ``digests["md5"]``. The arena is one buffer per thread, reused: the
    bytes are read into it once and never copied (a fresh buffer per file, or per batch, would cost page
    faults; a copy costs a pass over the bytes). Only what fits is deferred (an item of at most ``max_item``
    bytes by its listing, at most ``max_total`` bytes per batch); the caller hashes the rest as before. Nothing
    may read a deferred digest before ``finish``: the caller defers only where no work before the batch's end
    looks at digests (no perceptual or video sets to settle). One batch at a time per thread.
    """

    def __init__(self, max_item: int = 4 << 20, max_total: int = 32 << 20) -> None:
        self._max_item = max_item
        self._arena = _arena(max_total)[:max_total]  # the thread's arena may be larger: hold to max_total
        self._used = 0
        self._pending: list[tuple[dict[str, bytes], int, int]] = []

    def room(self, size: int | None) -> memoryview | None:
        """Where to read an item listed at ``size`` bytes (a read capped at that size) so that its MD5 waits for
        the batch: ``size`` free bytes of the arena, or None when the item is not deferred. The bytes read there
        are the item's once ``defer`` is called; until then the next ``room`` hands out the same bytes."""
        if size is None or size > self._max_item or self._used + size > len(self._arena):
            return None
        return self._arena[self._used : self._used + size]

    def defer(self, digests: dict[str, bytes], size: int) -> None:
        """``digests["md5"]`` is the MD5 of the first ``size`` bytes of the last ``room``, from ``finish`` on."""
        if size < 0 or self._used + size > len(self._arena):
            raise ValueError(f"{size} bytes do not fit the {len(self._arena) - self._used} left in the batch")
        self._pending.append((digests, self._used, size))
        self._used += size

    def finish(self) -> None:
        """Hash every deferred item, side by side, and fill in its digest; the arena is free again."""
        pending, self._pending, self._used = self._pending, [], 0
        arena = self._arena
        views = [arena[start : start + size] for _, start, size in pending]
        for (digests, _, _), digest in zip(pending, md5_many(views), strict=True):
            digests["md5"] = digest
