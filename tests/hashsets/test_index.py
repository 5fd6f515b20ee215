"""The faiss indexes return exactly what the brute-force reference returns; saved indexes round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safenet.hashsets.index import BruteForceIndex, FaissIndex, IndexFormatError, load, save

RNG = np.random.default_rng(20240531)


def _flip(hashes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``hashes`` with exactly ``bits`` distinct bits flipped."""
    out = hashes.copy()
    for row in out:
        for bit in rng.choice(256, size=bits, replace=False):
            row[bit // 8] ^= 1 << (bit % 8)
    return out


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    base = RNG.integers(0, 256, (3000, 32), dtype=np.uint8)
    near = np.concatenate([_flip(base[:40], d, RNG) for d in (0, 1, 15, 16, 17, 30, 31, 32, 33, 47, 48)])
    queries = np.concatenate([near, RNG.integers(0, 256, (50, 32), dtype=np.uint8)])
    return base, queries


@pytest.mark.parametrize("kind", FaissIndex.KINDS)
@pytest.mark.parametrize("radius", [0, 15, 31, 32, 47])
def test_faiss_equals_brute_force(data: tuple[np.ndarray, np.ndarray], kind: str, radius: int) -> None:
    base, queries = data
    ids = np.arange(len(base), dtype=np.int64) * 7 + 3
    reference = BruteForceIndex(base, ids).query(queries, radius)
    got = FaissIndex(base, ids, kind).query(queries, radius)
    assert got.pairs() == reference.pairs()


def test_crafted_distances_at_the_threshold(data: tuple[np.ndarray, np.ndarray]) -> None:
    base, _ = data
    index = BruteForceIndex(base)
    for bits, expected in ((31, True), (32, False)):
        query = _flip(base[:1], bits, RNG)
        hits = index.query(query, 31)
        assert (0 in hits.entry.tolist()) is expected
        if expected:
            assert hits.distance[hits.entry == 0].tolist() == [31]


def test_empty_index_and_bad_queries() -> None:
    empty = np.empty((0, 32), np.uint8)
    assert len(FaissIndex(empty).query(RNG.integers(0, 256, (2, 32), dtype=np.uint8), 31)) == 0
    assert len(BruteForceIndex(empty).query(RNG.integers(0, 256, (2, 32), dtype=np.uint8), 31)) == 0
    with pytest.raises(ValueError):
        BruteForceIndex(empty).query(np.zeros((1, 31), np.uint8), 31)
    with pytest.raises(ValueError):
        BruteForceIndex(empty).query(np.zeros((1, 32), np.uint8), 300)


def test_save_load_round_trip(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    base, queries = data
    ids = np.arange(len(base), dtype=np.int64)
    path = tmp_path / "set.pdqidx"
    save(path, base, ids, np.full(len(base), 100, np.int16), threshold=31, name="synthetic")
    loaded = load(path)
    assert loaded.header["version"] == 1 and loaded.header["threshold"] == 31
    assert np.array_equal(loaded.hashes, base)
    assert loaded.index("multihash").query(queries, 31).pairs() == BruteForceIndex(base).query(queries, 31).pairs()


def test_load_refuses_other_versions_and_pickles(tmp_path: Path) -> None:
    path = tmp_path / "x.pdqidx"
    save(path, np.zeros((1, 32), np.uint8), np.zeros(1, np.int64), np.zeros(1, np.int16))
    raw = dict(np.load(path))
    raw["header"] = np.frombuffer(b'{"format": "safenet-pdq-index", "version": 99, "count": 1}', np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **raw)
    with pytest.raises(IndexFormatError, match="version 99"):
        load(path)
    evil = tmp_path / "evil.pdqidx"
    with evil.open("wb") as handle:
        np.savez(handle, header=np.array([object()], dtype=object))
    with pytest.raises(IndexFormatError):
        load(evil)
