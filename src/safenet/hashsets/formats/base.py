"""The base class every hash-set reader implements, plus the small helpers they share.

A reader only turns a file into records; counting, de-duplication, categories and storage are the store's
job, so a new format is one small class with ``sniff`` and ``read``.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from safenet.analysis.ed2k import parse_gnutella_sha1
from safenet.hashsets.model import LENGTH_KINDS, HashKind, HashRecord, SetKind, WarnFn

HEAD_SIZE = 64 * 1024
"""How many bytes of a file the sniffers see."""

_HEX = frozenset(string.hexdigits)
KIND_BY_HEX_LENGTH: Mapping[int, HashKind] = {2 * kind.size: kind for kind in LENGTH_KINDS}

# Digests of zero bytes: they match every empty file, so they identify nothing and are never stored.
EMPTY_DIGESTS: Mapping[HashKind, bytes] = {
    HashKind.MD5: bytes.fromhex("d41d8cd98f00b204e9800998ecf8427e"),
    HashKind.SHA1: bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    HashKind.SHA256: bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    HashKind.ED2K: bytes.fromhex("31d6cfe0d16ae931b73c59d7e0c089c0"),  # MD4 of nothing
}


@dataclass(frozen=True, slots=True)
class BulkDigests:
    """Many uncategorised entries at once, for readers with a vectorised fast path.

    Every array in ``columns`` has shape (n, digest size) and dtype uint8; row i of each array belongs to
    the same entry. The store numbers the entries; there are no names, sizes or extras.
    """

    columns: Mapping[HashKind, npt.NDArray[np.uint8]]

    def __len__(self) -> int:
        return next(iter(self.columns.values())).shape[0] if self.columns else 0


class HashSetFormat(ABC):
    """A reader for one hash-set file format, registered under a stable ``NAME``."""

    NAME: ClassVar[str]
    DEFAULT_KIND: ClassVar[SetKind | None] = None
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """True when ``head`` (the first 64 KiB of ``path``) looks like this format. Never raises."""

    @classmethod
    def near_miss(cls, head: bytes) -> str | None:
        """When ``sniff`` refused ``head`` but it looks much like this format: a clause saying so and what is
        missing ("looks like X but has no ..."), so the user learns what to fix. Never raises."""
        return None

    @abstractmethod
    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        """Stream the entries of ``path``; bad entries are reported with ``warn(ref, message)`` and skipped.

        Must not hold the whole file in memory. Raises HashSetError when the file as a whole is unusable.
        """

    def read_bulk(self, path: Path, warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
        """Like ``read`` but may yield large vectorised batches; the store calls this one.

        Formats without a fast path keep this default. Overrides must give the same digests as ``read``.
        """
        return self.read(path, warn)

    def default_scheme(self) -> str:
        """Category scheme to use when the user names none; valid once ``read`` has started."""
        return "none"

    def profile(self) -> str | None:
        """Profile named by the file (VICS only); valid once ``read`` has started."""
        return None

    def scheme_caveat(self) -> str | None:
        """A warning for the user when ``default_scheme`` is only a fallback for this file, else None."""
        return None


def parse_hex(text: str, kind: HashKind | None = None) -> tuple[HashKind, bytes] | str:
    """Decode one hex digest; returns (kind, bytes) or a short reason why it is not a usable digest.

    Case-insensitive. With ``kind`` None the algorithm follows from the length (32/40/64 characters). A SHA-1
    may also be written as Gnutella and Shareaza write it, ``urn:sha1:`` + 32 base32 letters.
    """
    value = text.strip()
    if kind in (None, HashKind.SHA1) and value[:9].lower() == "urn:sha1:":
        sha1 = parse_gnutella_sha1(value)
        return (HashKind.SHA1, sha1) if sha1 is not None else f"'{clip(value)}' is not a urn:sha1 (32 base32 letters)"
    if kind is not None and len(value) == 2 * kind.size:
        try:
            digest = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            if len(digest) == kind.size:  # fromhex skips inner spaces: the length check catches them
                return kind, digest
    if not value:
        return "empty digest"
    if not _HEX.issuperset(value):
        return f"'{clip(value)}' is not hexadecimal"
    if kind is None:
        found = KIND_BY_HEX_LENGTH.get(len(value))
        if found is None:
            return f"digest of {len(value)} hex characters is not MD5 (32), SHA-1 (40) or SHA-256 (64)"
        kind = found
    elif len(value) != 2 * kind.size:
        return f"{kind.name} digest must have {2 * kind.size} hex characters, not {len(value)}"
    return kind, bytes.fromhex(value)


def parse_count(text: str) -> int | None:
    """A non-negative whole number written in ASCII digits (at most 20: any size or count), else None.

    ``str.isdigit`` accepts "²" and other digits ``int`` refuses, and ``int`` refuses strings past 4,300
    digits: hostile text must give None, never an exception.
    """
    value = text.strip()
    return int(value) if 0 < len(value) <= 20 and value.isascii() and value.isdigit() else None


def clip(value: str, limit: int = 80) -> str:
    """Shorten and escape a hostile value (evidence names, file content) before it goes into a warning."""
    shown = value if len(value) <= limit else value[:limit] + "..."
    return shown.encode("unicode_escape").decode("ascii")


def read_head(path: Path) -> bytes:
    """First HEAD_SIZE bytes of a file (what the sniffers see)."""
    with path.open("rb") as handle:
        return handle.read(HEAD_SIZE)


def strip_bom(head: bytes) -> bytes:
    """Head without a UTF-8 byte-order mark."""
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


# --- vectorised helpers for the fast paths -------------------------------------------------------------

_HEX_VALUES = np.full(256, 255, dtype=np.uint8)
for _value, _char in enumerate(b"0123456789abcdef"):
    _HEX_VALUES[_char] = _value
    _HEX_VALUES[bytes([_char]).upper()[0]] = _value

BLOCK_SIZE = 16 * 1024 * 1024
"""Bytes read per block by the vectorised text readers (a few blocks' worth of arrays at most in RAM)."""
_PADDING = 256  # zero bytes after each block so fixed-width column reads never run off the end
MAX_LINE = 1024 * 1024
"""A text line longer than this is not a hash-set line; it is reported and dropped, not buffered."""
LONG_LINE = "line longer than 1 MiB; dropped"


def decode_hex_rows(chars: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Decode an (n, 2k) array of ASCII hex characters into (n, k) bytes plus a per-row validity mask."""
    values = _HEX_VALUES[chars]
    ok = np.asarray((values < 16).all(axis=1), dtype=np.bool_)
    digests = (values[:, 0::2] << 4) | values[:, 1::2]
    return np.ascontiguousarray(digests, dtype=np.uint8), ok


@dataclass(frozen=True, slots=True)
class LineBlock:
    """A run of whole lines: the bytes (zero-padded), where each line starts and ends (without CR/LF) and
    the number of the first line."""

    data: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    first_line: int

    def line(self, index: int) -> bytes | None:
        """One line's bytes, or None when it is longer than MAX_LINE (the caller reports it)."""
        start, end = int(self.starts[index]), int(self.ends[index])
        return self.data[start:end].tobytes() if end - start <= MAX_LINE else None

    def columns(self, offset: int, width: int) -> npt.NDArray[np.uint8]:
        """Bytes [offset, offset + width) of every line as an (n, width) array (zero padding past the end).

        Picks rows out of a sliding-window view, so no (n, width) index array is built.
        """
        windows = np.lib.stride_tricks.sliding_window_view(self.data, width)
        where = np.minimum(self.starts + offset, windows.shape[0] - 1)
        picked: npt.NDArray[np.uint8] = windows[where]
        return picked


def iter_line_blocks(path: Path, warn: WarnFn, skip: int = 0, first_line: int = 1) -> Iterator[LineBlock]:
    """Read a text file in big blocks of whole lines, for numpy parsing.

    ``skip`` bytes (a header already read, ``first_line - 1`` lines) are passed over first. Lines longer
    than MAX_LINE are reported and dropped so a binary file cannot make the reader buffer it.
    """
    line_number = first_line
    with path.open("rb") as handle:
        handle.seek(skip)
        carry = b""
        while True:
            chunk = handle.read(BLOCK_SIZE)
            if not chunk:
                if carry:
                    yield _make_block(carry + b"\n", line_number)
                return
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_LINE:
                    warn(f"line {line_number}", LONG_LINE)
                    data = _drop_long_line(handle)
                    line_number += 1
                    cut = data.rfind(b"\n") + 1 if data else 0
                if cut == 0:
                    carry = data
                    continue
            block = _make_block(data[:cut], line_number)
            line_number += block.starts.shape[0]
            carry = data[cut:]
            yield block


def _drop_long_line(handle: Any) -> bytes:
    """Skip to the end of the current over-long line and return what follows it in the same read."""
    while True:
        chunk = handle.read(BLOCK_SIZE)
        if not chunk:
            return b""
        newline = chunk.find(b"\n")
        if newline >= 0:
            return bytes(chunk[newline + 1 :])


def _make_block(data: bytes, first_line: int) -> LineBlock:
    array = np.frombuffer(data + bytes(_PADDING), dtype=np.uint8)
    newlines = np.flatnonzero(array[: len(data)] == 10).astype(np.int64)
    starts = np.empty_like(newlines)
    starts[:1] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines.copy()
    has_cr = (ends > starts) & (array[np.maximum(ends - 1, 0)] == 13)
    ends[has_cr] -= 1
    return LineBlock(data=array, starts=starts, ends=ends, first_line=first_line)


def iter_lines(path: Path, warn: WarnFn) -> Iterator[tuple[int, bytes]]:
    """(line number, line without CR/LF) for a text file; over-long lines are reported and skipped."""
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_LINE + 1):
            number += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                warn(f"line {number}", LONG_LINE)
                while (rest := handle.readline(MAX_LINE + 1)) and not rest.endswith(b"\n"):
                    pass
                continue
            yield number, raw.rstrip(b"\r\n")
