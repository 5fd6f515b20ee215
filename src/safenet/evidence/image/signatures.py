"""File-system signatures at the start of a volume: which file systems a volume says it holds.

Re-formatting a partition writes only what the new file system needs, so the old one's marks can
survive: an NTFS boot sector (sector 0) beside an ext2 superblock (byte 1024), say. TSK then refuses to
choose ("multiple file system types detected") and dfVFS picks one, so nothing or only one of them would
be examined. The scanner looks for every signature here and examines each file system that opens.
"""

from __future__ import annotations

#: Bytes to read from a volume's start: the ISO 9660 primary volume descriptor lies at 32 KiB.
HEAD = 32768 + 2048

#: Family -> its name for people. The family keys are also the TSK kinds in ``tsk`` (see ``tsk.open_kind``).
SHOWN = {"NTFS": "NTFS", "exFAT": "exFAT", "FAT": "FAT", "EXT": "ext2/3/4", "HFS": "HFS+", "ISO9660": "ISO 9660"}

#: A file-system name (TSK's, dfVFS's, or what a user types for ``--filesystem``) -> its family.
_FAMILY = {
    "ntfs": "NTFS",
    "exfat": "exFAT",
    **dict.fromkeys(("fat", "fat12", "fat16", "fat32", "vfat"), "FAT"),
    **dict.fromkeys(("ext", "ext2", "ext3", "ext4"), "EXT"),
    **dict.fromkeys(("hfs", "hfs+", "hfsplus"), "HFS"),
    **dict.fromkeys(("iso9660", "iso"), "ISO9660"),
}
#: What ``--filesystem`` accepts, for its help and its error message.
CHOICES = ("ntfs", "fat", "exfat", "ext", "hfs", "iso9660")


def family(name: str) -> str | None:
    """The family of a file-system name ("ext4" and "EXT" -> "EXT"); None for one not listed here."""
    return _FAMILY.get(name.lower())


def families(head: bytes) -> list[str]:
    """The families whose signature is in ``head`` (the first :data:`HEAD` bytes of a volume), in a fixed order."""
    found: list[str] = []
    boot = head[:512]
    if boot[3:11] == b"NTFS    ":
        found.append("NTFS")
    elif boot[3:11] == b"EXFAT   ":
        found.append("exFAT")
    elif boot[510:512] == b"\x55\xaa" and (boot[54:57] == b"FAT" or boot[82:87] == b"FAT32"):
        found.append("FAT")
    if head[1080:1082] == b"\x53\xef":  # the ext superblock (at 1024) magic
        found.append("EXT")
    if head[1024:1026] in (b"H+", b"HX"):  # the HFS+ / HFSX volume header
        found.append("HFS")
    if head[32769:32774] == b"CD001":
        found.append("ISO9660")
    return found
