"""Checking and normalising a lead's values (IP address, port, hash, observation time), for every source.

Each check raises ``ValueError`` with a short phrase; the parser that called it adds the file and line.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "ed2k": 32, "btih": 40, "pdq": 64}
HASH_KINDS = tuple(HASH_LENGTHS)
_HEX = re.compile(r"^[0-9a-f]+$")
# names sources give hash kinds (CyberTipline's hashType attribute, CSV values)
HASH_NAMES = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256"}
HASH_NAMES |= {"ed2k": "ed2k", "edonkey": "ed2k", "btih": "btih", "infohash": "btih", "pdq": "pdq"}


def hash_kind(text: str) -> str:
    kind = HASH_NAMES.get(text.strip().casefold())
    if kind is None:
        raise ValueError(f"{text!r} is not a hash kind Safenet matches ({', '.join(HASH_KINDS)})")
    return kind


def hash_hex(kind: str, text: str) -> str:
    """Lowercase hex of the right length; a BitTorrent info-hash may also be given in base32 (magnet links)."""
    value = text.strip().lower()
    if kind == "btih" and len(value) == 32:
        try:
            value = base64.b32decode(value.upper()).hex()
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{text!r} is not a BitTorrent info-hash") from exc
    if len(value) != HASH_LENGTHS[kind] or not _HEX.match(value):
        raise ValueError(f"{text!r} is not a {kind} hash ({HASH_LENGTHS[kind]} hex digits)")
    return value


def ip_text(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IP address") from exc


def port_number(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:  # isdigit() alone takes "¹"
        raise ValueError(f"{text!r} is not a port number (1-65535)")
    return int(value)


def observed(text: str, *, zone: str | None = None, time_format: str | None = None) -> tuple[datetime, str]:
    """The UTC time and the zone it was written in. A time without an offset needs ``zone`` (an IANA name):
    guessing a zone would move an observation by hours, and with it who held the IP address."""
    value = text.strip()
    try:
        when = datetime.strptime(value, time_format) if time_format else datetime.fromisoformat(value)
    except ValueError as exc:
        form = time_format or "ISO 8601, e.g. 2026-12-01T21:14:03Z"
        raise ValueError(f"{text!r} is not a time in the expected form ({form})") from exc
    if when.tzinfo is not None:
        return when.astimezone(UTC), _offset_name(when)
    if zone is None:
        raise ValueError(f"{text!r} has no time zone; give the zone the source writes in (time_zone in the mapping)")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{zone!r} is not a time zone name (e.g. Europe/London)") from exc
    return when.replace(tzinfo=tz).astimezone(UTC), zone


def _offset_name(when: datetime) -> str:
    """``UTC`` or ``-05:00``: the zone as the source wrote it."""
    seconds = int((when.utcoffset() or timedelta()).total_seconds())
    if seconds == 0:
        return "UTC"
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
