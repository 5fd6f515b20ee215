"""Reading scattered 4 KiB blocks of a device or image, several at once, a round at a time.

A raw image or a device is read with ``queue_depth`` positional reads in flight (an SSD rewards 16–32, a disk a
few) by the C extension ``safenet._blockio``: POSIX threads that never take the interpreter lock and go from one
submitted round to the next without a pause, so the device sees the same depth across rounds. Where the extension
was not built, ``os.pread`` from a pool of Python threads reads instead (each read hands the interpreter lock back
and forth, and each round ends before the next starts: 0.7–0.8 of fio's psync IOPS at depth 16 here). Other image
formats (E01, VMDK ...) are read through dfVFS, one read at a time. Evidence is opened read-only and, where the
system allows, without updating its access time.

A reader's ``submit(offsets, names)`` starts reading a round and returns at once; the round's ``result()`` gives
its blocks' hashes by each named block hash, in the order asked. The sampler submits the next round before it
waits for the current one. Where the C reader was built with xxHash's header, its threads hash each block with
XXH3-128 as they read it (nothing per block is left for Python); otherwise the blocks are hashed in Python.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from safenet.hashsets.blocks import BLOCK, BLOCK_HASHES, HASH_DTYPE, XXH3

_CHUNK = 8  # offsets a Python reader thread takes at a time: small, so no thread waits long for the last ones

Block = bytes | memoryview  # a short block (the end of the media) is shorter than BLOCK
#: block hash name -> the blocks' hashes as (high halves, low halves), uint64 arrays in the order read
Hashed = dict[str, tuple[np.ndarray, np.ndarray]]


def hash_all(blocks: Sequence[Block], names: Sequence[str]) -> Hashed:
    """Each block hashed with each named block hash; a short read (the end of the media) is (0, 0): it never
    matches, as no set holds a partial block."""
    hashed: Hashed = {}
    for name in names:
        pairs = [BLOCK_HASHES[name](b) if len(b) == BLOCK else (0, 0) for b in blocks]
        hashed[name] = (
            np.fromiter((high for high, _ in pairs), dtype=HASH_DTYPE, count=len(pairs)),
            np.fromiter((low for _, low in pairs), dtype=HASH_DTYPE, count=len(pairs)),
        )
    return hashed


class Pending(Protocol):
    def result(self) -> Hashed: ...


class BlockReader(Protocol):
    size: int

    def submit(self, offsets: Sequence[int], names: Sequence[str]) -> Pending: ...

    def close(self) -> None: ...


class _OneThread:
    """Rounds read and hashed one after another by a thread of the reader's own (readers without their own
    queue)."""

    def __init__(self, read: Callable[[Sequence[int]], Sequence[Block]]) -> None:
        self._read = read
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, offsets: Sequence[int], names: Sequence[str]) -> Pending:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-ahead")
        return self._pool.submit(lambda: hash_all(self._read(list(offsets)), names))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _native() -> Any | None:
    """The C extension's module, or None where it was not built (no C compiler at install)."""
    try:
        from safenet import _blockio
    except ImportError:
        return None
    return _blockio


class _NativeRound:
    """A round queued in the C reader; it holds its buffers until read. With ``xxh3`` the reader threads hash the
    blocks with XXH3-128 as they read them."""

    def __init__(self, reader: Any, offsets: Sequence[int], names: Sequence[str], xxh3: bool) -> None:
        self._offsets = list(offsets)
        self._names = tuple(names)
        count = len(self._offsets)
        self._out = bytearray(count * BLOCK)
        self._lengths = array("i", bytes(4 * count))
        # the reader threads' XXH3 halves, zero for a short or failed block; only where they hash
        hashing = xxh3 and XXH3 in self._names
        self._halves = (np.zeros(count, dtype=HASH_DTYPE), np.zeros(count, dtype=HASH_DTYPE)) if hashing else None
        self._round = reader.submit(array("q", self._offsets), self._out, self._lengths, *(self._halves or ()))

    def blocks(self) -> list[Block]:
        """The round's blocks, in the order asked (once read); a refused read raises the system's error."""
        self._raise_failed()
        return self._views()

    def result(self) -> Hashed:
        self._raise_failed()
        others = [name for name in self._names if not (self._halves is not None and name == XXH3)]
        hashed = hash_all(self._views(), others) if others else {}
        if self._halves is not None:
            hashed[XXH3] = self._halves
        return {name: hashed[name] for name in self._names}

    def _views(self) -> list[Block]:
        view = memoryview(self._out)
        return [view[i * BLOCK : i * BLOCK + got] for i, got in enumerate(self._lengths)]

    def _raise_failed(self) -> None:
        self._round.wait()
        if self._lengths and min(self._lengths) < 0:  # the system refused a read: its error, as os.pread's
            i = next(i for i, got in enumerate(self._lengths) if got < 0)
            code = -self._lengths[i]
            raise OSError(code, f"{os.strerror(code)} (reading byte {self._offsets[i]:,})")


class PreadReader:
    """A raw image or block device: positional reads, ``queue_depth`` in flight."""

    def __init__(self, path: Path, queue_depth: int = 16, native: bool = True, hash_in_c: bool = True) -> None:
        """``native``/``hash_in_c`` False: the fallbacks (Python threads; hashing in Python), for tests."""
        self._fd = _open_random(str(path))
        self.size = os.lseek(self._fd, 0, os.SEEK_END)
        self._depth = max(1, queue_depth)
        extension = _native() if native else None
        self._native = extension.Reader(self._fd, BLOCK, self._depth) if extension is not None else None
        self._xxh3 = extension is not None and bool(extension.XXH3) and hash_in_c
        self._pool: ThreadPoolExecutor | None = None  # the Python threads, made at their first round
        self._ahead = _OneThread(self._read_threads)

    def submit(self, offsets: Sequence[int], names: Sequence[str]) -> Pending:
        if self._native is not None:
            return _NativeRound(self._native, offsets, names, self._xxh3)
        return self._ahead.submit(offsets, names)

    def read_blocks(self, offsets: Sequence[int]) -> Sequence[Block]:
        """The blocks at ``offsets`` (sorted), in order; a block at the end of the media may be short. A read the
        system refuses raises its ``OSError``, as ``os.pread`` would."""
        if self._native is not None:
            return _NativeRound(self._native, offsets, (), False).blocks()
        return self._read_threads(offsets)

    def _read_threads(self, offsets: Sequence[int]) -> list[bytes]:
        """The Python threads take the next few offsets from one shared cursor as each finishes its last, so the
        device sees one ascending sweep with ``queue_depth`` reads in flight until the very end."""
        out: list[bytes] = [b""] * len(offsets)
        cursor = iter(range(0, len(offsets), _CHUNK))  # next() on a range iterator is atomic under the GIL

        def work() -> None:
            for first in cursor:
                for i in range(first, min(first + _CHUNK, len(offsets))):
                    out[i] = os.pread(self._fd, BLOCK, offsets[i])

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._depth, thread_name_prefix="sample-read")
        for done in [self._pool.submit(work) for _ in range(min(self._depth, len(offsets)))]:
            done.result()
        return out

    def close(self) -> None:
        """Reads what was submitted, then stops the threads and closes the evidence."""
        if self._native is not None:
            self._native.close()
        self._ahead.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        os.close(self._fd)


def _open_random(path: str) -> int:
    """The evidence opened read-only, without updating its access time where allowed (O_NOATIME needs the file's
    owner or CAP_FOWNER), for random reads (no read-ahead around each block: it would only slow the next read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    return fd


class DfvfsReader:
    """Any image format dfVFS reads (E01, VMDK, VHD, QCOW ...): its media data, one read at a time."""

    def __init__(self, path: Path, image_format: str) -> None:
        from dfvfs.resolver import context as dfcontext
        from dfvfs.resolver import resolver

        from safenet.evidence.image.chain import spec_for
        from safenet.evidence.locator import Layer, LayerKind

        self._context = dfcontext.Context()
        spec = spec_for(str(path), (Layer(LayerKind.IMAGE, detail=image_format),))
        self._stream: Any = resolver.Resolver.OpenFileObject(spec, resolver_context=self._context)
        self.size = int(self._stream.get_size())
        self._lock = threading.Lock()
        self._ahead = _OneThread(self.read_blocks)

    def submit(self, offsets: Sequence[int], names: Sequence[str]) -> Pending:
        return self._ahead.submit(offsets, names)

    def read_blocks(self, offsets: Sequence[int]) -> list[bytes]:
        out = []
        with self._lock:
            for offset in offsets:
                self._stream.seek(offset)
                out.append(bytes(self._stream.read(BLOCK)))
        return out

    def close(self) -> None:
        self._ahead.close()
        self._stream.close()


def open_reader(path: Path, image_format: str | None, queue_depth: int) -> BlockReader:
    """The fastest reader for the source: the C reader (or pread from Python threads) for raw images and devices,
    dfVFS for container formats.

    (Worker processes that read and hash blocks themselves were tried: their start-up, each importing the
    block-set code, cost more than the interpreter lock they avoid, 0.16 of fio's IOPS against the Python
    threads' 0.69-0.81, measured here with ``bench/bench_sample.py --parts iops``; the C reader avoids the lock
    without them.)"""
    if image_format in (None, "raw"):
        return PreadReader(path, queue_depth)
    return DfvfsReader(path, image_format)
