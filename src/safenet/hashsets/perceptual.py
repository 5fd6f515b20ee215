"""Perceptual lookup: the PDQ hashes of the sets a triage uses, searched within each set's threshold.

Why a module of its own: it is the sibling of ``exact`` (docs/architecture.md, design rules: "compare two hashes" in
``analysis.pdq``, "search a set" here). A query is one found image's hashes: for the whole picture and,
when it has uniform borders, for the picture inside them, each in the eight dihedral orientations. A hit is
reported once per set entry, with the smallest distance over those variants, which orientation gave it
and whether it needed trimming (ties: whole picture before trimmed, as-found before turned).

Which index: both structures offered by ``index`` are exact, so the choice is speed only. faiss's flat
range search pays about 1.5 ms of thread start-up per call even for a 100-hash set, where the numpy scan
takes 0.07 ms; the two cross near 20,000 hashes (16 queries: 4.7 vs 5.2 ms at 10,000; 130 vs 20 ms at
200,000 on the 2-core machine). So sets below ``FAISS_FROM`` hashes use the brute-force reference and
larger ones faiss ``IndexBinaryFlat``; multi-index hashing is not used (docs/perceptual.md: no faster at 10 M
and 2.8 GB). Hashes with a known quality below 50 are loaded but never indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from safenet.analysis.pdq.core import COPY_ORIENTATION, MIN_QUALITY
from safenet.hashsets import index as perceptual_index
from safenet.hashsets.catalog import StoredSet
from safenet.hashsets.model import HashKind, HashSetError, HashSetInfo, Match

FAISS_FROM: Final = 20_000
PDQ_INDEX_FILE: Final = "pdq.index.npz"
UNKNOWN_QUALITY: Final = -1  # stored for PDQ hashes whose source gave no quality: indexed (lists rarely carry one)

#: One found image: (trimmed?, its eight dihedral hashes) per variant that may be queried.
PerceptualQuery = Sequence[tuple[bool, Sequence[bytes]]]


_SHORT: Final = {
    "original": "",
    "rotate-90": "rot90",
    "rotate-180": "rot180",
    "rotate-270": "rot270",
    "flip-x": "flipx",
    "flip-y": "flipy",
    "flip-plus-1": "transpose",
    "flip-minus-1": "transverse",
}


def describe(match: Match) -> str:
    """A short line for a perceptual match, e.g. ``pdq d=12 rot90 trimmed`` (terminal hit lines)."""
    parts = [f"{match.hash_kind.value} d={match.distance}"]
    short = _SHORT.get(match.orientation or "original", match.orientation or "")
    if short:
        parts.append(short)
    if match.trimmed:
        parts.append("trimmed")
    return " ".join(parts)


def matchable(qualities: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Which stored PDQ hashes may support a match: quality unknown, or known and at least 50."""
    return np.asarray((qualities == UNKNOWN_QUALITY) | (qualities >= MIN_QUALITY), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class _Set:
    info: HashSetInfo
    index: perceptual_index.PerceptualIndex
    category_of: npt.NDArray[np.uint16] | None
    categories: list[tuple[str | None, str]]


def open_index(directory: Path, stored: StoredSet) -> perceptual_index.PerceptualIndex:
    """The matching index of one set's PDQ hashes (usable qualities only); raises HashSetError if damaged."""
    path = directory / PDQ_INDEX_FILE
    try:
        loaded = perceptual_index.load(path)
    except (perceptual_index.IndexFormatError, OSError) as exc:
        raise HashSetError(f"hash-set file {path} is damaged: {exc}; re-import the set with --replace") from exc
    keep = matchable(loaded.qualities)
    hashes, ids = loaded.hashes[keep], loaded.ids[keep]
    if len(hashes) < FAISS_FROM:
        return perceptual_index.BruteForceIndex(hashes, ids)
    return perceptual_index.FaissIndex(hashes, ids, "flat")


class PerceptualSets:
    """The perceptual side of a ``Matcher``: every given set that holds PDQ hashes."""

    def __init__(self, sets: Sequence[tuple[StoredSet, Path, npt.NDArray[np.uint16] | None]]) -> None:
        self._sets = [
            _Set(
                stored.info,
                open_index(directory, stored),
                category_of,
                [(r, u) for r, u, _ in stored.contents.categories],
            )
            for stored, directory, category_of in sets
            if stored.contents.perceptual is not None and stored.contents.perceptual.indexed
        ]

    def __bool__(self) -> bool:
        return bool(self._sets)

    def lookup(self, queries: Sequence[PerceptualQuery]) -> list[list[Match]]:
        """Perceptual matches per query (in query order), each set searched at its own threshold."""
        results: list[list[Match]] = [[] for _ in queries]
        rows = [
            (q, trimmed, k, h)
            for q, query in enumerate(queries)
            for trimmed, hashes in query
            for k, h in enumerate(hashes)
        ]
        if not rows or not self._sets:
            return results
        owner = np.array([r[0] for r in rows], dtype=np.int64)
        trimmed = np.array([r[1] for r in rows], dtype=np.bool_)
        orientation = np.array([r[2] for r in rows], dtype=np.int64)
        hashes = perceptual_index.as_hash_array([r[3] for r in rows])
        for opened in self._sets:
            hits = opened.index.query(hashes, opened.info.pdq_threshold)
            if not len(hits):
                continue
            q = owner[hits.query]
            # best variant per (query, entry): smallest distance, then untrimmed, then as-found orientation
            order = np.lexsort((orientation[hits.query], trimmed[hits.query], hits.distance, hits.entry, q))
            q, entry = q[order], hits.entry[order]
            first = np.ones(len(order), dtype=np.bool_)
            first[1:] = (q[1:] != q[:-1]) | (entry[1:] != entry[:-1])
            for i in np.flatnonzero(first).tolist():
                row = int(hits.query[order[i]])
                results[int(q[i])].append(self._match(opened, int(entry[i]), int(hits.distance[order[i]]), rows[row]))
        for found in results:
            found.sort(key=lambda m: (m.distance, m.set_name, m.entry))
        return results

    @staticmethod
    def _match(opened: _Set, entry: int, distance: int, row: tuple[int, bool, int, bytes]) -> Match:
        code = int(opened.category_of[entry]) if opened.category_of is not None else 0
        raw, uk = opened.categories[code]
        info = opened.info
        return Match(
            set_name=info.name,
            set_sha256=info.source_sha256,
            kind=info.kind,
            hash_kind=HashKind.PDQ,
            category_raw=raw,
            category=uk,
            scheme=info.scheme,
            entry=entry,
            distance=distance,
            orientation=COPY_ORIENTATION[row[2]],
            trimmed=row[1],
        )
