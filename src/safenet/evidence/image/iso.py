"""ISO 9660: the names every directory hierarchy gives a file, not only the one TSK shows.

An ISO 9660 volume may hold several directory hierarchies (the primary one, Joliet, others), and they
need not list the same files. TSK names files from one hierarchy only; files listed only in another one
come out as ``$OrphanFiles/OrphanFile-N``. DFTT test #14 is built on exactly this. This module walks
every hierarchy's directory records (a few sectors per folder) and maps each file's data offset to its
path there, so those files keep their real names. It also notes files whose start block differs between
the little- and big-endian copies ISO 9660 stores (DFTT #14 iso-endian): the content read could be the
wrong one, which the report must say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SECTOR = 2048
_FIRST_DESCRIPTOR = 16
_MAX_DESCRIPTORS = 64
_MAX_RECORDS = 200_000  # more than any real disc: a crafted loop
_MAX_DEPTH = 64
_JOLIET = (b"%/@", b"%/C", b"%/E")

Read = Callable[[int, int], bytes]  # (offset, size) -> bytes


@dataclass
class Hierarchies:
    """File data offset -> (path, hierarchy name); and the files whose two start-block copies differ."""

    names: dict[int, tuple[str, str]] = field(default_factory=dict)
    endian_mismatch: list[tuple[str, int, int]] = field(default_factory=list)  # (path, little, big)


def scan(read: Read) -> Hierarchies:
    """Walk every primary and supplementary volume descriptor's directory tree."""
    out = Hierarchies()
    for index in range(_MAX_DESCRIPTORS):
        descriptor = read((_FIRST_DESCRIPTOR + index) * SECTOR, SECTOR)
        if len(descriptor) < SECTOR or descriptor[1:6] != b"CD001" or descriptor[0] == 255:
            break
        if descriptor[0] not in (1, 2):
            continue
        joliet = descriptor[0] == 2 and descriptor[88:91] in _JOLIET
        label = "primary" if descriptor[0] == 1 else ("Joliet" if joliet else "supplementary")
        _walk(read, descriptor[156:190], joliet, f"{label} #{index}", out)
    return out


def _walk(read: Read, root: bytes, joliet: bool, label: str, out: Hierarchies) -> None:
    stack = [("", int.from_bytes(root[2:6], "little"), int.from_bytes(root[10:14], "little"), 0)]
    seen: set[int] = set()
    records = 0
    while stack:
        path, extent, size, depth = stack.pop()
        if extent in seen or depth > _MAX_DEPTH or size > 64 * SECTOR * 1024:
            continue
        seen.add(extent)
        data = read(extent * SECTOR, size)
        pos = 0
        while pos < len(data) and records < _MAX_RECORDS:
            length = data[pos]
            if length == 0:  # records never cross a sector: the rest of this one is padding
                pos = (pos // SECTOR + 1) * SECTOR
                continue
            record = data[pos : pos + length]
            pos += length
            records += 1
            if len(record) < 34 or record[32] == 0:
                continue
            raw = record[33 : 33 + record[32]]
            if raw in (b"\x00", b"\x01"):
                continue  # "." and ".."
            child = f"{path}/{_name(raw, joliet)}"
            little = int.from_bytes(record[2:6], "little")
            big = int.from_bytes(record[6:10], "big")
            if record[25] & 0x02:
                stack.append((child, little, int.from_bytes(record[10:14], "little"), depth + 1))
                continue
            if little != big and all((lo, bi) != (little, big) for _, lo, bi in out.endian_mismatch):
                out.endian_mismatch.append((child, little, big))  # once, though each hierarchy lists it
            for block in {little, big}:
                out.names.setdefault(block * SECTOR, (child, label))


def _name(raw: bytes, joliet: bool) -> str:
    text = raw.decode("utf-16-be", "replace") if joliet else raw.decode("ascii", "replace")
    text = text.split(";", 1)[0]  # version number: "FILE1.TXT;1"
    return text.removesuffix(".") or "_"
