"""How an item's times are written in every report and export.

A file system that keeps UTC (NTFS, ext, exFAT with its offset field, HFS+) gives times whose zone is known:
they are written in UTC with an explicit offset. FAT, zip headers and other formats store the local
wall-clock time of whichever device wrote them, in a zone they do not record (``ItemRow.time_zone_known``
false). Writing such a time with ``+00:00`` or ``Z`` would claim it is UTC, which it may be hours away
from; it is written instead as ISO 8601 *local time*, with no offset at all (``2024-05-01T14:30:00``),
and wherever people read it, with the words "local time, zone unknown" (docs/formats.md, Times).
"""

from __future__ import annotations

from datetime import UTC, datetime

#: What a person is told beside a time whose zone is unknown.
LOCAL_ZONE_UNKNOWN = "local time, zone unknown"


def _wall_clock(value: datetime) -> str:
    """The stored wall-clock time as written on the device (stored as if UTC, so no conversion)."""
    return value.replace(tzinfo=None).isoformat()


def iso_time(value: datetime | None, zone_known: bool) -> str | None:
    """JSON report and item listing: ``2024-05-01T14:30:00+00:00`` or, zone unknown, ``2024-05-01T14:30:00``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat() if zone_known else _wall_clock(value)


def utc_text(value: datetime | None, zone_known: bool = True) -> str | None:
    """Exports (xsd:dateTime): ``2024-05-01T14:30:00Z`` or, zone unknown, ``2024-05-01T14:30:00`` (a
    dateTime without a zone, which XML Schema defines as local time of unknown offset)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if zone_known else _wall_clock(value)


def human_time(value: datetime | None, zone_known: bool) -> str:
    """For people (HTML, tables): ``2024-05-01 14:30:00 UTC`` or ``2024-05-01 14:30:00 (local time, zone
    unknown)``; empty when there is no time."""
    if value is None:
        return ""
    if zone_known:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S") + f" ({LOCAL_ZONE_UNKNOWN})"
