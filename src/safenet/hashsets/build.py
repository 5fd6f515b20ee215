"""Building a set: records from a reader become the sorted digest tables of a new set directory.

Why a module of its own: an import must turn a national set (tens of millions of digests) into tables in
bounded memory, and that machinery is needed only while importing, never while matching. ``Builder``
numbers the entries and buffers them as numpy chunks, then sorts and writes one table per digest kind
(layout: ``exact``) into a folder that the store renames into place only when it is complete.

What an import keeps: one entry per record with a usable digest; digests of empty files are dropped (they
match every empty file); the same digest with the same category in several entries is stored once (the
first entry), with different categories once per category, so a conflict between entries stays visible.

PDQ hashes are kept per entry in one perceptual index file (``index.save``: versioned, no pickle) with the
entry numbers and qualities (an entry built from a bordered picture has two: whole and trimmed). Every PDQ
hash is kept; those whose quality is known and below 50 are never indexed for matching (PDQ's own rule:
they say too little about the picture), and the import says how many.

Frames of reference videos (``HashRecord.video_frames``) go twice: into the frame table (``video``: entry,
time, PDQ, quality), which the vPDQ rule needs to match a found video, and into the same PDQ index as
images, so a still taken from a known video is found by the ordinary image lookup.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from safenet.analysis.pdq.core import MIN_QUALITY
from safenet.hashsets import index as perceptual_index
from safenet.hashsets.catalog import CategoryCounts, PerceptualStats, SetContents, TableStats
from safenet.hashsets.categories import Scheme
from safenet.hashsets.exact import CATEGORY_FILE, I64, U8, U64, split_digests, table_path
from safenet.hashsets.formats.base import EMPTY_DIGESTS, BulkDigests
from safenet.hashsets.model import EXACT_KINDS, PDQ_SIZE, HashKind, HashRecord, HashSetError, VideoFrameRecord, WarnFn
from safenet.hashsets.perceptual import PDQ_INDEX_FILE, UNKNOWN_QUALITY, matchable
from safenet.hashsets.video import NO_TRIM, VIDEO_FRAMES_FILE, FrameTable, save_frames
from safenet.owner_only import create_owner_only, open_owner_only

WARNING_LIMIT = 1000
EXTRA_FILE = "extra.sqlite"

CHUNK = 1 << 20  # entries buffered per kind before they become a numpy chunk
MAX_BUCKET_BITS = 24  # 2**24 buckets: 64 MiB of uint32 starts for a 50-million-digest set
_STEP = CHUNK * 4  # rows per slice when a sorted column is scanned or written
_MAX_ENTRIES = 2**32 - 1  # entry numbers are uint32
_EXTRA_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class WarnLimiter:
    """Passes the first WARNING_LIMIT warnings through, then only counts them."""

    def __init__(self, warn: WarnFn) -> None:
        self._warn = warn
        self.count = 0

    def __call__(self, ref: str, message: str) -> None:
        self.count += 1
        if self.count <= WARNING_LIMIT:
            self._warn(ref, message)

    def always(self, ref: str, message: str) -> None:
        """A summary warning: never suppressed, not counted."""
        self._warn(ref, message)

    def finish(self) -> None:
        if self.count > WARNING_LIMIT:
            self._warn("", f"{self.count - WARNING_LIMIT} further warnings not shown ({self.count} in all)")


@dataclass(slots=True)
class _Chunk:
    prefix: U64
    rest: U8
    entry: npt.NDArray[np.uint32]


def _is_empty(kind: HashKind, digests: U8) -> npt.NDArray[np.bool_]:
    """Rows that hold the digest of an empty file (none for a kind without one, such as BTIH)."""
    value = EMPTY_DIGESTS.get(kind)
    if value is None:
        return np.zeros(digests.shape[0], dtype=np.bool_)
    found: npt.NDArray[np.bool_] = (digests == np.frombuffer(value, np.uint8)).all(axis=1)
    return found


def _chunk(digests: U8, entries: npt.NDArray[np.uint32]) -> _Chunk:
    return _Chunk(*split_digests(digests), entries)


class Builder:
    """Accumulates entries in numpy chunks, then sorts and writes each digest kind."""

    def __init__(self, directory: Path, warn: WarnLimiter) -> None:
        self.directory = directory
        self.warn = warn
        self.entries = 0
        self.empty = 0
        self._chunks: dict[HashKind, list[_Chunk]] = {k: [] for k in EXACT_KINDS}
        self._digests: dict[HashKind, bytearray] = {k: bytearray() for k in EXACT_KINDS}
        self._owners: dict[HashKind, array[int]] = {k: array("I") for k in EXACT_KINDS}
        self._pdq = bytearray()
        self._pdq_entries: array[int] = array("q")
        self._pdq_quality: array[int] = array("h")
        self._frames: list[tuple[int, VideoFrameRecord]] = []
        self._category_chunks: list[npt.NDArray[np.uint16]] = []
        self._categories: array[int] = array("H")
        self._codes: dict[str | None, int] = {None: 0}
        self._first_ref: dict[str, str] = {}
        self._extras: list[tuple[int, str]] = []
        self._extra_db: sqlite3.Connection | None = None

    def add(self, item: HashRecord | BulkDigests) -> None:
        if isinstance(item, BulkDigests):
            self._add_bulk(item)
        else:
            self._add_record(item)

    def _add_record(self, record: HashRecord) -> None:
        found: list[tuple[HashKind, bytes]] = []
        empty = False
        for kind in EXACT_KINDS:
            value = record.digest(kind)
            if value is None:
                continue
            if len(value) != kind.size:
                self.warn(record.ref, f"{kind.name} digest has {len(value)} bytes, not {kind.size}; ignored")
            elif value == EMPTY_DIGESTS.get(kind):  # a torrent's info-hash has no "empty" value
                empty = True
            else:
                found.append((kind, value))
        pdq = self._usable_pdq(record)
        if not found and pdq is None and not record.video_frames:  # a vPDQ file's video has frames only
            if empty:
                self.empty += 1
            else:
                self.warn(record.ref, "entry has no usable digest; skipped")
            return
        entry = self._next_entries(1)
        if pdq is not None:
            self._add_pdq(entry, pdq, record.pdq_quality)
            if record.pdq_trimmed is not None and len(record.pdq_trimmed) == PDQ_SIZE:
                # a second hash of the same entry: copies found cropped to the picture match it too
                self._add_pdq(entry, record.pdq_trimmed, record.pdq_trimmed_quality)
        for frame in record.video_frames:
            self._frames.append((entry, frame))
            self._add_pdq(entry, frame.pdq, frame.quality)  # stills from the video match as images
            if frame.trimmed is not None:
                self._add_pdq(entry, frame.trimmed, frame.trimmed_quality)
        for kind, value in found:
            self._digests[kind] += value
            self._owners[kind].append(entry)
            if len(self._owners[kind]) >= CHUNK:
                self._flush(kind)
        self._categories.append(self._code(record.category, record.ref))
        if len(self._categories) >= CHUNK:
            self._flush_categories()
        if record.extra:
            self._add_extra(entry, record.extra)

    def _add_pdq(self, entry: int, value: bytes, quality: int | None) -> None:
        self._pdq += value
        self._pdq_entries.append(entry)
        self._pdq_quality.append(UNKNOWN_QUALITY if quality is None else quality)

    def _usable_pdq(self, record: HashRecord) -> bytes | None:
        if record.pdq is None:
            return None
        if len(record.pdq) != PDQ_SIZE:
            self.warn(record.ref, f"PDQ hash has {len(record.pdq)} bytes, not {PDQ_SIZE}; ignored")
            return None
        quality = record.pdq_quality
        if quality is not None and not 0 <= quality <= 100:
            self.warn(record.ref, f"PDQ quality {quality} is outside 0..100; ignored")
            return None
        return record.pdq

    def _add_bulk(self, bulk: BulkDigests) -> None:
        if len(bulk) == 0:
            return
        empty = {k: _is_empty(k, d) for k, d in bulk.columns.items()}
        usable = np.zeros(len(bulk), dtype=np.bool_)
        for mask in empty.values():
            usable |= ~mask
        count = int(usable.sum())
        self.empty += len(bulk) - count
        if count == 0:
            return
        self._flush_categories()
        first = self._next_entries(count)
        entries = np.arange(first, first + count, dtype=np.uint32)
        for kind, digests in bulk.columns.items():
            keep = ~empty[kind][usable]
            self._flush(kind)
            self._chunks[kind].append(_chunk(digests[usable][keep], entries[keep]))
        self._category_chunks.append(np.zeros(count, dtype=np.uint16))

    def _next_entries(self, count: int) -> int:
        first = self.entries
        if first + count > _MAX_ENTRIES:
            raise HashSetError("a hash set can hold at most 4,294,967,295 entries; split the file")
        self.entries += count
        return first

    def _code(self, raw: str | None, ref: str) -> int:
        if raw is not None and not raw.strip():
            raw = None
        index = self._codes.get(raw)
        if index is None:
            index = len(self._codes)
            if index > 0xFFFF:  # category indexes are uint16
                raise HashSetError("the file uses more than 65,535 distinct category codes; check its format")
            self._codes[raw] = index
            if raw is not None:
                self._first_ref[raw] = ref
        return index

    def _add_extra(self, entry: int, extra: Mapping[str, str]) -> None:
        self._extras.append((entry, _EXTRA_JSON.encode(dict(extra))))
        if len(self._extras) >= 50_000:
            self._flush_extras()

    def _flush_extras(self) -> None:
        if not self._extras:
            return
        if self._extra_db is None:
            create_owner_only(self.directory / EXTRA_FILE)  # SQLite would create it 0644
            self._extra_db = sqlite3.connect(self.directory / EXTRA_FILE)
            self._extra_db.execute("CREATE TABLE extra (entry INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        with self._extra_db:
            self._extra_db.executemany("INSERT INTO extra VALUES (?, ?)", self._extras)
        self._extras = []

    def _flush(self, kind: HashKind) -> None:
        owners = self._owners[kind]
        if not owners:
            return
        digests = np.frombuffer(bytes(self._digests[kind]), dtype=np.uint8).reshape(-1, kind.size)
        self._chunks[kind].append(_chunk(digests, np.frombuffer(owners, dtype=np.uint32).copy()))
        self._digests[kind] = bytearray()
        self._owners[kind] = array("I")

    def _flush_categories(self) -> None:
        if self._categories:
            self._category_chunks.append(np.frombuffer(self._categories, dtype=np.uint16).copy())
            self._categories = array("H")

    def close(self) -> None:
        """Write the last extras and close their database (also after a failed read)."""
        if self._extra_db is not None or self._extras:
            with contextlib.suppress(sqlite3.Error):
                self._flush_extras()
        if self._extra_db is not None:
            self._extra_db.close()
            self._extra_db = None

    def finish(self, scheme: Scheme) -> SetContents:
        """Map categories with ``scheme``, sort and write every kind; returns what the catalog records."""
        self._flush_categories()
        categories = np.concatenate(self._category_chunks)
        self._category_chunks = []
        counts = np.bincount(categories, minlength=len(self._codes))
        table: CategoryCounts = []
        for raw, index in self._codes.items():
            uk = scheme.uk_code(raw)
            table.append((raw, uk, int(counts[index])))
            if raw is not None and uk.startswith("unknown:"):
                self.warn.always(
                    self._first_ref[raw],
                    f"unknown category code '{raw}' for scheme '{scheme.name}'; kept as shown "
                    f"({int(counts[index])} entries)",
                )
        has_categories = bool(categories.any())
        if has_categories:
            _save(self.directory / CATEGORY_FILE, categories)
        tables: dict[HashKind, TableStats] = {}
        for kind in EXACT_KINDS:
            self._flush(kind)
            chunks = self._chunks.pop(kind)
            if chunks:
                tables[kind] = _write_table(self.directory, kind, chunks, categories if has_categories else None)
        if self.empty:
            self.warn.always("", f"{self.empty} entries hold only the digest of an empty file; skipped")
        return SetContents(tables, table, has_categories, self._finish_pdq(), self._finish_video())

    def _finish_pdq(self) -> PerceptualStats | None:
        """Write every PDQ hash with its entry and quality; say how many are too weak to match."""
        if not self._pdq_entries:
            return None
        hashes = np.frombuffer(bytes(self._pdq), dtype=np.uint8).reshape(-1, PDQ_SIZE)
        qualities = np.frombuffer(self._pdq_quality, dtype=np.int16)
        entries = np.frombuffer(self._pdq_entries, dtype=np.int64)
        perceptual_index.save(self.directory / PDQ_INDEX_FILE, hashes, entries, qualities, hash_kind="pdq")
        with open(self.directory / PDQ_INDEX_FILE, "rb+") as handle:
            os.fsync(handle.fileno())
        low = int(np.count_nonzero(matchable(qualities) == 0))
        if low:
            self.warn.always(
                "",
                f"{low} PDQ hashes have quality below {MIN_QUALITY}: kept, but never used to claim a match",
            )
        return PerceptualStats(count=len(entries), indexed=len(entries) - low, low_quality=low)  # hashes, not entries

    def _finish_video(self) -> PerceptualStats | None:
        """Write the frame table of the set's reference videos (``hashsets.video``), if it has any."""
        if not self._frames:
            return None
        rows = self._frames
        zero = bytes(PDQ_SIZE)
        table = FrameTable(
            np.array([e for e, _ in rows], dtype=np.int64),
            np.array([f.timestamp_s for _, f in rows], dtype=np.float64),
            np.frombuffer(b"".join(f.pdq for _, f in rows), dtype=np.uint8).reshape(-1, PDQ_SIZE),
            np.array([f.quality for _, f in rows], dtype=np.int16),
            np.frombuffer(b"".join(f.trimmed or zero for _, f in rows), dtype=np.uint8).reshape(-1, PDQ_SIZE),
            np.array([NO_TRIM if f.trimmed is None else (f.trimmed_quality or 0) for _, f in rows], dtype=np.int16),
        )
        save_frames(self.directory / VIDEO_FRAMES_FILE, table)
        with open(self.directory / VIDEO_FRAMES_FILE, "rb+") as handle:
            os.fsync(handle.fileno())
        low = int(np.count_nonzero(table.qualities < MIN_QUALITY))
        return PerceptualStats(count=len(table), indexed=len(table) - low, low_quality=low)


# --- sorting and writing one table ---------------------------------------------------------------------


def _write_table(
    directory: Path, kind: HashKind, chunks: list[_Chunk], categories: npt.NDArray[np.uint16] | None
) -> TableStats:
    """Sort by digest (ties: by category, then entry), drop repeats of the same digest+category, write.

    Memory: the three columns plus the sort order (about 28 bytes a digest for MD5); each sorted column
    goes straight into its output file instead of a second in-memory copy.
    """
    prefix = _concat(chunks, "prefix")
    entry = _concat(chunks, "entry")
    rest = _concat(chunks, "rest")
    chunks.clear()
    # Not a stable sort: rows with equal prefixes are put in a total order by _resolve_ties anyway.
    order = np.argsort(prefix)
    tied = _tied_positions(prefix, order)
    if tied.size:
        order = _resolve_ties(order, tied, prefix, rest, entry, categories)
    bits, buckets = _buckets(prefix, order)
    _save(table_path(directory, kind, "bucket"), buckets)
    _save(table_path(directory, kind, "prefix"), prefix, order)
    del prefix
    _save(table_path(directory, kind, "rest"), rest, order)
    del rest
    _save(table_path(directory, kind, "entry"), entry, order)
    del entry
    max_bucket = int(np.diff(buckets).max()) if buckets.size > 1 else 0
    return TableStats(count=int(order.shape[0]), bucket_bits=bits, max_bucket=max_bucket)


def _concat(chunks: list[_Chunk], field: str) -> npt.NDArray[Any]:
    """Concatenate one column of the chunks, releasing each chunk's part as soon as it is copied."""
    first: npt.NDArray[Any] = getattr(chunks[0], field)
    total = sum(getattr(chunk, field).shape[0] for chunk in chunks)
    out = np.empty((total, *first.shape[1:]), dtype=first.dtype)
    del first
    position = 0
    for chunk in chunks:
        part: npt.NDArray[Any] = getattr(chunk, field)
        out[position : position + part.shape[0]] = part
        position += part.shape[0]
        setattr(chunk, field, np.empty((0, *part.shape[1:]), dtype=part.dtype))  # not a view: frees it
        del part
    return out


def _tied_positions(prefix: U64, order: I64) -> I64:
    """Positions i (in sorted order) whose prefix equals that at i + 1; in slices, to avoid a full copy."""
    found = []
    for start in range(0, max(order.shape[0] - 1, 0), _STEP):
        part = prefix[order[start : start + _STEP + 1]]
        found.append(np.flatnonzero(part[1:] == part[:-1]) + start)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _resolve_ties(
    order: I64,
    tied: I64,
    prefix: U64,
    rest: U8,
    entry: npt.NDArray[np.uint32],
    categories: npt.NDArray[np.uint16] | None,
) -> I64:
    """Order rows that share a prefix by (rest, category, entry); keep one row per digest and category."""
    positions = np.unique(np.concatenate([tied, tied + 1]))
    rows = order[positions]
    cats = categories[entry[rows]] if categories is not None else np.zeros(rows.shape[0], np.uint16)
    words = _rest_words(rest[rows])
    sub = np.lexsort((entry[rows], cats, *reversed(words), prefix[rows]))
    rows, cats, words = rows[sub], cats[sub], [w[sub] for w in words]
    order[positions] = rows
    same = (prefix[rows][1:] == prefix[rows][:-1]) & (cats[1:] == cats[:-1])
    for word in words:
        same &= word[1:] == word[:-1]
    if not same.any():
        return order
    keep = np.ones(order.shape[0], dtype=np.bool_)
    keep[positions[1:][same]] = False
    return order[keep]


def _rest_words(rest: U8) -> list[U64]:
    """Remaining digest bytes as big-endian uint64 columns (zero-padded), most significant first."""
    width = -(-rest.shape[1] // 8) * 8
    padded = np.zeros((rest.shape[0], width), dtype=np.uint8)
    padded[:, : rest.shape[1]] = rest
    words = padded.view(">u8").astype(np.uint64)
    return [words[:, i] for i in range(words.shape[1])]


def _buckets(prefix: U64, order: I64) -> tuple[int, npt.NDArray[Any]]:
    """Start offset of every top-``bits`` bucket of ``prefix[order]`` (about one digest per bucket)."""
    count = order.shape[0]
    bits = min(MAX_BUCKET_BITS, max(1, math.ceil(math.log2(max(count, 2)))))
    shift = np.uint64(64 - bits)
    counts = np.zeros(1 << bits, dtype=np.int64)
    for start in range(0, count, _STEP):
        part = (prefix[order[start : start + _STEP]] >> shift).astype(np.intp)
        counts += np.bincount(part, minlength=1 << bits)
    starts = np.zeros((1 << bits) + 1, dtype=np.uint32 if count < 2**32 else np.uint64)
    np.cumsum(counts, out=starts[1:])
    return bits, starts


def _save(path: Path, column: npt.NDArray[Any], order: I64 | None = None) -> None:
    """Write ``column`` (or ``column[order]``) as a .npy file, slice by slice, so no sorted copy is held."""
    rows = column.shape[0] if order is None else order.shape[0]
    descr = np.lib.format.dtype_to_descr(column.dtype)
    header = {"descr": descr, "fortran_order": False, "shape": (rows, *column.shape[1:])}
    with open_owner_only(path) as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, rows, _STEP):
            part = column[start : start + _STEP] if order is None else np.take(column, order[start : start + _STEP], 0)
            handle.write(np.ascontiguousarray(part).tobytes())
        handle.flush()
        os.fsync(handle.fileno())
