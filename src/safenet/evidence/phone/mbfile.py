"""An iTunes backup's file record: the ``MBFile`` object each Manifest.db row archives (NSKeyedArchiver, binary
plist), read for its size, times, inode, protection class and wrapped file key.

A real phone's Manifest.db holds hundreds of thousands of records and ``plistlib`` decodes every object of
each (about 45: the keys, the class description, the path). This reader follows only the references that lead
to the seven wanted values: the archive's ``$top`` and ``$objects``, the root object's dictionary, and its
``EncryptionKey`` object. Every offset, length and reference is checked against the record's bytes; a record
that is not a well-formed MBFile raises ValueError (the listing turns it into a warning). The tests keep
``plistlib`` as the answer key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_RECORD = 1 << 20  # one MBFile plist; real ones are a few hundred bytes
_FORMATS = {1: "B", 2: "H", 4: "L", 8: "Q"}
_INT, _DATA, _ASCII, _UTF16, _UID, _ARRAY, _DICT = 0x1, 0x4, 0x5, 0x6, 0x8, 0xA, 0xD
_SIZED = frozenset({_DATA, _ASCII, _UTF16, _ARRAY, _DICT})
_FIELDS = ("Size", "LastModified", "LastStatusChange", "Birth", "InodeNumber", "ProtectionClass")
# The keys read from each dictionary of the archive, by their bytes in the plist (ASCII).
_ARCHIVE = {b"$objects": "$objects", b"$top": "$top"}
_TOP = {b"root": "root"}
_ROOT = {name.encode(): name for name in (*_FIELDS, "EncryptionKey")}
_HOLDER = {b"NS.data": "NS.data"}


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What an MBFile says about one file (absent or unusable fields are None)."""

    size: int | None
    modified: datetime | None
    changed: datetime | None
    created: datetime | None
    inode: int | None
    protection_class: int | None
    wrapped_key: bytes | None  # NS.data of EncryptionKey: 4 bytes of class, then the wrapped key (encrypted backups)


@dataclass(frozen=True, slots=True)
class _Uid:
    value: int


class _Plist:
    """The parts of one binary plist the record needs. Each method reads one object by reference."""

    __slots__ = ("_data", "_end", "_offsets", "_ref", "top")

    def __init__(self, data: bytes) -> None:
        if len(data) < 40 or data[:8] != b"bplist00":
            raise ValueError("not a binary property list")
        off_size, ref_size, count, top, table = struct.unpack_from(">6xBBQQQ", data, len(data) - 32)
        if off_size not in _FORMATS or ref_size not in _FORMATS or top >= count:
            raise ValueError("damaged binary property list trailer")
        if not table >= 8 or table + count * off_size > len(data) - 32:
            raise ValueError("binary property list offset table out of bounds")
        self._data, self._ref, self._end = data, _FORMATS[ref_size], table
        self._offsets = struct.unpack_from(f">{count}{_FORMATS[off_size]}", data, table)
        self.top = top

    def _head(self, ref: int) -> tuple[int, int, int]:
        """Object ``ref``'s kind, its size field (a length for sized kinds) and where its content starts."""
        if not 0 <= ref < len(self._offsets):
            raise ValueError("object reference out of range")
        pos = self._offsets[ref]
        if not 8 <= pos < self._end:
            raise ValueError("object offset out of range")
        marker = self._data[pos]
        kind, low = marker >> 4, marker & 0xF
        if low != 0xF or kind not in _SIZED:
            return kind, low, pos + 1
        length_marker = self._data[pos + 1] if pos + 1 < self._end else 0
        if length_marker >> 4 != _INT or length_marker & 0xF > 3:
            raise ValueError("bad object length")
        size = 1 << (length_marker & 0xF)
        return kind, self._uint(pos + 2, size), pos + 2 + size

    def _uint(self, start: int, size: int) -> int:
        if start + size > self._end:
            raise ValueError("object runs past the end of the property list")
        return int.from_bytes(self._data[start : start + size], "big")

    def _refs(self, start: int, count: int) -> tuple[int, ...]:
        if start + count * struct.calcsize(self._ref) > self._end:
            raise ValueError("container runs past the end of the property list")
        return struct.unpack_from(f">{count}{self._ref}", self._data, start)

    def array(self, ref: int) -> tuple[int, ...]:
        kind, length, start = self._head(ref)
        if kind != _ARRAY:
            raise ValueError("expected an array")
        return self._refs(start, length)

    def dictionary(self, ref: int, wanted: dict[bytes, str]) -> dict[str, int]:
        """``{key: value reference}`` for the keys named in ``wanted`` (the key's ASCII bytes -> its name).

        Every key is checked to be a string inside the property list, wanted or not; a short ASCII key (all
        of an MBFile's) is compared by its bytes where it lies, without a call or a decode per key, as this
        loop runs some fifteen times for each of a phone's hundreds of thousands of records.
        """
        kind, length, start = self._head(ref)
        if kind != _DICT:
            raise ValueError("expected a dictionary")
        refs = self._refs(start, 2 * length)
        data, offsets, end = self._data, self._offsets, self._end
        out: dict[str, int] = {}
        for i in range(length):
            key_ref = refs[i]
            if not 0 <= key_ref < len(offsets):
                raise ValueError("object reference out of range")
            pos = offsets[key_ref]
            if not 8 <= pos < end:
                raise ValueError("object offset out of range")
            marker = data[pos]
            if marker >> 4 != _ASCII or (marker == 0x5F and data[pos + 1 : pos + 2] != b"\x10"):
                name = self._key(key_ref, wanted)  # UTF-16, or not a string at all (refused there)
            else:  # ASCII, its length in the marker or (15 to 255 characters) in the one byte after it
                first = pos + 1 if marker != 0x5F else pos + 3
                stop = first + (marker & 0xF if marker != 0x5F else data[pos + 2] if pos + 2 < end else 0)
                raw = data[first:stop]
                if stop > end:
                    raise ValueError("dictionary key is not a string")
                if not raw.isascii():
                    raise ValueError("not an MBFile record (a key that is not ASCII)")
                name = wanted.get(raw)
            if name is not None:
                out[name] = refs[length + i]
        return out

    def _key(self, ref: int, wanted: dict[bytes, str]) -> str | None:
        """A key in any string form (long ASCII, UTF-16): its name when wanted, else None."""
        kind, length, start = self._head(ref)
        width = 2 if kind == _UTF16 else 1
        if kind not in (_ASCII, _UTF16) or start + length * width > self._end:
            raise ValueError("dictionary key is not a string")
        text = self._data[start : start + length * width].decode("ascii" if width == 1 else "utf-16-be")
        return wanted.get(text.encode("utf-8", "surrogatepass"))

    def scalar(self, ref: int) -> int | bytes | _Uid | None:
        """An integer, data or UID; None for any other kind (a value of an unexpected type counts as absent)."""
        kind, low, start = self._head(ref)
        if kind == _INT and low <= 3:
            size = 1 << low
            value = self._uint(start, size)
            return value - (1 << 64) if size == 8 and value >= 1 << 63 else value
        if kind == _UID:
            return _Uid(self._uint(start, low + 1))
        if kind == _DATA:
            if start + low > self._end:
                raise ValueError("data runs past the end of the property list")
            return self._data[start : start + low]
        return None


def parse_record(blob: bytes) -> FileRecord:
    """An MBFile from its NSKeyedArchiver binary plist; ValueError when it is not one."""
    if len(blob) > MAX_RECORD:
        raise ValueError(f"file record of {len(blob)} bytes is larger than any real one")
    try:
        plist = _Plist(blob)
        archive = plist.dictionary(plist.top, _ARCHIVE)
        objects = plist.array(_member(archive, "$objects"))

        def archived(ref: int, wanted: dict[bytes, str]) -> dict[str, int]:  # the object a UID at ``ref`` names
            uid = plist.scalar(ref)
            if not isinstance(uid, _Uid) or uid.value >= len(objects):
                raise ValueError("archived object reference out of range")
            return plist.dictionary(objects[uid.value], wanted)

        root = archived(_member(plist.dictionary(_member(archive, "$top"), _TOP), "root"), _ROOT)
        values = {name: plist.scalar(ref) for name, ref in root.items() if name != "EncryptionKey"}
        wrapped = None
        if "EncryptionKey" in root:
            holder = archived(root["EncryptionKey"], _HOLDER)
            wrapped = plist.scalar(holder["NS.data"]) if "NS.data" in holder else None
    except (struct.error, UnicodeDecodeError, IndexError) as exc:  # IndexError: a length byte past the end
        raise ValueError(f"not an MBFile record ({exc})") from exc
    size = _int(values.get("Size"))
    return FileRecord(
        size if size is not None and size >= 0 else None,
        _unix(values.get("LastModified")),
        _unix(values.get("LastStatusChange")),
        _unix(values.get("Birth")),
        _int(values.get("InodeNumber")),
        _int(values.get("ProtectionClass")),
        wrapped if isinstance(wrapped, bytes) else None,
    )


def _member(mapping: dict[str, int], name: str) -> int:
    if name not in mapping:
        raise ValueError(f"not an MBFile record (no {name})")
    return mapping[name]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _unix(value: object) -> datetime | None:
    seconds = _int(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
