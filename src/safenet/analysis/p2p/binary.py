"""A bounded little-endian reader and the time conversions the binary P2P parsers share.

Every read checks the bytes that remain first, so a hostile length or count can never make a parser read past
the end or allocate more than the file holds: it gets ``Truncated`` (the data ends early) or ``Corrupt`` (a value
the format cannot hold), and the parser turns either into a ``P2PWarning`` after the records it had read whole.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from safenet.analysis.p2p.model import P2PWarning

TRUNCATED_CODE = "p2p-truncated"
CORRUPT_CODE = "p2p-corrupt"
UNSUPPORTED_CODE = "p2p-unsupported-version"
#: The short names the parsers use (the *_CODE names are what the documentation test collects).
TRUNCATED, CORRUPT, UNSUPPORTED = TRUNCATED_CODE, CORRUPT_CODE, UNSUPPORTED_CODE

#: The registry's MAX_ARTEFACT_BYTES (the registry imports the parsers, so it cannot be imported here): a count
#: or length needing more bytes than this is not a cut-off file but a damaged value.
LARGEST_ARTEFACT = 256 * 1024 * 1024

#: Nesting deeper than this (Shareaza folders, its metadata XML) is treated as damage, not followed.
MAX_DEPTH = 64


class Truncated(Exception):
    """The data ends before a value the format says is there."""


class Corrupt(Exception):
    """A value the format cannot hold (an unknown tag type, a count larger than the bytes left)."""


class Reader:
    """Reads fixed-size little-endian values from a bytes object, never past its end."""

    __slots__ = ("_data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self._data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0:
            raise Corrupt(f"negative length {n} at offset {self.pos}")
        if n > self.remaining:
            raise Truncated(f"{n} bytes wanted at offset {self.pos}, {self.remaining} left")
        out = self._data[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, fmt: str, size: int) -> int:
        value: int = struct.unpack(fmt, self.take(size))[0]
        return value

    def u8(self) -> int:
        return self._unpack("<B", 1)

    def u16(self) -> int:
        return self._unpack("<H", 2)

    def u32(self) -> int:
        return self._unpack("<I", 4)

    def i32(self) -> int:
        return self._unpack("<i", 4)

    def u64(self) -> int:
        return self._unpack("<Q", 8)

    def count(self, declared: int, min_size: int, what: str) -> int:
        """``declared`` items of at least ``min_size`` bytes each, refused when the bytes left cannot hold them:
        as truncation, unless no file Safenet would read could hold them (then the count itself is damage)."""
        need = declared * min_size
        if need > self.remaining:
            problem = Truncated if need <= LARGEST_ARTEFACT else Corrupt
            raise problem(f"{what}: {declared} declared at offset {self.pos}, only {self.remaining} bytes follow")
        return declared

    def fitting(self, declared: int, min_size: int) -> int:
        """How many of ``declared`` items of at least ``min_size`` bytes the bytes left could hold: a loop reads
        that many, so the items present before a cut are read."""
        return min(declared, self.remaining // min_size)

    def all_read(self, declared: int, read: int, min_size: int, what: str) -> None:
        """After a loop bounded by ``fitting``: raise (``count``'s way) when fewer than ``declared`` were read."""
        if declared > read:
            self.count(declared, min_size, what)


def truncated(where: str, exc: Exception) -> P2PWarning:
    return P2PWarning(TRUNCATED, f"{where}: the file ends early ({exc}); the records before it were read")


def corrupt(where: str, exc: Exception) -> P2PWarning:
    return P2PWarning(CORRUPT, f"{where}: damaged ({exc}); the records before it were read")


def damage(where: str, exc: Truncated | Corrupt) -> P2PWarning:
    """The warning for a read that stopped: truncated data or a corrupt value."""
    return truncated(where, exc) if isinstance(exc, Truncated) else corrupt(where, exc)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def unix_time(seconds: int) -> datetime | None:
    """A UNIX time (UTC); 0 means "not set" in every client that stores one."""
    if seconds <= 0:
        return None
    try:
        return _UNIX_EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return None


def filetime(value: int) -> datetime | None:
    """A Windows FILETIME (100 ns ticks since 1601, UTC); 0 means "not set"."""
    if value <= 0:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def decode_text(raw: bytes) -> str:
    """Text a Windows client wrote either as UTF-8 (with or without a BOM) or in the ANSI code page."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def iso(when: datetime | None) -> str:
    return when.isoformat() if when is not None else ""
