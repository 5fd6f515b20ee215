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


class Held:
    """One item's bytes copied into its batch's arena as they are read (``Md5Batch.collector``)."""

    __slots__ = ("_arena", "_end", "_overflow", "_pos", "_start")

    def __init__(self, arena: memoryview, start: int, size: int) -> None:
        self._arena, self._start, self._pos, self._end = arena, start, start, start + size
        self._overflow: hashlib._Hash | None = None

    def append(self, chunk: Chunk) -> None:
        """Copy ``chunk`` into the arena (the chunk itself is not kept: its memory is reused at once)."""
        size = len(chunk)
        if self._overflow is None and self._pos + size <= self._end:
            self._arena[self._pos : self._pos + size] = chunk
            self._pos += size
            return
        if self._overflow is None:  # more bytes than reserved (never from a capped read): hashlib from here
            self._overflow = hashlib.md5(self.view(), usedforsecurity=False)
        self._overflow.update(chunk)

    def view(self) -> memoryview:
        return self._arena[self._start : self._pos]

    def digest(self) -> bytes | None:
        """The MD5 when it was computed already (an overflow), else None: the batch computes it."""
        return self._overflow.digest() if self._overflow is not None else None


_arenas = threading.local()  # one arena per worker thread, reused by its batches


def _arena(size: int) -> memoryview:
    arena: memoryview | None = getattr(_arenas, "arena", None)
    if arena is None or len(arena) < size:
        arena = _arenas.arena = memoryview(bytearray(size))
    return arena


class Md5Batch:
    """The MD5s of a batch of items' bytes, computed together when the batch ends, in SIMD lanes.

    A worker examining a batch of small files copies each file's chunks, as it reads them, into ``collector``
    (a ``Held`` in the thread's arena) instead of feeding a hashlib MD5, and ``defer`` s the digest; ``finish``
    then hashes every file at once and fills in each file's ``digests["md5"]``. The arena is one buffer per
    thread, reused: holding the chunks themselves until the batch ends would keep every batch's memory fresh
    from the kernel (page faults cost more than the copy). Only what fits is deferred (an item of at most
    ``max_item`` bytes by its listing, at most ``max_total`` bytes per batch); the caller hashes the rest as
    before. Nothing may read a deferred digest before ``finish``: the caller defers only where no work before
    the batch's end looks at digests (no perceptual or video sets to settle). One batch at a time per thread.
    """

    def __init__(self, max_item: int = 4 << 20, max_total: int = 32 << 20) -> None:
        self._max_item = max_item
        self._arena = _arena(max_total)
        self._used = 0
        self._pending: list[tuple[dict[str, bytes], Held]] = []

    def collector(self, size: int | None) -> Held | None:
        """Where to copy an item's chunks, or None when the item (listed ``size``) is not deferred."""
        if size is None or size > self._max_item or self._used + size > len(self._arena):
            return None
        held = Held(self._arena, self._used, size)
        self._used += size
        return held

    def defer(self, digests: dict[str, bytes], held: Held) -> None:
        """``digests["md5"]`` is the MD5 of the bytes ``held`` took, from ``finish`` on."""
        self._pending.append((digests, held))

    def finish(self) -> None:
        """Hash every deferred item, side by side, and fill in its digest; the arena is free again."""
        pending, self._pending, self._used = self._pending, [], 0
        lanes = [(digests, held) for digests, held in pending if held.digest() is None]
        for digests, held in pending:
            if (done := held.digest()) is not None:
                digests["md5"] = done
        for (digests, _), digest in zip(lanes, md5_many([held.view() for _, held in lanes]), strict=True):
            digests["md5"] = digest
