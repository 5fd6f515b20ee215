"""ED2K against an independent implementation written here from the specification.

MD4 is written here from RFC 1320 (and checked against the RFC's own test vectors); the ED2K rule from the
eDonkey2000 / eMule description: 9 728 000-byte chunks, a file shorter than one chunk hashes to the MD4 of its
bytes, otherwise to the MD4 of its chunks' MD4s, and an exact multiple of the chunk size counts a final empty
chunk (eMule). Data is generated on the fly (zeros with a marker byte near each chunk's start and end), so
even the two-chunk sizes cost a few MiB of memory at most.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable, Iterator

import pytest

from safenet.analysis import ed2k as ed2k_module
from safenet.analysis.digests import SUPPORTED, analyse_stream, for_hash_sets, parse_algorithms
from safenet.analysis.ed2k import (
    CHUNK_SIZE,
    Ed2kHash,
    ed2k,
    ed2k_link,
    gnutella_sha1,
    parse_gnutella_sha1,
)

# --- MD4 from RFC 1320 ----------------------------------------------------------------------------------

_MASK = 0xFFFFFFFF


def _rotl(value: int, shift: int) -> int:
    value &= _MASK
    return ((value << shift) | (value >> (32 - shift))) & _MASK


class PureMD4:
    """RFC 1320 MD4: 512-bit blocks, three rounds of 16 steps, little-endian words."""

    def __init__(self) -> None:
        self.state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
        self.pending = b""
        self.length = 0

    def copy(self) -> PureMD4:
        twin = PureMD4()
        twin.state, twin.pending, twin.length = list(self.state), self.pending, self.length
        return twin

    def update(self, data: bytes) -> None:
        self.length += len(data)
        data = self.pending + data
        whole = len(data) - len(data) % 64
        for offset in range(0, whole, 64):
            self._block(data[offset : offset + 64])
        self.pending = data[whole:]

    def digest(self) -> bytes:
        twin = self.copy()
        bits = (self.length * 8) & 0xFFFFFFFFFFFFFFFF
        padding = b"\x80" + bytes((55 - self.length) % 64)
        twin.update(padding + struct.pack("<Q", bits))
        assert not twin.pending
        return struct.pack("<4I", *twin.state)

    def _block(self, block: bytes) -> None:
        x = struct.unpack("<16I", block)
        a, b, c, d = self.state

        def f(x_: int, y: int, z: int) -> int:
            return (x_ & y) | (~x_ & z)

        def g(x_: int, y: int, z: int) -> int:
            return (x_ & y) | (x_ & z) | (y & z)

        def h(x_: int, y: int, z: int) -> int:
            return x_ ^ y ^ z

        for k in (0, 4, 8, 12):  # round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
            a = _rotl(a + f(b, c, d) + x[k], 3)
            d = _rotl(d + f(a, b, c) + x[k + 1], 7)
            c = _rotl(c + f(d, a, b) + x[k + 2], 11)
            b = _rotl(b + f(c, d, a) + x[k + 3], 19)
        for k in (0, 1, 2, 3):  # round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
            a = _rotl(a + g(b, c, d) + x[k] + 0x5A827999, 3)
            d = _rotl(d + g(a, b, c) + x[k + 4] + 0x5A827999, 5)
            c = _rotl(c + g(d, a, b) + x[k + 8] + 0x5A827999, 9)
            b = _rotl(b + g(c, d, a) + x[k + 12] + 0x5A827999, 13)
        for k in (0, 2, 1, 3):  # round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s
            a = _rotl(a + h(b, c, d) + x[k] + 0x6ED9EBA1, 3)
            d = _rotl(d + h(a, b, c) + x[k + 8] + 0x6ED9EBA1, 9)
            c = _rotl(c + h(d, a, b) + x[k + 4] + 0x6ED9EBA1, 11)
            b = _rotl(b + h(c, d, a) + x[k + 12] + 0x6ED9EBA1, 15)
        self.state = [(s + v) & _MASK for s, v in zip(self.state, (a, b, c, d), strict=True)]


RFC1320_VECTORS = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("message", "expected"), RFC1320_VECTORS)
def test_pure_md4_matches_rfc1320_vectors(message: bytes, expected: str) -> None:
    md4 = PureMD4()
    md4.update(message)
    assert md4.digest().hex() == expected


@pytest.mark.parametrize(("message", "expected"), RFC1320_VECTORS)
def test_ed2k_of_less_than_a_chunk_is_md4(message: bytes, expected: str) -> None:
    assert ed2k(message).hex() == expected


# --- ED2K from the specification ------------------------------------------------------------------------


def marked(start: int, length: int, chunk: int) -> bytes:
    """Bytes [start, start + length) of the test file: zeros, except byte 17 of chunk i holds i + 1 and the
    last byte of chunk i holds 0xA5, so equal-length chunks differ and a shifted boundary changes the hash."""
    data = bytearray(length)
    first, last = start // chunk, (start + length) // chunk
    for index in range(first, last + 1):
        for offset, value in ((index * chunk + 17, index + 1), (index * chunk + chunk - 1, 0xA5)):
            if start <= offset < start + length:
                data[offset - start] = value & 0xFF
    return bytes(data)


def pieces(size: int, chunk: int, piece: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, size, piece):
        yield marked(start, min(piece, size - start), chunk)


class ChunkMD4s:
    """MD4 of the first ``length`` bytes of chunk ``index`` of the test file, with pure MD4.

    Each chunk is streamed once, forward: asking for increasing lengths (as the sizes below do) continues
    from where the last answer stopped, so the two-chunk cases cost two chunks of pure-Python MD4, not seven.
    """

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.at: dict[int, tuple[int, PureMD4]] = {}

    def __call__(self, index: int, length: int) -> bytes:
        position, md4 = self.at.get(index, (0, PureMD4()))
        if length < position:
            position, md4 = 0, PureMD4()
        start = index * self.chunk
        while position < length:
            step = min(1 << 20, length - position)
            md4.update(marked(start + position, step, self.chunk))
            position += step
        self.at[index] = (position, md4)
        return md4.digest()


def ed2k_from_spec(size: int, chunk: int, md4_of: Callable[[int, int], bytes]) -> bytes:
    if size < chunk:
        return md4_of(0, size)
    full, rest = divmod(size, chunk)
    # eMule: an exact multiple counts a final empty chunk (rest == 0 gives MD4 of nothing).
    hashes = [md4_of(i, chunk) for i in range(full)] + [md4_of(full, rest)]
    outer = PureMD4()
    outer.update(b"".join(hashes))
    return outer.digest()


def ed2k_under_test(size: int, chunk: int) -> bytes:
    hasher = Ed2kHash()
    for piece in pieces(size, chunk):
        hasher.update(piece)
    return hasher.digest()


SMALL = 1000  # a chunk size that keeps the convention's every case fast


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 2 * SMALL + 1, 5 * SMALL + 7])
def test_chunk_rule_with_a_small_chunk(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed2k_module, "CHUNK_SIZE", SMALL)
    assert ed2k_under_test(size, SMALL) == ed2k_from_spec(size, SMALL, ChunkMD4s(SMALL))


def test_exact_multiple_counts_the_empty_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed2k_module, "CHUNK_SIZE", SMALL)
    data = marked(0, SMALL, SMALL)
    chunk_md4, empty_md4 = PureMD4(), PureMD4()
    chunk_md4.update(data)
    outer = PureMD4()
    outer.update(chunk_md4.digest() + empty_md4.digest())
    assert Ed2kHash(data).digest() == outer.digest()
    assert Ed2kHash(data).digest() != chunk_md4.digest()  # not the "blue" convention


@pytest.fixture(scope="module")
def real_chunk_md4s() -> ChunkMD4s:
    return ChunkMD4s(CHUNK_SIZE)


REAL_SIZES = [
    0,
    1,
    pytest.param(CHUNK_SIZE - 1, marks=pytest.mark.slow),
    pytest.param(CHUNK_SIZE, marks=pytest.mark.slow),
    pytest.param(CHUNK_SIZE + 1, marks=pytest.mark.slow),
    pytest.param(2 * CHUNK_SIZE, marks=pytest.mark.slow),
    pytest.param(2 * CHUNK_SIZE + 1, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("size", REAL_SIZES)
def test_ed2k_agrees_with_the_specification(size: int, real_chunk_md4s: ChunkMD4s) -> None:
    assert ed2k_under_test(size, CHUNK_SIZE) == ed2k_from_spec(size, CHUNK_SIZE, real_chunk_md4s)


def test_digest_leaves_the_hasher_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed2k_module, "CHUNK_SIZE", SMALL)
    hasher = Ed2kHash()
    hasher.update(marked(0, 1500, SMALL))
    early = hasher.digest()
    twin = hasher.copy()
    hasher.update(marked(1500, 1000, SMALL))
    assert twin.digest() == early
    assert hasher.hexdigest() == ed2k_from_spec(2500, SMALL, ChunkMD4s(SMALL)).hex()


def test_digest_and_copy_within_the_first_chunk_leave_the_hasher_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any chunk is finished (no MD4 over chunk digests made yet): digest twice, copy, go on past chunks."""
    monkeypatch.setattr(ed2k_module, "CHUNK_SIZE", SMALL)
    hasher = Ed2kHash()
    hasher.update(marked(0, 700, SMALL))
    early = hasher.digest()
    assert hasher.digest() == early == ed2k_from_spec(700, SMALL, ChunkMD4s(SMALL))
    twin = hasher.copy()
    hasher.update(marked(700, 1800, SMALL))
    twin.update(marked(700, 300, SMALL))  # the copy reaches the chunk's end on its own
    assert hasher.digest() == ed2k_from_spec(2500, SMALL, ChunkMD4s(SMALL))
    assert twin.digest() == ed2k_from_spec(1000, SMALL, ChunkMD4s(SMALL))
    assert Ed2kHash().copy().digest() == ed2k_from_spec(0, SMALL, ChunkMD4s(SMALL))


def test_one_read_loop_computes_ed2k_beside_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed2k_module, "CHUNK_SIZE", SMALL)
    data = b"".join(pieces(3 * SMALL, SMALL))
    result = analyse_stream(io.BytesIO(data), ("md5", "ed2k", "sha1"), lambda _: True)
    assert result.digests is not None
    assert result.digests["ed2k"] == ed2k_from_spec(3 * SMALL, SMALL, ChunkMD4s(SMALL))
    assert result.digests["md5"] == hashlib.md5(data).digest()
    assert result.digests["sha1"] == hashlib.sha1(data).digest()


def test_ed2k_is_chosen_by_name_by_sets_and_by_the_full_profile() -> None:
    from safenet.engine.profiles import Profile

    assert "ed2k" in SUPPORTED
    assert parse_algorithms("md5,ED2K") == ("md5", "ed2k")
    assert for_hash_sets([]) == ("md5", "sha256")
    assert for_hash_sets(["ed2k"]) == ("md5", "sha256", "ed2k")
    assert Profile.QUICK.digests(["md5"]) == ("md5", "sha256")
    assert Profile.STANDARD.digests([]) == ("md5", "sha1", "sha256")
    assert Profile.STANDARD.digests(["ed2k"]) == ("md5", "sha1", "sha256", "ed2k")
    assert "ed2k" in Profile.FULL.digests([])


def test_links_and_gnutella_sha1() -> None:
    digest = ed2k(b"abc")
    assert ed2k_link("a b.jpg", 3, digest) == "ed2k://|file|a b.jpg|3|A448017AAF21D8525FC10AE87AA6729D|/"
    sha1 = hashlib.sha1(b"abc").digest()
    urn = gnutella_sha1(sha1)
    assert urn == "urn:sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5"
    assert parse_gnutella_sha1(urn) == sha1
    assert parse_gnutella_sha1(urn.lower()) == sha1
    assert parse_gnutella_sha1("urn:sha1:TOOSHORT") is None
    assert parse_gnutella_sha1("urn:sha1:" + "1" * 32) is None  # 1 is not a base32 letter
    assert parse_gnutella_sha1(sha1.hex()) is None


def test_one_chunk_of_zeros_gives_emules_published_hash() -> None:
    # The value eMule-era tools publish for 9 728 000 zero bytes; the "blue" convention (no empty chunk)
    # would give d7def262a127cd79096a108e7a9fc138, the plain MD4 of the chunk.
    hasher = Ed2kHash()
    for _ in range(CHUNK_SIZE // 64_000):
        hasher.update(bytes(64_000))
    assert hasher.hexdigest() == "fc21d9af828f92a8df64beac3357425d"
