"""Sizes of an NTFS file's ``$DATA`` attribute, read from its raw MFT record.

Why: reading a live NTFS file straight from its data runs (``os.pread``) gives the same bytes as The Sleuth
Kit only when the ``$DATA`` attribute's initialized size ("valid data length") equals its real size (TSK
returns zeros past the initialized size) and the attribute is neither compressed, encrypted nor sparse.
pytsk3 does not expose the initialized size, so it is read here from the MFT record.

Everything here is a pure function on hostile bytes that never raises. Any doubt (a torn fixup, an
``$ATTRIBUTE_LIST``, an odd flag, a size out of order) answers ``None``: the caller then reads through TSK.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_OEM_ID = b"NTFS    "
_FILE = b"FILE"
_STRIDE = 512  # fixup stride, whatever the sector size
_IN_USE = 0x0001
_ATTRIBUTE_LIST = 0x20
_DATA = 0x80
_END = 0xFFFFFFFF
_NONRESIDENT_HEADER = 0x40


@dataclass(frozen=True, slots=True)
class DataSizes:
    """Sizes in bytes of one non-resident ``$DATA`` attribute."""

    allocated: int
    real: int
    initialized: int


def _power_of_two(value: int, low: int, high: int) -> bool:
    return low <= value <= high and value & (value - 1) == 0


def record_size(boot: bytes) -> int | None:
    """Bytes per MFT record from an NTFS boot sector (first 512 bytes of the volume); None if implausible."""
    if len(boot) < _STRIDE or boot[3:11] != _OEM_ID:
        return None
    (sector,) = struct.unpack_from("<H", boot, 0x0B)
    raw_spc = boot[0x0D]
    sectors = 1 << (256 - raw_spc) if raw_spc > 0x80 else raw_spc
    (per_record,) = struct.unpack_from("<b", boot, 0x40)
    if not _power_of_two(sector, 256, 4096) or not _power_of_two(sectors, 1, 1 << 16) or per_record == 0:
        return None
    size = per_record * sector * sectors if per_record > 0 else 1 << -per_record
    return size if _power_of_two(size, 256, 65536) else None


def _fixed_up(record: bytes) -> bytearray | None:
    """The record with its update sequence array applied; None when the array is bad or a write was torn."""
    if len(record) < _STRIDE or len(record) % _STRIDE or record[:4] != _FILE:
        return None
    usa_offset, usa_count, first = struct.unpack_from("<HH", record, 0x04) + struct.unpack_from("<H", record, 0x14)
    if usa_offset % 2 or usa_count - 1 != len(record) // _STRIDE or usa_offset + 2 * usa_count > first:
        return None
    fixed = bytearray(record)
    number = record[usa_offset : usa_offset + 2]
    for stride in range(1, usa_count):
        end = stride * _STRIDE
        if record[end - 2 : end] != number:
            return None
        fixed[end - 2 : end] = record[usa_offset + 2 * stride : usa_offset + 2 * stride + 2]
    return fixed


def data_sizes(record: bytes, stream: str = "") -> DataSizes | None:
    """Sizes of the ``$DATA`` attribute named ``stream`` ("" = unnamed) in one raw MFT record (fixups not applied).

    None unless the record is a clean, in-use base record without ``$ATTRIBUTE_LIST`` holding exactly one
    such attribute, non-resident from VCN 0, with no flags set and ``initialized <= real <= allocated``.
    """
    fixed = _fixed_up(record)
    if fixed is None:
        return None
    first, flags, used = struct.unpack_from("<HHI", fixed, 0x14)
    (base,) = struct.unpack_from("<Q", fixed, 0x20)
    if not flags & _IN_USE or base != 0 or used > len(fixed) or first % 8:
        return None
    wanted = stream.encode("utf-16-le", "surrogatepass")
    found: list[int] = []
    pos = first
    while True:
        if pos + 4 > used:
            return None
        (kind,) = struct.unpack_from("<I", fixed, pos)
        if kind == _END:
            break
        length = struct.unpack_from("<I", fixed, pos + 4)[0] if pos + 8 <= used else 0
        if length < 0x18 or length % 8 or pos + length > used or kind == _ATTRIBUTE_LIST:
            return None
        if kind == _DATA:
            name_length, name_offset = fixed[pos + 9], struct.unpack_from("<H", fixed, pos + 0x0A)[0]
            if name_length and name_offset + 2 * name_length > length:
                return None
            if fixed[pos + name_offset : pos + name_offset + 2 * name_length] == wanted:
                found.append(pos)
        pos += length
    if len(found) != 1:
        return None
    attr = found[0]
    non_resident, attr_flags = fixed[attr + 8], struct.unpack_from("<H", fixed, attr + 0x0C)[0]
    (length,) = struct.unpack_from("<I", fixed, attr + 4)
    if non_resident != 1 or attr_flags != 0 or length < _NONRESIDENT_HEADER:
        return None
    lowest, _highest, runs = struct.unpack_from("<QQH", fixed, attr + 0x10)
    allocated, real, initialized = struct.unpack_from("<QQQ", fixed, attr + 0x28)
    if lowest != 0 or not _NONRESIDENT_HEADER <= runs < length or not initialized <= real <= allocated:
        return None
    return DataSizes(allocated=allocated, real=real, initialized=initialized)
