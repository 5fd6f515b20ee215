"""File systems read with The Sleuth Kit (pytsk3), on top of the volume dfVFS opened.

Why pytsk3 here and not dfVFS's own file-system readers: TSK walks *unallocated* directory entries and
collects orphan files (``$OrphanFiles``), gives the data runs of deleted files (so their content can be
read and their recoverability judged), and exposes every NTFS data attribute (alternate data streams,
resident data). dfVFS's libyal readers list live files only. dfVFS still does everything beneath: the
image format, the partition table and the decryption; TSK sees its file object through dfVFS's own
``TSKFileSystemImage`` adapter.

Deleted content is judged from metadata only, never guessed: a deleted file whose clusters now belong
to a live file is noted as possibly overwritten; a deleted FAT file larger than one cluster is noted as
possibly wrong (FAT keeps no cluster chain for deleted files: TSK assumes the next free clusters); a
deleted name whose metadata record was reused, or whose block pointers were wiped (ext3/4), has no
recoverable content and is counted, not listed.
"""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

import numpy as np
import numpy.typing as npt
import pytsk3
from dfvfs.lib.tsk_image import TSKFileSystemImage

from safenet.evidence.image import iso
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, TimeSource, Timestamp, WarningSink
from safenet.evidence.streams import SizedReader

_FS_NAMES = {
    pytsk3.TSK_FS_TYPE_NTFS: "NTFS",
    pytsk3.TSK_FS_TYPE_FAT12: "FAT12",
    pytsk3.TSK_FS_TYPE_FAT16: "FAT16",
    pytsk3.TSK_FS_TYPE_FAT32: "FAT32",
    pytsk3.TSK_FS_TYPE_EXFAT: "exFAT",
    pytsk3.TSK_FS_TYPE_EXT2: "ext2",
    pytsk3.TSK_FS_TYPE_EXT3: "ext3",
    pytsk3.TSK_FS_TYPE_EXT4: "ext4",
    pytsk3.TSK_FS_TYPE_HFS: "HFS+",
    pytsk3.TSK_FS_TYPE_ISO9660: "ISO9660",
}
#: FILESYSTEM layer details read through TSK (stored in case files: never rename).
TSK_NAMES = frozenset(_FS_NAMES.values())
_FAT = frozenset({"FAT12", "FAT16", "FAT32", "exFAT"})
_TIME_PRECISION = {"FAT12": 2.0, "FAT16": 2.0, "FAT32": 2.0, "exFAT": 0.01, "HFS+": 1.0, "ISO9660": 1.0}

_UNALLOC_NAME = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_ALLOC_META = int(pytsk3.TSK_FS_META_FLAG_ALLOC)
_UNALLOC_META = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_NONRES = int(pytsk3.TSK_FS_ATTR_NONRES)
_FILLER = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER) | int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE)
_NTFS_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_PLAIN_DATA = {
    int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DEFAULT),
    int(pytsk3.TSK_FS_ATTR_TYPE_UNIX_EXTENT),
    int(pytsk3.TSK_FS_ATTR_TYPE_UNIX_INDIR),
}
_DIR_TYPES = {int(pytsk3.TSK_FS_META_TYPE_DIR), int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR)}
_REG = int(pytsk3.TSK_FS_META_TYPE_REG)
_UNDEF = int(pytsk3.TSK_FS_META_TYPE_UNDEF)
_EXT = frozenset({"ext2", "ext3", "ext4"})
# Reads of a chunk or more bypass a BufferedReader's buffer (one copy, not two); smaller ones are buffered.
_BUF = 64 << 10
_MAX_DEPTH = 128  # deeper than any real tree: a crafted directory loop
_MAX_ENTRIES = 5_000_000  # a corrupt directory that claims more entries than any volume holds

NOTE_REALLOCATED = "content may be overwritten: clusters reallocated to a live file"
NOTE_FRAGMENTED = (
    "may be fragmented: content may be wrong (FAT keeps no cluster chain for deleted files; the next free "
    "clusters were assumed)"
)
NOTE_RECOVERED = "deleted; content read from clusters named in its metadata, not reallocated"
NOTE_RESIDENT = "deleted; content resident in its metadata record"
NOTE_ORPHAN = "orphan (its folder entry is gone); "
NOTE_EFS = (
    "EFS-encrypted file on a FAT/exFAT volume (Windows keeps it as NAME.PFILE): listed and hashed, but its "
    "content is ciphertext and cannot match a hash set without the user's EFS key"
)
NOTE_LABEL = "FAT volume-label entry with clusters allocated: a label holds no data, so this is hidden content"
_EXFAT_META = frozenset({"$ALLOC_BITMAP", "$UPCASE_TABLE"})


def _ts(seconds: int, nano: int, fs_name: str) -> Timestamp | None:
    if not seconds:
        return None
    fat = fs_name in _FAT
    try:
        if fat:
            # FAT stores a wall-clock time of an unknown zone; TSK turns it into seconds with mktime(),
            # i.e. through the *examiner's* time zone. Undo that so the value is the wall-clock as
            # written whatever TZ Safenet runs under (same evidence => same findings).
            seconds = calendar.timegm(time.localtime(seconds))
        value = datetime.fromtimestamp(seconds + nano / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    precision = _TIME_PRECISION.get(fs_name, 1e-7 if fs_name == "NTFS" else 1e-9)
    return Timestamp(value, TimeSource.FS_METADATA, precision, zone_known=not fat)


@dataclass(frozen=True, slots=True)
class _Stream:
    """One data attribute of a file: where it is, and what is needed to judge a deleted one."""

    name: str  # "" for the default stream
    attr_type: int
    attr_id: int
    size: int
    runs: tuple[tuple[int, int], ...]  # (first block, block count), fillers and sparse runs left out
    resident: bool


class TskFileSystem:
    """One file system opened with TSK on a dfVFS file object (one per thread: TSK handles are not shared)."""

    def __init__(self, file_object: Any) -> None:
        self._file_object = file_object
        try:
            self.fs = pytsk3.FS_Info(TSKFileSystemImage(file_object))
        except OSError as exc:
            raise EvidenceError(f"TSK cannot open the file system: {exc}") from exc
        self.name = _FS_NAMES.get(self.fs.info.ftype, "")
        self.block_size = int(self.fs.info.block_size)
        self.cluster_size = _fat_cluster_size(file_object, self.name) or self.block_size

    # --- enumeration ---------------------------------------------------------------------------
    def items(self, base: Locator, warn: WarningSink) -> Iterator[Item]:
        """Every regular file and data stream, live then (at the end, once allocation is known) deleted."""
        allocated: list[tuple[int, int]] = []
        deleted: list[tuple[Item, tuple[_Stream, ...], bool]] = []
        self.unrecoverable = 0
        self.recovered: list[tuple[int, int]] = []  # byte runs of the deleted files listed with content
        visited: set[int] = set()
        stack: list[tuple[str, Any, int]] = [("", self.fs.open_dir(path="/"), 0)]
        seen = 0
        while stack:
            path, directory, depth = stack.pop()
            subdirs: list[tuple[str, Any, int]] = []
            try:
                for entry in directory:
                    seen += 1
                    if seen > _MAX_ENTRIES:
                        warn(EvidenceWarning("fs-corrupt", "too many directory entries; listing stopped", base))
                        return
                    sub = self._entry(entry, path, depth, base, visited, allocated, deleted, warn)
                    if isinstance(sub, tuple):
                        subdirs.append(sub)
                    elif sub is not None:
                        yield from sub
            except OSError as exc:
                warn(EvidenceWarning("fs-corrupt", f"directory unreadable: {exc}", self._loc(base, path or "/")))
            stack.extend(reversed(subdirs))
        allocated.sort()
        starts = [start for start, _ in allocated]
        hierarchies = self._iso(base, warn) if self.name == "ISO9660" else None
        for item, streams, orphan in deleted:
            if hierarchies is not None and orphan:
                yield _iso_named(item, hierarchies)
                continue
            note = self._note(streams, item.size or 0, allocated, starts)
            self.recovered.extend((a * self.block_size, n * self.block_size) for s in streams for a, n in s.runs)
            yield Item(
                item.locator,
                item.name,
                item.size,
                item.modified,
                item.accessed,
                item.changed,
                item.created,
                deleted=True,
                note=(NOTE_ORPHAN if orphan else "") + note,
            )
        if self.unrecoverable:
            warn(
                EvidenceWarning(
                    "deleted-unrecoverable",
                    f"{self.unrecoverable} deleted file name(s) whose metadata was reused or wiped: content "
                    "not recoverable from file-system metadata (carving may find it)",
                    base,
                )
            )

    def _iso(self, base: Locator, warn: WarningSink) -> iso.Hierarchies:
        def read(offset: int, size: int) -> bytes:
            self._file_object.seek(offset)
            return bytes(self._file_object.read(size))

        found = iso.scan(read)
        for path, little, big in found.endian_mismatch:
            warn(
                EvidenceWarning(
                    "fs-corrupt",
                    f"ISO 9660 start block differs between its little-endian ({little}) and big-endian ({big}) "
                    "copies: the content read may not be the one the disc's author meant",
                    self._loc(base, path),
                )
            )
        return found

    def _entry(
        self,
        entry: Any,
        path: str,
        depth: int,
        base: Locator,
        visited: set[int],
        allocated: list[tuple[int, int]],
        deleted: list[tuple[Item, tuple[_Stream, ...], bool]],
        warn: WarningSink,
    ) -> list[Item] | tuple[str, Any, int] | None:
        name_info = entry.info.name
        raw = name_info.name
        if raw in (b".", b".."):
            return None
        name = raw.decode("utf-8", "surrogateescape")
        child = f"{path}/{name}"
        meta = entry.info.meta
        name_gone = bool(int(name_info.flags) & _UNALLOC_NAME)
        if meta is None and name_gone:  # TSK leaves a deleted name's metadata unloaded: load it
            try:
                entry = self.fs.open_meta(inode=name_info.meta_addr)
                meta = entry.info.meta
            except OSError:
                meta = None
        if meta is None or (name_gone and int(meta.type) == _UNDEF):
            self.unrecoverable += name_gone  # no metadata, or a wiped record (ext2/3/4 clear the inode)
            return None
        meta_flags = int(meta.flags)
        if name_gone and meta_flags & _ALLOC_META:  # the record now belongs to another file
            self.unrecoverable += 1
            return None
        if self.name == "NTFS" and meta.addr < 27 and (path == "/$OrphanFiles" or (not path and name.startswith("$"))):
            return None  # NTFS metadata files ($MFT, $BadClus ...) and reserved records 16-26: not user content
        if self.name == "exFAT" and not path and name in _EXFAT_META and not (meta.mtime or meta.crtime):
            return None  # TSK's names for the allocation bitmap and up-case table: no times, not user content
        meta_type = int(meta.type)
        is_deleted = name_gone or bool(meta_flags & _UNALLOC_META)
        if meta_type in _DIR_TYPES:
            if meta.addr in visited or depth >= _MAX_DEPTH:
                if depth >= _MAX_DEPTH:
                    warn(EvidenceWarning("fs-corrupt", "folder nesting too deep; not entered", self._loc(base, child)))
                return None
            visited.add(meta.addr)
            try:
                return child, self.fs.open_dir(inode=meta.addr), depth + 1
            except OSError:
                if not is_deleted:
                    warn(EvidenceWarning("fs-corrupt", "folder unreadable", self._loc(base, child, meta.addr)))
                return None
        if meta_type != _REG:
            return None  # links, devices, TSK's virtual files ($MBR, $FAT1)
        streams = self._streams(entry)
        size = int(meta.size)
        label = name.endswith("(Volume Label Entry)")
        if label and not (size and any(s.runs for s in streams)):
            return None  # a plain FAT volume label: a name, no content
        orphan = path.startswith("/$OrphanFiles")
        times = (
            _ts(meta.mtime, getattr(meta, "mtime_nano", 0), self.name),
            _ts(meta.atime, getattr(meta, "atime_nano", 0), self.name),
            _ts(meta.ctime, getattr(meta, "ctime_nano", 0), self.name),
            _ts(meta.crtime, getattr(meta, "crtime_nano", 0), self.name),
        )
        loc = self._loc(base, child, int(meta.addr), streams[0] if streams else None)
        if not is_deleted:
            for stream in streams:
                allocated.extend((start, start + count) for start, count in stream.runs)
        elif not any(s.runs or s.resident for s in streams if not s.name) and (size > 0 or self.name in _EXT):
            self.unrecoverable += 1  # ext3/4 wipe block pointers (and the size) on delete
            return None
        default = next((s for s in streams if not s.name), None)
        out = [Item(loc, name, default.size if default else size, *times, note=NOTE_LABEL if label else None)]
        out.extend(
            Item(loc.child(Layer(LayerKind.STREAM, s.name)), f"{name}:{s.name}", s.size, *times)
            for s in streams
            if s.name
        )
        if self.name in _FAT and name.upper().endswith(".PFILE"):
            warn(EvidenceWarning("encrypted-member", NOTE_EFS, loc))
        if not is_deleted:
            return out
        for item in out:
            leaf = item.locator.leaf
            wanted = leaf.value if leaf.kind is LayerKind.STREAM else ""
            deleted.append((item, tuple(s for s in streams if s.name == wanted), orphan))
        return None

    def _streams(self, entry: Any) -> tuple[_Stream, ...]:
        out: list[_Stream] = []
        ntfs = self.name == "NTFS"
        try:
            for attr in entry:
                info = attr.info
                kind = int(info.type)
                if ntfs and kind != _NTFS_DATA:
                    continue  # $STANDARD_INFORMATION, $FILE_NAME, indexes ...: metadata, not content
                if not ntfs and (out or kind not in _PLAIN_DATA):
                    continue  # one content stream; HFS+ resource forks and extended attributes are not read
                raw = info.name or b""
                name = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)
                if not ntfs or name == "$Data":
                    name = ""
                resident = not (int(info.flags) & _NONRES)
                runs: list[tuple[int, int]] = []
                if not resident:
                    for run in attr:
                        if not int(run.flags) & _FILLER and run.len:
                            runs.append((int(run.addr), int(run.len)))
                out.append(_Stream(name, kind, int(info.id), int(info.size), tuple(runs), resident))
        except OSError:
            pass  # attributes unreadable: the default stream is still tried when the item is read
        return tuple(out)

    def _note(
        self, streams: tuple[_Stream, ...], size: int, allocated: list[tuple[int, int]], starts: list[int]
    ) -> str:
        stream = streams[0] if streams else None
        if stream is not None and stream.resident:
            return NOTE_RESIDENT
        runs = stream.runs if stream else ()
        for start, count in runs:
            i = bisect.bisect_right(starts, start + count - 1) - 1
            if i >= 0 and allocated[i][1] > start:
                return NOTE_REALLOCATED
            if i + 1 < len(allocated) and allocated[i + 1][0] < start + count:
                return NOTE_REALLOCATED
        if self.name in _FAT and (size > self.cluster_size or len(runs) > 1):
            return NOTE_FRAGMENTED
        return NOTE_RECOVERED

    def _loc(self, base: Locator, path: str, inode: int | None = None, stream: _Stream | None = None) -> Locator:
        offset = stream.runs[0][0] * self.block_size if stream is not None and stream.runs else None
        return base.child(Layer(LayerKind.PATH, path or "/", inode=inode, offset=offset))

    # --- unallocated space -------------------------------------------------------------------------
    def unallocated(self) -> list[tuple[int, int]] | None:
        """Byte runs (offset in the file system, length) of unallocated clusters to carve; None if not
        supported here (FAT12/16/32 and NTFS are; exFAT, ext and the others not yet).

        Call after :meth:`items`. Rule against reporting a file twice: the runs of every deleted file
        :meth:`items` listed with content (``self.recovered``) are left out, so carving finds only what
        file-system metadata no longer names. Content a deleted FAT file's assumed runs missed (a
        fragmented one) stays in the region, since its true clusters are not the ones left out.
        """
        if self.name in ("FAT12", "FAT16", "FAT32"):
            free = _fat_free(self._read)
        elif self.name == "NTFS":
            free = self._ntfs_free()
        else:
            return None
        return _subtract(free, sorted(getattr(self, "recovered", [])))

    def open_region(self, runs: list[tuple[int, int]], base: int | None) -> BinaryIO:
        """A seekable stream of ``runs`` (from :meth:`unallocated`) end to end; ``base`` is the file
        system's offset in the image where known (carve notes then give the image offset)."""
        return RegionReader(_RegionRaw(self._read, runs), base)

    def _read(self, offset: int, size: int) -> bytes:
        self._file_object.seek(offset)
        return bytes(self._file_object.read(size))

    def _ntfs_free(self) -> list[tuple[int, int]]:
        """Clear bits of ``$Bitmap`` (MFT record 6): one bit a cluster, least significant bit first."""
        stream = self.open(Layer(LayerKind.PATH, "/$Bitmap", inode=6), None)
        with stream:
            bits = np.unpackbits(np.frombuffer(stream.read(), np.uint8), bitorder="little")
        clusters = int(self.fs.info.block_count)
        return _runs(bits[:clusters] == 0, 0, self.block_size)

    # --- reading ---------------------------------------------------------------------------------
    def open(self, path_layer: Layer, stream_name: str | None) -> BinaryIO:
        if path_layer.inode is None:
            raise EvidenceError(f"no inode recorded for {path_layer.value}; cannot reopen")
        try:
            file = self.fs.open_meta(inode=path_layer.inode)
        except OSError as exc:
            raise EvidenceError(f"metadata entry {path_layer.inode} unreadable: {exc}") from exc
        if stream_name is None:
            default = next((s for s in self._streams(file) if not s.name), None)
            if default is None:
                size = int(file.info.meta.size)
                return _reader(file, size, int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT), -1)
            return _reader(file, default.size, default.attr_type, default.attr_id)
        for stream in self._streams(file):
            if stream.name == stream_name:
                return _reader(file, stream.size, stream.attr_type, stream.attr_id)
        raise EvidenceError(f"stream {stream_name} not found in metadata entry {path_layer.inode}")


def _iso_named(item: Item, hierarchies: iso.Hierarchies) -> Item:
    """A file TSK found no name for on an ISO 9660 volume, named from the hierarchy that lists it.

    ISO 9660 deletes nothing: such a file is live, only listed in a directory tree TSK did not show.
    """
    leaf = item.locator.leaf
    found = hierarchies.names.get(leaf.offset) if leaf.offset is not None else None
    if found is None:
        return dataclasses.replace(item, note="on no ISO 9660 directory hierarchy: an unnamed extent")
    path, label = found
    locator = Locator((*item.locator.layers[:-1], dataclasses.replace(leaf, value=path)))
    name = path.rsplit("/", 1)[-1]
    note = f"listed only in the {label} ISO 9660 directory hierarchy (another one is the default view)"
    return dataclasses.replace(item, locator=locator, name=name, note=note)


def detect(file_object: Any) -> str:
    """The name of the file system TSK finds on a volume ("" if none): used where dfVFS's own
    detection gives up (it refuses exFAT inside an MBR partition, for one), since TSK reads it anyway."""
    try:
        fs = pytsk3.FS_Info(TSKFileSystemImage(file_object))
    except OSError:
        return ""
    return _FS_NAMES.get(fs.info.ftype, "")


def _fat_cluster_size(file_object: Any, fs_name: str) -> int:
    """FAT cluster size from the boot sector (TSK counts FAT in sectors and does not expose clusters)."""
    if fs_name not in _FAT:
        return 0
    file_object.seek(0)
    boot = bytes(file_object.read(512))
    if len(boot) < 512:
        return 0
    if fs_name == "exFAT":
        return int((1 << boot[108]) << boot[109])
    return int.from_bytes(boot[11:13], "little") * boot[13]


def _fat_free(read: Any) -> list[tuple[int, int]]:
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
    return _runs(free, first_data * sector, per_cluster * sector)


def _runs(free: npt.NDArray[np.bool_], start: int, unit: int) -> list[tuple[int, int]]:
    """(offset, length) byte runs of the True stretches of ``free`` (unit bytes each, from ``start``)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], free.astype(np.int8), [0]))))
    return [(start + int(a) * unit, int(b - a) * unit) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def _subtract(runs: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``runs`` less the byte ranges in ``cut`` (both as (offset, length); ``cut`` sorted)."""
    merged: list[tuple[int, int]] = []
    for a, n in cut:  # overlapping ranges joined, so one look back from a bisection is enough
        if merged and a <= merged[-1][0] + merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], a + n - merged[-1][0]))
        elif n > 0:
            merged.append((a, n))
    cut = merged
    out: list[tuple[int, int]] = []
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


def _reader(file: Any, size: int, attr_type: int, attr_id: int) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(_TskRaw(file, size, attr_type, attr_id), buffer_size=_BUF))


class _TskRaw(SizedReader):
    """A seekable read-only view of one TSK attribute."""

    def __init__(self, file: Any, size: int, attr_type: int, attr_id: int) -> None:
        super().__init__(size)
        self._file, self._type, self._id = file, attr_type, attr_id

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._file.read_random(self._pos, want, self._type, self._id)
        if not data:
            raise OSError(f"read failed at offset {self._pos}")
        view = memoryview(buffer).cast("B")
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _RegionRaw(SizedReader):
    """Byte runs of a file system read end to end: region offsets mapped to file-system offsets."""

    def __init__(self, read: Any, runs: list[tuple[int, int]]) -> None:
        super().__init__(sum(length for _, length in runs))
        self._read = read
        self._fs_offsets = [offset for offset, _ in runs]
        self._lengths = [length for _, length in runs]
        self._starts: list[int] = []
        total = 0
        for length in self._lengths:
            self._starts.append(total)
            total += length

    def fs_offset(self, offset: int) -> int | None:
        """The file-system offset of a region offset (None past the end)."""
        if not 0 <= offset < self._size:
            return None
        i = bisect.bisect_right(self._starts, offset) - 1
        return self._fs_offsets[i] + offset - self._starts[i]

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            within = self._pos - self._starts[i]
            want = min(len(view) - done, self._lengths[i] - within)
            data = self._read(self._fs_offsets[i] + within, want)
            if not data:
                if done:
                    break
                raise OSError(f"read failed at region offset {self._pos}")
            view[done : done + len(data)] = data
            done += len(data)
            self._pos += len(data)
            if len(data) < want:
                break
        return done


class RegionReader(io.BufferedReader):
    """A buffered unallocated-space region that can say where a region offset lies on the disk."""

    def __init__(self, raw: _RegionRaw, base: int | None) -> None:
        super().__init__(raw, buffer_size=_BUF)
        self._region = raw
        self._base = base

    def disk_location(self, offset: int) -> str:
        """Where region offset ``offset`` is, in words for a carve note."""
        fs_offset = self._region.fs_offset(offset)
        if fs_offset is None:
            return f"region offset {offset}"
        if self._base is None:
            return f"file-system offset {fs_offset}"
        return f"disk offset {self._base + fs_offset} (file-system offset {fs_offset})"
