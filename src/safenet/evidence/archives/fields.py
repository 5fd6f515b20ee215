"""Member fields every format shares: names (hostile) and times (three encodings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from safenet.evidence.model import TimeSource, Timestamp

_DRIVE = re.compile(r"^[A-Za-z]:")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def suspicious_reason(name: str) -> str | None:
    """Why a member name could write outside a target folder or disguise itself, or None."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "a control character"
    if name.startswith(("/", "\\")):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a drive letter"
    if ".." in re.split(r"[/\\]", name):
        return "a parent-folder component (..)"
    if any(ch in _BIDI for ch in name):
        return "a bidirectional-override character"
    return None


def leaf_name(value: str, separators: str = "/\\") -> str:
    """The last path component of a member name (the whole name when it has none)."""
    parts = [part for part in re.split(f"[{re.escape(separators)}]", value) if part]
    return parts[-1] if parts else value


def unix_time(seconds: float, precision: float, source: TimeSource = TimeSource.ARCHIVE) -> Timestamp | None:
    """A member time stored as UTC seconds since 1970 (tar, zip extended-timestamp field, gzip); ``source``: a
    phone's file-system archive keeps the phone's own file times (FS_METADATA)."""
    try:
        return Timestamp(datetime.fromtimestamp(seconds, UTC), source, precision)
    except (OverflowError, OSError, ValueError):
        return None


def filetime(ticks: int) -> Timestamp | None:
    """A Windows FILETIME (100 ns ticks since 1601, UTC): 7z headers and the zip NTFS field."""
    try:
        value = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    return Timestamp(value, TimeSource.ARCHIVE, 1e-7)


def dos_time(date: int, time: int) -> Timestamp | None:
    """An MS-DOS date and time (zip): local time of an unknown zone, 2 s precision.

    The value keeps the wall-clock fields as written, labelled UTC, with ``zone_known=False``.
    """
    try:
        value = datetime(
            (date >> 9) + 1980,
            (date >> 5) & 0xF,
            date & 0x1F,
            time >> 11,
            (time >> 5) & 0x3F,
            min((time & 0x1F) * 2, 59),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return Timestamp(value, TimeSource.ARCHIVE, 2.0, zone_known=False)
