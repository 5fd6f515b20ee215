"""Which bytes of a file system are free: read from each file system's own allocation map.

The map the file system itself keeps is what decides whether a cluster is free (the operating system
allocates from it), so "unallocated space" is read from it and from nothing else:

- FAT12/16/32: the first FAT (entry 0 = free);
- NTFS: ``$Bitmap`` (MFT record 6), one bit a cluster, least significant bit first;
- exFAT: the allocation bitmap named in the root folder (TSK shows it as ``$ALLOC_BITMAP``), one bit a
  cluster of the cluster heap from cluster 2, least significant bit first;
- ext2/3/4: each block group's block bitmap (found through the group descriptors), least significant bit
  first; a group flagged ``BLOCK_UNINIT`` has no bitmap on disk: its blocks are free except the group
  metadata (superblock backup, descriptors, bitmaps, inode tables) the descriptors place in it;
- HFS+: the allocation file (CNID 6; TSK reads its extents, overflow included), one bit a block, most
  significant bit first.

The alternative, "allocated = the union of the data runs of every allocated file", was not taken: it
needs every file listed first, misses blocks the file system allocated to no listed file (inode tables,
journals, B-trees; and, forensically most important, blocks a damaged or hostile directory hides), and
it disagrees with what the operating system would overwrite next. It is used only where a file system
keeps no allocation map at all (ISO 9660: space no file extent covers).

Every map is turned into runs with numpy (``np.unpackbits`` and one ``np.diff``), never a Python loop
per block; a loop per ext block group (32 768 blocks each) is the only one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

from safenet.evidence.model import EvidenceError

Runs = list[tuple[int, int]]  # (byte offset in the file system, length)
Read = Callable[[int, int], bytes]

_EXT_MAGIC = 0xEF53
_INCOMPAT_META_BG = 0x10
_INCOMPAT_64BIT = 0x80
_RO_SPARSE_SUPER = 0x1
_BG_BLOCK_UNINIT = 0x2
_CHUNK = 1 << 20  # bitmap bytes unpacked at a time
_MAX_BLOCKS = 1 << 34  # 64 TiB of 4 KiB blocks (a 2 GiB packed map): a larger count is a damaged superblock


def bitmap_free(
    bitmap: bytes, count: int, start: int, unit: int, bitorder: Literal["big", "little"] = "little"
) -> Runs:
    """Byte runs of the clear bits among the first ``count`` of ``bitmap`` (bit i: ``unit`` bytes at
    ``start + i * unit``). Bits the bitmap is too short to hold count as allocated (nothing is guessed).

    The bitmap is unpacked 8 Mi bits at a time, so a 2 TB volume's map costs tens of MiB, not gigabytes."""
    packed = np.frombuffer(bitmap, np.uint8)
    out: Runs = []
    for lo in range(0, min(len(packed), -(-count // 8)), _CHUNK):
        bits = np.unpackbits(packed[lo : lo + _CHUNK], bitorder=bitorder)[: count - lo * 8]
        part = runs(bits == 0, start + lo * 8 * unit, unit)
        if out and part and sum(out[-1]) == part[0][0]:  # a free stretch across two chunks: one run
            out[-1] = (out[-1][0], out[-1][1] + part.pop(0)[1])
        out.extend(part)
    return out


def _set_bits(packed: npt.NDArray[np.uint8], first: int, count: int) -> None:
    """Set bits ``[first, first + count)`` of a least-significant-bit-first bitmap (clipped to it)."""
    first, end = max(0, first), min(first + count, len(packed) * 8)
    if first >= end:
        return
    a, b = first // 8, (end - 1) // 8
    if a == b:
        packed[a] |= ((1 << (end - first)) - 1) << (first % 8)
        return
    packed[a] |= (0xFF << (first % 8)) & 0xFF
    packed[a + 1 : b] = 0xFF
    packed[b] |= (1 << ((end - 1) % 8 + 1)) - 1


def fat_free(read: Read) -> Runs:
    """Byte runs of the free clusters of a FAT12/16/32 volume, from its first FAT (entry 0: free)."""
    boot = read(0, 512)
    sector, per_cluster, reserved, fats = (
        int.from_bytes(boot[11:13], "little"),
        boot[13],
        int.from_bytes(boot[14:16], "little"),
        boot[16],
    )
    roots = int.from_bytes(boot[17:19], "little")
    total = int.from_bytes(boot[19:21], "little") or int.from_bytes(boot[32:36], "little")
    fat_sectors = int.from_bytes(boot[22:24], "little") or int.from_bytes(boot[36:40], "little")
    if not (sector and per_cluster and fats and fat_sectors):
        return []
    first_data = reserved + fats * fat_sectors + (roots * 32 + sector - 1) // sector
    clusters = max(0, (total - first_data) // per_cluster)
    table = np.frombuffer(read(reserved * sector, fat_sectors * sector), np.uint8)
    entries: npt.NDArray[np.uint32]
    if clusters < 4085:  # FAT12: two 12-bit entries in three bytes
        triples = table[: len(table) // 3 * 3].reshape(-1, 3).astype(np.uint32)
        entries = np.empty(len(triples) * 2, np.uint32)
        entries[0::2] = triples[:, 0] | ((triples[:, 1] & 0x0F) << 8)
        entries[1::2] = (triples[:, 1] >> 4) | (triples[:, 2] << 4)
    elif clusters < 65525:
        entries = np.frombuffer(table[: len(table) // 2 * 2].tobytes(), "<u2").astype(np.uint32)
    else:
        entries = np.frombuffer(table[: len(table) // 4 * 4].tobytes(), "<u4").astype(np.uint32) & np.uint32(0x0FFFFFFF)
    free = entries[2 : clusters + 2] == 0
    return runs(free, first_data * sector, per_cluster * sector)


def exfat_free(read: Read, bitmap: bytes) -> Runs:
    """Byte runs of the free clusters of an exFAT volume from its allocation bitmap (bit 0: cluster 2)."""
    boot = read(0, 512)
    heap, clusters = int.from_bytes(boot[88:92], "little"), int.from_bytes(boot[92:96], "little")
    sector = 1 << boot[108]
    cluster = sector << boot[109]
    if boot[3:11] != b"EXFAT   " or not clusters:
        raise EvidenceError("exFAT boot sector unreadable")
    return bitmap_free(bitmap, clusters, heap * sector, cluster)


def ext_free(read: Read) -> Runs:
    """Byte runs of the free blocks of an ext2/3/4 file system, from its block-group bitmaps."""
    sb = read(1024, 1024)
    if len(sb) < 1024 or int.from_bytes(sb[0x38:0x3A], "little") != _EXT_MAGIC:
        raise EvidenceError("ext superblock unreadable")

    def u32(buf: bytes, at: int) -> int:
        return int.from_bytes(buf[at : at + 4], "little")

    incompat, ro_compat = u32(sb, 0x60), u32(sb, 0x64)
    wide = bool(incompat & _INCOMPAT_64BIT)
    blocks = u32(sb, 0x04) | (u32(sb, 0x150) << 32 if wide else 0)
    first, log, per_group = u32(sb, 0x14), u32(sb, 0x18), u32(sb, 0x20)
    inodes_per_group, inode_size = u32(sb, 0x28), int.from_bytes(sb[0x58:0x5A], "little") or 128
    if log > 6 or not per_group or per_group % 8 or blocks <= first or blocks > _MAX_BLOCKS:
        raise EvidenceError("ext superblock values out of range")
    bs = 1024 << log
    groups = -(-(blocks - first) // per_group)
    desc_size = (int.from_bytes(sb[0xFE:0x100], "little") or 32) if wide else 32
    per_block = bs // desc_size
    gdt_blocks = -(-groups // per_block)
    reserved_gdt = int.from_bytes(sb[0xCE:0xD0], "little")
    sparse = bool(ro_compat & _RO_SPARSE_SUPER)
    table_blocks = -(-inodes_per_group * inode_size // bs)

    def has_super(g: int) -> bool:
        if g <= 1 or not sparse:
            return True
        for base in (3, 5, 7):
            n = base
            while n < g:
                n *= base
            if n == g:
                return True
        return False

    def group_start(g: int) -> int:
        return first + g * per_group

    if incompat & _INCOMPAT_META_BG:  # descriptor blocks after s_first_meta_bg live in their meta group
        first_meta = u32(sb, 0x104)
        parts = []
        for i in range(gdt_blocks):
            if i < first_meta:
                at = first + 1 + i
            else:
                g = i * per_block
                at = group_start(g) + has_super(g)
            parts.append(read(at * bs, bs))
        gdt = b"".join(parts)
    else:
        gdt = read((first + 1) * bs, gdt_blocks * bs)
    if len(gdt) < groups * desc_size:
        raise EvidenceError("ext group descriptors unreadable")
    bitmap_bytes = per_group // 8
    maps = np.zeros((groups, bitmap_bytes), np.uint8)  # packed: 16 MiB per TB of 4 KiB blocks
    used: list[tuple[int, int]] = []
    for g in range(groups):
        d = gdt[g * desc_size : (g + 1) * desc_size]
        block_map = u32(d, 0) | (u32(d, 0x20) << 32 if desc_size >= 64 else 0)
        inode_map = u32(d, 4) | (u32(d, 0x24) << 32 if desc_size >= 64 else 0)
        table = u32(d, 8) | (u32(d, 0x28) << 32 if desc_size >= 64 else 0)
        used += [(block_map, 1), (inode_map, 1), (table, table_blocks)]
        if has_super(g):
            meta = 1 if incompat & _INCOMPAT_META_BG else 1 + gdt_blocks + reserved_gdt
            used.append((group_start(g), meta))
        if int.from_bytes(d[0x12:0x14], "little") & _BG_BLOCK_UNINIT:
            continue  # no bitmap on disk: all free but the metadata marked below
        if not 0 < block_map < blocks:
            raise EvidenceError(f"ext group {g}: block bitmap at {block_map} lies outside the file system")
        row = read(block_map * bs, bitmap_bytes)
        maps[g, : len(row)] = np.frombuffer(row, np.uint8)
    packed = maps.reshape(-1)
    for start, count in used:  # group metadata is allocated whatever an uninitialised bitmap says
        if start < blocks:
            _set_bits(packed, start - first, min(count, blocks - start))
    return bitmap_free(packed.tobytes(), blocks - first, first * bs, bs)  # bit 0: block s_first_data_block


def uncovered(allocated: list[tuple[int, int]], count: int, unit: int) -> Runs:
    """Byte runs of the blocks in ``[0, count)`` no (start, end) block range of ``allocated`` covers."""
    free = np.ones(count, bool)
    for start, end in allocated:
        free[max(0, start) : max(0, min(end, count))] = False
    return runs(free, 0, unit)


def runs(free: npt.NDArray[np.bool_], start: int, unit: int) -> Runs:
    """(offset, length) byte runs of the True stretches of ``free`` (unit bytes each, from ``start``)."""
    edge = np.zeros(1, np.int8)  # int8 throughout: a Python 0 would widen the whole array to int64
    edges = np.flatnonzero(np.diff(np.concatenate((edge, free.view(np.int8), edge))))
    return [(start + int(a) * unit, int(b - a) * unit) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def subtract(runs: Runs, cut: Runs) -> Runs:
    """``runs`` less the byte ranges in ``cut`` (both as (offset, length); ``cut`` sorted)."""
    merged: Runs = []
    for a, n in cut:  # overlapping ranges joined, so one look back from a bisection is enough
        if merged and a <= merged[-1][0] + merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], a + n - merged[-1][0]))
        elif n > 0:
            merged.append((a, n))
    cut = merged
    out: Runs = []
    starts = [a for a, _ in cut]
    for offset, length in runs:
        pos, end = offset, offset + length
        i = max(0, bisect.bisect_right(starts, pos) - 1)
        while pos < end and i < len(cut):
            a, n = cut[i]
            if a + n <= pos:
                i += 1
                continue
            if a >= end:
                break
            if a > pos:
                out.append((pos, a - pos))
            pos = max(pos, a + n)
            i += 1
        if pos < end:
            out.append((pos, end - pos))
    return out


def slack_runs(
    runs_: list[tuple[int, int, bool]], size: int, block_size: int, cluster: int = 0, sector: int = 512
) -> Runs:
    """File slack of one stream: the bytes of its allocated blocks past its end, as file-system byte runs.

    ``runs_`` are the stream's runs in file order as (first block, block count, hole) with sparse and
    filler runs as holes. Each slack run starts on the next ``sector`` boundary after the file's end: the
    rest of the last sector ("RAM slack") is zero-filled by every current system and no earlier file can
    start inside a sector, so a carve still starts on a sector boundary of the disk. Slack ends with the
    cluster (``cluster``; the block size by default) that holds the file's last byte: clusters allocated
    past it (NTFS, ext4 preallocation) or runs a damaged record claims are not slack, so they cannot
    bring a live file's content in again.
    """
    out: Runs = []
    pos = 0
    unit = cluster or block_size
    limit = -(-size // unit) * unit
    for addr, count, hole in runs_:
        start, end = pos, min(pos + count * block_size, limit)
        pos += count * block_size
        if hole or end <= size:
            continue
        lo = max(size, start)
        disk = addr * block_size + (lo - start)
        aligned = -(-disk // sector) * sector
        tail = addr * block_size + (end - start)
        if tail > aligned:
            out.append((aligned, tail - aligned))
    return out
