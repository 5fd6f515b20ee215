"""Exact-digest lookup: a set's sorted digest tables, memory-mapped, and the batched search over them.

Why a module of its own: this is the hot path of a triage (every listed file is looked up here) and the
one place that reads the table layout; ``build`` writes it through the same names (``table_path``,
``split_digests``), the catalog only records each table's shape. ``ExactSets`` is the exact half of
``matcher.Matcher``, which adds the perceptual and video halves so a run opens its sets once.

A table is one digest kind of one set, sorted by digest: ``<kind>.prefix.npy`` (uint64, first 8 bytes
big-endian), ``<kind>.rest.npy`` (uint8, remaining bytes), ``<kind>.entry.npy`` (uint32, entry row) and
``<kind>.bucket.npy`` (start of each top-bits bucket); ``category.npy`` (uint16 per entry) when the set has
categories. Arrays are opened memory-mapped with ``allow_pickle=False``: never pickle. A lookup is a
vectorised bucketed binary search over a whole batch, never a Python loop over rows; only hits become
Python objects (``ExactSets.contains`` skips even that, for known-good filtering).
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from safenet.hashsets.catalog import StoredSet, TableStats
from safenet.hashsets.model import HashKind, HashSetError, HashSetInfo, Match

CATEGORY_FILE = "category.npy"
# One match per set entry: the strongest kind that hit. ED2K rests on MD4, weaker than MD5; BTIH names a
# torrent (SHA-1 of its info dictionary), never an item's content, so it only ever hits P2P records.
_STRENGTH = (HashKind.SHA256, HashKind.SHA1, HashKind.MD5, HashKind.ED2K, HashKind.BTIH)

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def table_path(directory: Path, kind: HashKind, column: str) -> Path:
    """File of one column (prefix, rest, entry, bucket) of the ``kind`` table in a set directory."""
    return directory / f"{kind.value}.{column}.npy"


def split_digests(digests: U8) -> tuple[U64, U8]:
    """(n, size) digest bytes -> big-endian uint64 prefixes and the remaining bytes, as tables hold them."""
    prefix = np.ascontiguousarray(digests[:, :8]).view(">u8").ravel().astype(np.uint64)
    return prefix, np.ascontiguousarray(digests[:, 8:])


class _Table:
    """The sorted arrays of one digest kind of one set, memory-mapped."""

    def __init__(self, directory: Path, kind: HashKind, stats: TableStats) -> None:
        count = stats.count
        self.prefix: U64 = _load(table_path(directory, kind, "prefix"), np.uint64, (count,))
        self.rest: U8 = _load(table_path(directory, kind, "rest"), np.uint8, (count, kind.size - 8))
        self.entry: npt.NDArray[np.uint32] = _load(table_path(directory, kind, "entry"), np.uint32, (count,))
        self.buckets: npt.NDArray[Any] = _load(
            table_path(directory, kind, "bucket"), None, ((1 << stats.bucket_bits) + 1,)
        )
        self.shift = np.uint64(64 - stats.bucket_bits)
        self.steps = max(1, math.ceil(math.log2(stats.max_bucket + 1)))

    def find(self, prefix: U64, rest: U8) -> tuple[I64, npt.NDArray[np.uint32]]:
        """(query rows, entries) of every exact hit; a bucketed binary search over the whole batch."""
        total = self.prefix.shape[0]
        bucket = (prefix >> self.shift).astype(np.intp)
        low = self.buckets[bucket].astype(np.int64)
        high = self.buckets[bucket + 1].astype(np.int64)
        end = high.copy()
        for _ in range(self.steps):
            active = low < high
            middle = np.minimum((low + high) >> 1, total - 1)
            below = self.prefix[middle] < prefix
            low = np.where(active & below, middle + 1, low)
            high = np.where(active & ~below, middle, high)
        candidates = np.flatnonzero(low < end)
        candidates = candidates[self.prefix[low[candidates]] == prefix[candidates]]
        if candidates.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.uint32)
        start = low[candidates]
        following = np.minimum(start + 1, total - 1)
        several = (start + 1 < end[candidates]) & (self.prefix[following] == prefix[candidates])
        single, single_at = candidates[~several], start[~several]
        exact = (self.rest[single_at] == rest[single]).all(axis=1)
        rows, entries = [single[exact]], [self.entry[single_at[exact]]]
        for query, first in zip(candidates[several].tolist(), start[several].tolist(), strict=True):
            stop = first
            while stop < total and self.prefix[stop] == prefix[query]:
                stop += 1
            same = np.flatnonzero((self.rest[first:stop] == rest[query]).all(axis=1)) + first
            rows.append(np.full(same.shape[0], query, dtype=np.int64))
            entries.append(self.entry[same])
        return np.concatenate(rows).astype(np.int64), np.concatenate(entries).astype(np.uint32)


def _load(path: Path, dtype: type[np.generic] | None, shape: tuple[int, ...]) -> Any:
    """Memory-map a .npy file and check its shape (and dtype, unless None); a mismatch means damage."""
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _damaged(path, f"unreadable ({exc})") from exc
    if (dtype is not None and loaded.dtype != np.dtype(dtype)) or loaded.shape != shape:
        expected = f"{np.dtype(dtype) if dtype is not None else 'an array'}{shape}"
        raise _damaged(path, f"holds {loaded.dtype}{loaded.shape}, expected {expected}")
    # A plain ndarray view of the same mapped pages: indexing a np.memmap builds a new memmap object each
    # time, which cost more than the search itself on per-file lookups.
    return np.asarray(loaded)


def _damaged(path: Path, what: str) -> HashSetError:
    return HashSetError(f"hash-set file {path} is damaged: {what}; re-import the set with --replace")


class _OpenSet:
    """One set opened for matching: info, category table and per-kind tables."""

    def __init__(self, stored: StoredSet, directory: Path) -> None:
        self.info = stored.info
        self.tables = {kind: _Table(directory, kind, stats) for kind, stats in stored.contents.tables.items()}
        self.categories = [(raw, uk) for raw, uk, _ in stored.contents.categories]
        self.category_of: npt.NDArray[np.uint16] | None = None
        if stored.contents.has_categories:
            self.category_of = _load(directory / CATEGORY_FILE, np.uint16, (stored.info.entry_count,))


class ExactSets:
    """Batched exact-digest lookups against a fixed list of sets (the exact half of a ``Matcher``)."""

    def __init__(self, sets: Sequence[tuple[StoredSet, Path]]) -> None:
        """Open each set (catalog entry, directory of its arrays); arrays are memory-mapped, not loaded."""
        self._sets = [_OpenSet(stored, directory) for stored, directory in sets]
        self.infos: tuple[HashSetInfo, ...] = tuple(s.info for s in self._sets)
        #: each set's category per entry (None: the set has no categories), for the perceptual and video halves
        self.categories: tuple[npt.NDArray[np.uint16] | None, ...] = tuple(s.category_of for s in self._sets)
        # Everything a Match holds except the entry, per (set, digest kind, category index), so a hit only
        # costs one object: templates[base[set][kind rank] + category index].
        self._templates: list[tuple[Any, ...]] = []
        self._base: list[list[int]] = []
        for opened in self._sets:
            info = opened.info
            bases = []
            for kind in _STRENGTH:
                bases.append(len(self._templates))
                self._templates += [
                    (info.name, info.source_sha256, info.kind, kind, raw, uk, info.scheme)
                    for raw, uk in opened.categories
                ]
            self._base.append(bases)

    def lookup(self, queries: Sequence[Mapping[HashKind, bytes]]) -> list[list[Match]]:
        """Matches for each query (the digests of one item), in query order.

        An item can match several sets and several digest kinds; one set entry gives one Match (the
        strongest digest kind that hit). Matches are ordered by set (as given), then entry.
        """
        with _gc_paused():
            return self._lookup(queries)

    def contains(self, queries: Sequence[Mapping[HashKind, bytes]]) -> npt.NDArray[np.bool_]:
        """For each query, whether it matches any of the sets; builds no Match objects.

        The cheap form for known-good filtering, where most items of a system disk hit: ``lookup`` pays
        for one Python object per hit, this costs the same whatever the hit rate.
        """
        found = np.zeros(len(queries), dtype=np.bool_)
        for _, _, queries_hit, _ in self._hits(queries):
            found[queries_hit] = True
        return found

    def _lookup(self, queries: Sequence[Mapping[HashKind, bytes]]) -> list[list[Match]]:
        results: list[list[Match]] = [[] for _ in range(len(queries))]
        hits: list[tuple[I64, I64, I64, I64]] = []  # query, set number, template, entry
        for rank, number, queries_hit, entries in self._hits(queries):
            opened = self._sets[number]
            codes = opened.category_of[entries] if opened.category_of is not None else 0
            template = self._base[number][rank] + np.asarray(codes, dtype=np.int64)
            hits.append(
                (
                    queries_hit,
                    np.full(queries_hit.shape, number, dtype=np.int64),
                    np.broadcast_to(template, queries_hit.shape),
                    entries.astype(np.int64),
                )
            )
        if hits:
            _fill(results, *_strongest_per_entry(hits), self._templates)
        return results

    def _hits(
        self, queries: Sequence[Mapping[HashKind, bytes]]
    ) -> Iterator[tuple[int, int, I64, npt.NDArray[np.uint32]]]:
        """(kind rank, set number, query numbers, entries) per set and digest kind that had hits."""
        if not queries:
            return
        for rank, kind in enumerate(_STRENGTH):
            holders = [(i, s) for i, s in enumerate(self._sets) if kind in s.tables]
            if not holders:
                continue
            positions, digests = _gather(queries, kind)
            if positions.size == 0:
                continue
            prefix, rest = split_digests(digests)
            for number, opened in holders:
                rows, entries = opened.tables[kind].find(prefix, rest)
                if rows.size:
                    yield rank, number, positions[rows], entries

    def close(self) -> None:
        """Drop the memory maps (they are also released when the sets are garbage-collected)."""
        self._sets = []


def _strongest_per_entry(hits: list[tuple[I64, I64, I64, I64]]) -> tuple[list[int], list[int], list[int]]:
    """One hit per (query, set, entry), ordered by query, set, entry; the first kind found wins.

    Kinds are searched strongest first, so "first" means SHA-256 over SHA-1 over MD5.
    """
    query, number, template, entry = (np.concatenate([h[i] for h in hits]) for i in range(4))
    found_order = np.arange(query.shape[0])
    order = np.lexsort((found_order, entry, number, query))
    query, number, template, entry = query[order], number[order], template[order], entry[order]
    first = np.ones(query.shape[0], dtype=np.bool_)
    first[1:] = (query[1:] != query[:-1]) | (number[1:] != number[:-1]) | (entry[1:] != entry[:-1])
    return query[first].tolist(), template[first].tolist(), entry[first].astype(np.int64).tolist()


# Slot setters of the frozen Match: a frozen dataclass __init__ routes every field through
# object.__setattr__, which at one hit per listed file costs more than the whole vectorised search. Setting
# the slots directly builds the identical (equal, hashable, still frozen) object in half the time.
_SET_MATCH_FIELDS = tuple(getattr(Match, name).__set__ for name in Match.__slots__)


def _fill(
    results: list[list[Match]],
    queries: list[int],
    templates: list[int],
    entries: list[int],
    table: list[tuple[Any, ...]],
) -> None:
    set0, set1, set2, set3, set4, set5, set6, set7, set8, set9, set10, set11 = _SET_MATCH_FIELDS
    new = object.__new__
    for query, template, entry in zip(queries, templates, entries, strict=True):
        name, sha256, kind, hash_kind, raw, uk, scheme = table[template]
        match = new(Match)
        set0(match, name)
        set1(match, sha256)
        set2(match, kind)
        set3(match, hash_kind)
        set4(match, raw)
        set5(match, uk)
        set6(match, scheme)
        set7(match, entry)
        set8(match, None)
        set9(match, None)
        set10(match, None)
        set11(match, None)
        results[query].append(match)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch allocates one result list per query.

    Those allocations otherwise trigger collections that walk every object of the caller's (large) heap,
    which costs more than the lookup itself. The lists hold no cycles, so nothing is left for it to do.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _gather(queries: Sequence[Mapping[HashKind, bytes]], kind: HashKind) -> tuple[I64, U8]:
    """Query numbers that carry a ``kind`` digest, and those digests as an (m, size) array."""
    size = kind.size
    values = [query.get(kind) or b"" for query in queries]
    joined = b"".join(values)
    count = len(values)
    if len(joined) == count * size:
        lengths = None
    else:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
        wrong = np.flatnonzero((lengths != 0) & (lengths != size))
        if wrong.size:
            first = int(wrong[0])
            raise ValueError(f"query {first}: a {kind.name} digest must be {size} raw bytes, not {lengths[first]}")
    flat = np.frombuffer(joined, dtype=np.uint8)
    if lengths is None:
        return np.arange(count, dtype=np.int64), flat.reshape(count, size)
    positions = np.flatnonzero(lengths == size).astype(np.int64)
    return positions, flat.reshape(-1, size)
