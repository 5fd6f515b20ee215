"""Multi-buffer MD5 (safenet._md5mb and its hashlib fallback) against hashlib and RFC 1321's vectors.

Every implementation this CPU runs is checked (AVX-512, AVX2 and the scalar loop are chosen by name), on a
seeded corpus so a failure reproduces: every length class around MD5's 64-byte blocks and its 56-byte
padding boundary, block multiples +-1, messages up to a few MiB, lanes of different lengths finishing at
different times, and more lanes than the SIMD width.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

import safenet
from safenet.analysis import md5mb

try:
    from safenet import _md5mb
except ImportError:  # not built here (no compiler): only the fallback is tested, and the next test says why
    _md5mb = None  # type: ignore[assignment]

ISAS = tuple(_md5mb.available()) if _md5mb is not None else ()
SEED = 20261206

RFC1321 = {  # RFC 1321, appendix A.5
    b"": "d41d8cd98f00b204e9800998ecf8427e",
    b"a": "0cc175b9c0f1b6a831c399e269772661",
    b"abc": "900150983cd24fb0d6963f7d28e17f72",
    b"message digest": "f96b697d7cb7938d525a2f31aaf161d0",
    b"abcdefghijklmnopqrstuvwxyz": "c3fcd3d76192e4007dfb496cca67e13b",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": "d174ab98d277d9f5a5611c2c9f419d9f",
    b"1234567890" * 8: "57edf4a22be3c955ac49da2e2107b67a",
}
EDGES = (0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129)
POOL = np.random.default_rng([SEED, 0]).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()


def lengths(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seeded message lengths: a third at the edge classes, a third block multiples +-1, a third anything."""
    edges = rng.choice(EDGES, count)
    multiples = rng.integers(1, 130, count) * 64 + rng.integers(-1, 2, count)
    anything = rng.integers(0, 8192, count)
    pick = rng.integers(0, 3, count)
    return np.choose(pick, [edges, multiples, anything])


def corpus(rng: np.random.Generator, sizes: Sequence[int]) -> list[memoryview]:
    """Messages of the given sizes: slices of the seeded pool at random offsets."""
    view = memoryview(POOL)
    starts = rng.integers(0, len(POOL) - max(sizes, default=0), len(sizes))
    return [view[start : start + size] for start, size in zip(starts.tolist(), sizes, strict=True)]


def reference(messages: Sequence[md5mb.Chunk]) -> list[bytes]:
    return [hashlib.md5(message).digest() for message in messages]


def test_extension_is_built_where_a_compiler_is() -> None:
    if shutil.which("gcc") or shutil.which("cc"):
        assert _md5mb is not None, "pip install -e . did not build safenet._md5mb (see setup.py)"
        assert ISAS[0] == md5mb.ISA


@pytest.mark.parametrize("isa", ISAS)
def test_rfc1321_vectors(isa: str) -> None:
    assert _md5mb is not None
    messages = list(RFC1321)
    assert [d.hex() for d in _md5mb.md5_many(messages, isa=isa)] == list(RFC1321.values())
    lanes = _md5mb.Md5Lanes(len(messages), isa=isa)
    lanes.update_lanes(messages)
    assert [lanes.finish(i).hex() for i in range(len(messages))] == list(RFC1321.values())


def test_rfc1321_vectors_fallback() -> None:
    lanes = md5mb.HashlibLanes(len(RFC1321))
    lanes.update_lanes(list(RFC1321))
    assert [lanes.finish(i).hex() for i in range(len(RFC1321))] == list(RFC1321.values())


def batches(count: int, batch: int, seed: int) -> Iterator[list[memoryview]]:
    rng = np.random.default_rng([SEED, seed])
    for _ in range(count // batch):
        yield corpus(rng, lengths(rng, batch).tolist())


@pytest.mark.slow
def test_a_million_random_messages_dispatched() -> None:
    """10**6 seeded messages of every length class through the implementation Safenet uses here."""
    for messages in batches(1_000_000, 20_000, 1):
        assert md5mb.md5_many(messages) == reference(messages)


@pytest.mark.parametrize("isa", ISAS)
def test_random_messages_each_implementation(isa: str) -> None:
    assert _md5mb is not None
    for messages in batches(100_000, 10_000, 2):
        assert _md5mb.md5_many(messages, isa=isa) == reference(messages)


@pytest.mark.parametrize("isa", ISAS)
def test_large_messages_mixed_with_small(isa: str) -> None:
    """MiB-sized messages beside short ones: the short ones' lanes take new messages while the long run."""
    assert _md5mb is not None
    rng = np.random.default_rng([SEED, 3])
    sizes = [(3 << 20) + 1, (1 << 20) - 1, 1 << 21, 5_000_000, *lengths(rng, 200).tolist()]
    messages = corpus(rng, sizes)
    assert _md5mb.md5_many(messages, isa=isa) == reference(messages)
    assert _md5mb.md5_many([], isa=isa) == []


def stream(lanes: md5mb.Lanes, rounds: int, seed: int) -> None:
    """Random chunks per lane (equal 64-byte multiples, odd sizes, None), lanes finishing at random times."""
    rng = np.random.default_rng([SEED, seed])
    hashers = [hashlib.md5() for _ in range(lanes.lanes)]
    for _ in range(rounds):
        equal = int(rng.integers(0, 5)) * 64
        odd = [int(rng.choice([*EDGES, int(rng.integers(0, 3000))])) for _ in hashers]
        sizes = [equal if rng.random() < 0.5 else size for size in odd]
        chunks: list[md5mb.Chunk | None] = list(corpus(rng, sizes))
        for i in range(len(chunks)):
            if rng.random() < 0.1:
                chunks[i] = None
        lanes.update_lanes(chunks)
        for hasher, chunk in zip(hashers, chunks, strict=True):
            if chunk is not None:
                hasher.update(chunk)
        for lane in np.flatnonzero(rng.random(len(hashers)) < 0.15).tolist():
            assert lanes.finish(lane) == hashers[lane].digest()
            hashers[lane] = hashlib.md5()
    assert [lanes.finish(i) for i in range(lanes.lanes)] == [h.digest() for h in hashers]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("count", [1, 3, 8, 16, 37])
def test_streaming_lanes(isa: str, count: int) -> None:
    assert _md5mb is not None
    lanes = _md5mb.Md5Lanes(count, isa=isa)
    assert (lanes.lanes, lanes.isa) == (count, isa)
    stream(lanes, 300, count)


def test_streaming_fallback() -> None:
    stream(md5mb.HashlibLanes(20), 200, 99)


@pytest.mark.parametrize("isa", ISAS)
def test_files_read_in_megabyte_chunks(isa: str) -> None:
    """The reader's pattern: equal 1 MiB chunks for every lane, each file ending with its own tail."""
    assert _md5mb is not None
    rng = np.random.default_rng([SEED, 4])
    files = corpus(rng, [int(n) for n in rng.integers(0, 3 << 20, 16)])
    lanes = _md5mb.Md5Lanes(len(files), isa=isa)
    chunk = 1 << 20
    done: dict[int, bytes] = {}
    for offset in range(0, max(len(f) for f in files) + 1, chunk):
        lanes.update_lanes([f[offset : offset + chunk] if i not in done else None for i, f in enumerate(files)])
        for i, f in enumerate(files):
            if i not in done and offset + chunk >= len(f):
                done[i] = lanes.finish(i)
    assert [done[i] for i in range(len(files))] == reference(files)


def test_reset_drops_a_lane() -> None:
    lanes = md5mb.new_lanes(2)
    lanes.update_lanes([b"abc", b"x"])
    lanes.reset(1)
    lanes.update_lanes([None, b"abc"])
    assert lanes.finish(0) == lanes.finish(1) == hashlib.md5(b"abc").digest()


@pytest.mark.parametrize("make", [md5mb.new_lanes, md5mb.HashlibLanes])
def test_mistakes_are_errors(make: Callable[[int], md5mb.Lanes]) -> None:
    lanes = make(2)
    with pytest.raises(ValueError, match="one entry per lane"):
        lanes.update_lanes([b"a"])
    with pytest.raises(IndexError):
        lanes.finish(2)
    with pytest.raises(TypeError):
        lanes.update_lanes([b"a", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least 1"):
        make(0)


@pytest.mark.skipif(_md5mb is None, reason="safenet._md5mb is not built")
def test_unknown_implementation_is_refused() -> None:
    assert _md5mb is not None
    with pytest.raises(ValueError, match="unknown MD5 implementation"):
        _md5mb.md5_many([b""], isa="sse9")


def test_threads_hash_at_once() -> None:
    """The GIL is released while hashing: threads with their own lanes get their own, right digests."""
    messages = list(next(batches(2_000, 2_000, 5)))
    results: list[list[bytes]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        results[slot] = md5mb.md5_many(messages)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [reference(messages)] * 4


def test_fallback_when_the_extension_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No extension (no compiler where Safenet was installed) or SAFENET_MD5=hashlib: hashlib, same digests."""
    messages = list(next(batches(500, 500, 6)))
    try:
        monkeypatch.setitem(sys.modules, "safenet._md5mb", None)  # makes the import fail
        monkeypatch.delattr(safenet, "_md5mb", raising=False)
        fallback = importlib.reload(md5mb)
        assert fallback.ISA == "hashlib"
        assert isinstance(fallback.new_lanes(3), fallback.HashlibLanes)
        assert fallback.md5_many(messages) == reference(messages)
        monkeypatch.undo()
        monkeypatch.setenv("SAFENET_MD5", "hashlib")
        assert importlib.reload(md5mb).ISA == "hashlib"
    finally:
        monkeypatch.undo()
        importlib.reload(md5mb)
    assert (ISAS[0] if ISAS else "hashlib") == md5mb.ISA


def test_batch_fills_in_each_items_digest() -> None:
    """Md5Batch: items of any size, read into their room in one piece or many; the limits leave the rest to the
    caller; the thread's arena is reused by the next batch."""
    rng = np.random.default_rng([SEED, 7])
    for _ in range(2):
        batch = md5mb.Md5Batch(max_item=3000, max_total=10_000)
        expected: list[tuple[dict[str, bytes], bytes]] = []
        for size in (0, 1, 64, 1000, 2999, 3000):
            room = batch.room(size)
            assert room is not None and len(room) == size
            data = bytes(corpus(rng, [size])[0])
            for i in range(0, size, 700):
                room[i : i + 700] = data[i : i + 700]
            digests = {"md5": b"", "sha256": b"kept"}
            batch.defer(digests, size)
            expected.append((digests, data))
        assert batch.room(3001) is None  # over max_item
        assert batch.room(None) is None  # size not known
        assert batch.room(3000) is None  # over what is left of max_total
        batch.finish()
        for digests, data in expected:
            assert digests == {"md5": hashlib.md5(data).digest(), "sha256": b"kept"}
        batch.finish()  # nothing pending: nothing to do


def test_batch_keeps_only_what_is_deferred() -> None:
    """A room whose item is not deferred (its type not hashed, or fewer bytes than listed) is handed out again;
    a deferred item keeps the bytes it read, however few, and the next room starts after them."""
    batch = md5mb.Md5Batch(max_item=100, max_total=1000)
    room = batch.room(10)
    assert room is not None
    room[:10] = b"not kept!!"  # an item read, then not hashed: nothing deferred
    again = batch.room(10)
    assert again is not None
    again[:5] = b"short"  # listed at 10 bytes, 5 read (the file shrank)
    first: dict[str, bytes] = {"md5": b""}
    batch.defer(first, 5)
    after = batch.room(10)
    assert after is not None
    after[:10] = b"next item!"
    second: dict[str, bytes] = {"md5": b""}
    batch.defer(second, 10)
    with pytest.raises(ValueError, match="do not fit"):
        batch.defer({"md5": b""}, 1000)
    batch.finish()
    assert first["md5"] == hashlib.md5(b"short").digest()
    assert second["md5"] == hashlib.md5(b"next item!").digest()
