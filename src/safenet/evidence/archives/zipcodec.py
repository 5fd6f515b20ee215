"""Decoding zip member data: one decoder per compression method, all with bounded output.

Every decoder is asked for at most a chunk of output per call (zipfile's own reader does not bound
bzip2 or LZMA output, so a few kilobytes could become gigabytes in one call). Output stops at the
declared size and is checked against the CRC at the end.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from safenet.evidence.archives.common import CHUNK, ArchiveCorrupt
from safenet.evidence.archives.zipdir import Entry

_MAX_LZMA_DICT = 1 << 28  # dictionary cap when the member size is unknown (liblzma reserves it whole)
METHOD_NAMES = {
    1: "shrink",
    6: "implode",
    9: "deflate64",
    10: "PKWARE DCL implode",
    18: "IBM TERSE",
    19: "IBM LZ77",
    93: "zstandard",
    96: "JPEG",
    97: "WavPack",
    98: "PPMd",
}


class Codec(Protocol):
    @property
    def eof(self) -> bool: ...

    def pending(self) -> bool: ...

    def decode(self, data: bytes, limit: int) -> bytes: ...

    def unused(self) -> int: ...


class Stored:
    eof = False  # a stored member ends where its compressed size says

    def __init__(self) -> None:
        self._buf = b""

    def pending(self) -> bool:
        return bool(self._buf)

    def decode(self, data: bytes, limit: int) -> bytes:
        buf = self._buf + data
        self._buf = buf[limit:]
        return buf[:limit]

    def unused(self) -> int:
        return 0


class _Inflate:
    def __init__(self) -> None:
        self._obj = zlib.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return self._obj.eof

    def pending(self) -> bool:
        return bool(self._obj.unconsumed_tail)

    def decode(self, data: bytes, limit: int) -> bytes:
        return self._obj.decompress(self._obj.unconsumed_tail + data, limit)

    def unused(self) -> int:
        return len(self._obj.unused_data)


class _Library:
    """bz2 and lzma decompressor objects, which share one interface."""

    def __init__(self, obj: bz2.BZ2Decompressor | lzma.LZMADecompressor) -> None:
        self._obj = obj

    @property
    def eof(self) -> bool:
        return self._obj.eof

    def pending(self) -> bool:
        return not self._obj.needs_input

    def decode(self, data: bytes, limit: int) -> bytes:
        return self._obj.decompress(data, limit)

    def unused(self) -> int:
        return len(self._obj.unused_data)


class _ZipLzma:
    """Method 14: a 4-byte version/size prefix and the LZMA properties, then a raw LZMA1 stream."""

    def __init__(self, usize: int | None) -> None:
        self._usize = usize
        self._head = b""
        self._inner: _Library | None = None

    @property
    def eof(self) -> bool:
        return self._inner is not None and self._inner.eof

    def pending(self) -> bool:
        return self._inner is not None and self._inner.pending()

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 4 or len(self._head) < 4 + struct.unpack_from("<H", self._head, 2)[0]:
                return b""
            props_len = struct.unpack_from("<H", self._head, 2)[0]
            props, data = self._head[4 : 4 + props_len], self._head[4 + props_len :]
            filters = [_lzma1_filter(props, self._usize)]
            self._inner = _Library(lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters))
        return self._inner.decode(data, limit)

    def unused(self) -> int:
        return self._inner.unused() if self._inner is not None else 0


def _lzma1_filter(props: bytes, usize: int | None) -> dict[str, Any]:
    """LZMA1 filter from its 5 property bytes. The dictionary is capped: liblzma allocates it whole,
    and a stream never refers further back than the output it has produced."""
    if len(props) < 5 or props[0] >= 9 * 5 * 5:
        raise ArchiveCorrupt("bad LZMA properties")
    pb, rest = divmod(props[0], 45)
    lp, lc = divmod(rest, 9)
    dict_size = struct.unpack_from("<L", props, 1)[0]
    cap = max(usize, 4096) if usize is not None else _MAX_LZMA_DICT
    return {"id": lzma.FILTER_LZMA1, "dict_size": min(dict_size, cap, _MAX_LZMA_DICT), "lc": lc, "lp": lp, "pb": pb}


def codec_for(entry: Entry) -> Codec | None:
    """A decoder for the member's method, or None when Safenet cannot decode it."""
    makers: dict[int, Callable[[], Codec]] = {
        0: Stored,
        8: _Inflate,
        12: lambda: _Library(bz2.BZ2Decompressor()),
        14: lambda: _ZipLzma(entry.usize),
        95: lambda: _Library(lzma.LZMADecompressor(lzma.FORMAT_XZ)),
    }
    maker = makers.get(entry.method)
    return maker() if maker is not None else None


class Reader:
    """Decodes one member with bounded output, stopping at its declared size; checks size and CRC."""

    def __init__(self, fp: BinaryIO, entry: Entry, start: int, file_size: int, codec: Codec) -> None:
        self._fp = fp
        self._start = start
        self._pos = start
        self._in_left = entry.csize if entry.csize is not None else file_size - start
        self._out_left = entry.usize
        self._expected_crc = entry.crc
        self._crc = 0
        self._codec = codec
        self._fed = 0
        self._done = False

    def read(self, size: int) -> bytes:
        if self._done:
            return b""
        want = size if self._out_left is None else min(size, self._out_left)
        while want > 0:
            data = self._codec.decode(b"" if self._codec.pending() else self._input(), want)
            if data:
                self._crc = zlib.crc32(data, self._crc)
                if self._out_left is not None:
                    self._out_left -= len(data)
                return data
            if self._codec.eof:
                break
            if self._in_left == 0 and not self._codec.pending():
                raise ArchiveCorrupt("compressed data ends before the member does")
        self._finish()
        return b""

    def end(self) -> int:
        """Where the compressed data ended (after a complete read): the next header follows."""
        return self._start + self._fed - self._codec.unused()

    def _input(self) -> bytes:
        want = min(CHUNK, self._in_left)
        if want == 0:
            return b""
        self._fp.seek(self._pos)
        data = self._fp.read(want)
        if not data:
            raise ArchiveCorrupt("archive ends inside the member's data (truncated)")
        self._pos += len(data)
        self._in_left -= len(data)
        self._fed += len(data)
        return data

    def _finish(self) -> None:
        self._done = True
        if self._out_left:
            raise ArchiveCorrupt(f"data ends {self._out_left} bytes short of the declared size")
        if self._expected_crc is not None and self._crc != self._expected_crc:
            raise ArchiveCorrupt(f"CRC mismatch (stored {self._expected_crc:08x}, computed {self._crc:08x})")
