"""Perceptual (PDQ) indexes: a brute-force numpy reference and a faiss index tested against it.

Why two: a perceptual match in evidence must be reproducible, so the fast index is only trusted where
it returns exactly what the brute-force scan returns (docs/architecture.md, design rules). Only exact faiss structures
are offered: a flat binary index (range search), or multi-index hashing with the flip count chosen so
that, by the pigeonhole principle, every hash within the radius is found. Approximate structures
(IVF, HNSW) lose 2–88 % of true matches and are deliberately absent.

Indexes are saved as one ``.npz`` (no pickle) holding the hashes, their ids and qualities and a JSON
header with a format version; faiss structures are rebuilt on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from safenet.owner_only import open_owner_only

FORMAT: Final = "safenet-pdq-index"
VERSION: Final = 1
BITS: Final = 256
BYTES: Final = BITS // 8
_CHUNK: Final = 1 << 16  # entries per brute-force block: bounds memory per query batch

Hashes = npt.NDArray[np.uint8]  # (n, 32)


class IndexFormatError(ValueError):
    """A saved index that is not one Safenet can read (wrong format, version or shape)."""


@dataclass(frozen=True, slots=True)
class Hits:
    """All (query, entry) pairs within the distance, sorted by query, distance, entry id."""

    query: npt.NDArray[np.intp]
    entry: npt.NDArray[np.int64]  # the ids given at build time (default: positions)
    distance: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.query)

    def pairs(self) -> list[tuple[int, int, int]]:
        return list(zip(self.query.tolist(), self.entry.tolist(), self.distance.tolist(), strict=True))


class PerceptualIndex(Protocol):
    """Search a set of 256-bit hashes for everything within a Hamming distance."""

    def __len__(self) -> int: ...

    def query(self, hashes: Hashes, max_distance: int) -> Hits: ...


def as_hash_array(hashes: Hashes | list[bytes] | tuple[bytes, ...]) -> Hashes:
    """(n, 32) contiguous uint8 from an array or a list of 32-byte hashes; raises ValueError otherwise."""
    if isinstance(hashes, list | tuple):
        if any(len(h) != BYTES for h in hashes):
            raise ValueError("every PDQ hash must be 32 bytes")
        array = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), BYTES)
    else:
        array = np.asarray(hashes, dtype=np.uint8)
    if array.ndim != 2 or array.shape[1] != BYTES:
        raise ValueError(f"expected (n, {BYTES}) hashes, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _check_distance(max_distance: int) -> None:
    if not 0 <= max_distance <= BITS:
        raise ValueError(f"max_distance must be 0..{BITS}, got {max_distance}")


def _sorted_hits(query: list[npt.NDArray[np.intp]], entry: list[npt.NDArray[np.int64]], dist: list[Any]) -> Hits:
    if not query:
        return Hits(np.empty(0, np.intp), np.empty(0, np.int64), np.empty(0, np.int32))
    q, e, d = np.concatenate(query), np.concatenate(entry), np.concatenate(dist).astype(np.int32)
    order = np.lexsort((e, d, q))
    return Hits(q[order], e[order], d[order])


class BruteForceIndex:
    """The reference: XOR and popcount against every entry (numpy ``bitwise_count`` on uint64 words)."""

    def __init__(self, hashes: Hashes, ids: npt.NDArray[np.int64] | None = None) -> None:
        self.hashes = as_hash_array(hashes)
        self.ids = _ids(ids, len(self.hashes))
        self._words = self.hashes.view(np.uint64)  # (n, 4); byte order is irrelevant to popcount

    def __len__(self) -> int:
        return len(self.hashes)

    def query(self, hashes: Hashes, max_distance: int) -> Hits:
        _check_distance(max_distance)
        queries = as_hash_array(hashes).view(np.uint64)
        found_q: list[npt.NDArray[np.intp]] = []
        found_e: list[npt.NDArray[np.int64]] = []
        found_d: list[Any] = []
        for start in range(0, len(self._words), _CHUNK):
            block = self._words[start : start + _CHUNK]
            distances = np.bitwise_count(queries[:, None, :] ^ block[None, :, :]).sum(axis=2)
            qi, ei = np.nonzero(distances <= max_distance)
            found_q.append(qi.astype(np.intp))
            found_e.append(self.ids[start + ei])
            found_d.append(distances[qi, ei])
        return _sorted_hits(found_q, found_e, found_d)


class FaissIndex:
    """faiss, exact at any radius: ``flat`` (range search) or ``multihash`` (16 tables of 16 bits).

    Multi-index hashing finds a hash only if one of its 16-bit chunks is within ``nflip`` bits of the
    query's; with 16 chunks any hash within distance *r* has a chunk within ``r // 16`` bits, so the
    flip count is set from the query radius and the result is exact. faiss range search keeps
    distances strictly below the radius, hence ``max_distance + 1``.
    """

    KINDS: Final = ("flat", "multihash")
    _TABLES: Final = 16
    _TABLE_BITS: Final = 16

    def __init__(self, hashes: Hashes, ids: npt.NDArray[np.int64] | None = None, kind: str = "flat") -> None:
        import faiss

        if kind not in self.KINDS:
            raise ValueError(f"unknown faiss index kind '{kind}'; choose from {', '.join(self.KINDS)}")
        self.kind = kind
        self.hashes = as_hash_array(hashes)
        self.ids = _ids(ids, len(self.hashes))
        self._index: Any
        if kind == "flat":
            self._index = faiss.IndexBinaryFlat(BITS)
        else:
            self._index = faiss.IndexBinaryMultiHash(BITS, self._TABLES, self._TABLE_BITS)
        if len(self.hashes):
            self._index.add(self.hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def query(self, hashes: Hashes, max_distance: int) -> Hits:
        _check_distance(max_distance)
        queries = as_hash_array(hashes)
        if not len(self.hashes) or not len(queries):
            return _sorted_hits([], [], [])
        if self.kind == "multihash":
            flips = max_distance // self._TABLES
            if flips > self._TABLE_BITS:  # pragma: no cover - only above 271 bits
                raise ValueError("radius too large for multi-index hashing")
            self._index.nflip = flips
        limits, distances, labels = self._index.range_search(queries, max_distance + 1)
        counts = np.diff(limits.astype(np.int64))
        query = np.repeat(np.arange(len(queries), dtype=np.intp), counts)
        return _sorted_hits([query], [self.ids[labels.astype(np.int64)]], [distances])


def _ids(ids: npt.NDArray[np.int64] | None, count: int) -> npt.NDArray[np.int64]:
    if ids is None:
        return np.arange(count, dtype=np.int64)
    array = np.asarray(ids, dtype=np.int64)
    if array.shape != (count,):
        raise ValueError(f"expected {count} ids, got shape {array.shape}")
    return array


def save(path: Path, hashes: Hashes, ids: npt.NDArray[np.int64], qualities: npt.NDArray[np.int16], **meta: Any) -> None:
    """Write hashes, ids and qualities with a versioned JSON header (no pickle)."""
    array = as_hash_array(hashes)
    header = {"format": FORMAT, "version": VERSION, "bits": BITS, "count": len(array), **meta}
    raw = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    with open_owner_only(path) as handle:
        np.savez(handle, header=raw, hashes=array, ids=_ids(ids, len(array)), qualities=np.asarray(qualities, np.int16))


@dataclass(frozen=True, slots=True)
class Loaded:
    header: dict[str, Any]
    hashes: Hashes
    ids: npt.NDArray[np.int64]
    qualities: npt.NDArray[np.int16]

    def index(self, kind: str = "flat") -> PerceptualIndex:
        if kind == "brute":
            return BruteForceIndex(self.hashes, self.ids)
        return FaissIndex(self.hashes, self.ids, kind)


def load(path: Path) -> Loaded:
    """Read a saved index; raises IndexFormatError naming what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            hashes, ids, qualities = data["hashes"], data["ids"], data["qualities"]
    except (OSError, KeyError, ValueError) as exc:
        raise IndexFormatError(f"{path}: not a Safenet PDQ index ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise IndexFormatError(f"{path}: not a Safenet PDQ index")
    if header.get("version") != VERSION:
        raise IndexFormatError(f"{path}: index format version {header.get('version')}, this Safenet reads {VERSION}")
    if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != BYTES or len(ids) != len(hashes):
        raise IndexFormatError(f"{path}: malformed arrays")
    if len(qualities) != len(hashes) or header.get("count") != len(hashes):
        raise IndexFormatError(f"{path}: counts disagree")
    return Loaded(header, hashes, ids.astype(np.int64), qualities.astype(np.int16))
