"""The sampling reader: blocks come back in the order asked whatever the threads do, and reading ahead never
reads more than one round past what the sampler took."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from safenet.hashsets.blocks import BLOCK
from safenet.sampling import media
from safenet.sampling.media import PreadReader
from safenet.sampling.sampler import read_ahead

# The C reader (safenet._blockio) where it was built, hashing in its threads where xxHash's header was there, and
# the fallbacks (hashing in Python; Python threads): the same answers.
READERS = [pytest.param((False, False), id="python-threads")]
if media._native() is not None:
    READERS.append(pytest.param((True, False), id="c-threads-python-hash"))
    if media._native().XXH3:
        READERS.append(pytest.param((True, True), id="c-threads-c-hash"))


def reader_for(path: Path, depth: int, mode: tuple[bool, bool]) -> PreadReader:
    native, hash_in_c = mode
    return PreadReader(path, queue_depth=depth, native=native, hash_in_c=hash_in_c)


def plain(hashed: media.Hashed) -> dict[str, tuple[list[int], list[int]]]:
    return {name: (hi.tolist(), lo.tolist()) for name, (hi, lo) in hashed.items()}


def test_the_c_reader_is_built_where_a_compiler_is() -> None:
    """`make` installs gcc and `pip install -e .` builds the extension; a silent fallback would cost the sampler
    its speed."""
    if shutil.which("gcc") or shutil.which("cc"):
        assert media._native() is not None, "pip install -e . did not build safenet._blockio (see setup.py)"
    if media._native() is not None and Path("/usr/include/xxhash.h").exists():
        assert media._native().XXH3, "safenet._blockio was built without xxHash's header (libxxhash-dev)"


def test_xxh3_in_the_reader_threads_is_the_xxhash_package_s() -> None:
    """The C threads' XXH3-128 (Debian's xxHash header) equals the xxhash package's, which built the sets."""
    extension = media._native()
    if extension is None or not extension.XXH3:
        pytest.skip("safenet._blockio is not built with XXH3")
    from array import array

    import numpy as np

    from safenet.hashsets.blocks import block_hash

    rng = random.Random(3)
    blocks = [rng.randbytes(BLOCK) for _ in range(64)] + [bytes(BLOCK), b"\xff" * BLOCK]
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "image.raw"
        image.write_bytes(b"".join(blocks))
        fd = os.open(image, os.O_RDONLY)
        try:
            reader = extension.Reader(fd, BLOCK, 4)
            out, lengths = bytearray(len(blocks) * BLOCK), array("i", bytes(4 * len(blocks)))
            hi, lo = np.zeros(len(blocks), np.uint64), np.zeros(len(blocks), np.uint64)
            offsets = array("q", [i * BLOCK for i in range(len(blocks))])
            reader.submit(offsets, out, lengths, hi, lo).wait()
            reader.close()
        finally:
            os.close(fd)
    assert list(zip(hi.tolist(), lo.tolist(), strict=True)) == [block_hash(b) for b in blocks]


def test_a_short_block_s_hash_is_zero_whatever_the_arrays_held(tmp_path: Path) -> None:
    """A block cut short by the media's end gets (0, 0), not what the caller's reused arrays held (a stale hash there
    would be another block's: a false hit)."""
    extension = media._native()
    if extension is None or not extension.XXH3:
        pytest.skip("safenet._blockio is not built with XXH3")
    from array import array

    import numpy as np

    image = tmp_path / "image.raw"
    image.write_bytes(bytes(range(256)) * 16 + b"tail")  # one whole block and 4 bytes of the next
    fd = os.open(image, os.O_RDONLY)
    try:
        reader = extension.Reader(fd, BLOCK, 2)
        out, lengths = bytearray(3 * BLOCK), array("i", bytes(12))
        hi, lo = np.full(3, 7, np.uint64), np.full(3, 9, np.uint64)  # left over from an earlier round
        reader.submit(array("q", [0, BLOCK, 2 * BLOCK]), out, lengths, hi, lo).wait()
        reader.close()
    finally:
        os.close(fd)
    assert list(lengths) == [BLOCK, 4, 0]
    assert hi.tolist()[1:] == [0, 0] and lo.tolist()[1:] == [0, 0] and (hi[0], lo[0]) != (7, 9)


@pytest.mark.parametrize("native", READERS)
def test_pread_reader_returns_every_block_in_the_order_asked(tmp_path: Path, native: tuple[bool, bool]) -> None:
    rng = random.Random(5)
    blocks = [rng.randbytes(BLOCK) for _ in range(600)]
    image = tmp_path / "image.raw"
    image.write_bytes(b"".join(blocks) + b"tail")  # a last, partial block: a short read
    offsets = sorted(rng.sample(range(600), 250))
    reader = reader_for(image, 7, native)
    try:
        got = reader.read_blocks([o * BLOCK for o in offsets] + [600 * BLOCK])
        assert got == [blocks[o] for o in offsets] + [b"tail"]
        assert reader.read_blocks([BLOCK]) == [blocks[1]]  # fewer offsets than threads
        assert reader.read_blocks([]) == []
        past = reader.read_blocks([601 * BLOCK, 10**12])  # past the end: empty blocks, never an error
        assert [bytes(b) for b in past] == [b"", b""]
    finally:
        reader.close()


@pytest.mark.parametrize("native", READERS)
@pytest.mark.parametrize("depth", [1, 3, 16, 64])
def test_many_threads_on_many_offsets_give_what_os_pread_gives(
    tmp_path: Path, native: tuple[bool, bool], depth: int
) -> None:
    """Every block lands in its own place whatever the threads' order: 5 000 offsets (repeats, unsorted runs,
    unaligned) against os.pread, and the hashes the sampler takes from them."""
    rng = random.Random(depth)
    image = tmp_path / "image.raw"
    image.write_bytes(rng.randbytes(300 * BLOCK + 123))
    offsets = [rng.randrange(0, 301 * BLOCK) for _ in range(5000)]
    fd = os.open(image, os.O_RDONLY)
    try:
        expected = [os.pread(fd, BLOCK, o) for o in offsets]
    finally:
        os.close(fd)
    reader = reader_for(image, depth, native)
    try:
        assert [bytes(b) for b in reader.read_blocks(offsets)] == expected
        for names in (("xxh3-128", "md5"), ("md5",), ("xxh3-128",), ()):
            assert plain(reader.submit(offsets, names).result()) == plain(media.hash_all(expected, names))
    finally:
        reader.close()


@pytest.mark.parametrize("native", READERS)
def test_rounds_submitted_ahead_come_back_each_whole_and_in_order(tmp_path: Path, native: tuple[bool, bool]) -> None:
    """Ten rounds queued before any is waited for (the C threads go from one to the next): each round's result
    is its own blocks; a round never waited for and dropped, and rounds still queued at close, are read first
    (their buffers are never freed under the threads)."""
    rng = random.Random(9)
    data = rng.randbytes(200 * BLOCK)
    image = tmp_path / "image.raw"
    image.write_bytes(data)
    plans = [sorted(rng.sample(range(200), rng.randrange(1, 60))) for _ in range(10)]
    names = ("xxh3-128",)

    def expected(plan: list[int]) -> dict[str, tuple[list[int], list[int]]]:
        return plain(media.hash_all([data[b * BLOCK : (b + 1) * BLOCK] for b in plan], names))

    reader = reader_for(image, 5, native)
    try:
        pending = [reader.submit([b * BLOCK for b in plan], names) for plan in plans]
        for plan, round_ in zip(plans, pending, strict=True):
            assert plain(round_.result()) == expected(plan)
        reader.submit([BLOCK] * 100, names)  # dropped unread
        left = [reader.submit([0, 199 * BLOCK], names) for _ in range(20)]
    finally:
        reader.close()
    assert all(plain(r.result()) == expected([0, 199]) for r in left)


@pytest.mark.parametrize("native", READERS)
def test_a_read_the_system_refuses_raises_its_error(tmp_path: Path, native: tuple[bool, bool]) -> None:
    """A folder given as the media: the read fails with the system's own error (EISDIR), as os.pread's would,
    whether the blocks or only their hashes are asked for."""
    reader = reader_for(tmp_path, 4, native)
    try:
        with pytest.raises(IsADirectoryError):
            reader.read_blocks([0, BLOCK])
        with pytest.raises(IsADirectoryError):
            reader.submit([0, BLOCK], ("xxh3-128",)).result()
    finally:
        reader.close()


class Ready:
    def __init__(self, hashed: media.Hashed) -> None:
        self.hashed = hashed

    def result(self) -> media.Hashed:
        return self.hashed


class CountingReader:
    """Each round's block hashes are its offsets."""

    size = 0

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def submit(self, offsets: Sequence[int], names: Sequence[str]) -> Ready:
        self.asked.append(list(offsets))
        halves = np.array(offsets, dtype=np.uint64)
        return Ready({name: (halves, halves) for name in names})

    def close(self) -> None:
        pass


def test_read_ahead_gives_every_round_in_order_and_stops_one_round_ahead() -> None:
    planned = [[i, i + 1] for i in range(0, 20, 2)]
    reader = CountingReader()
    assert [offsets for offsets, _ in read_ahead(reader, planned, ("xxh3-128",))] == planned
    assert reader.asked == planned

    reader = CountingReader()
    ahead = read_ahead(reader, iter(planned), ("xxh3-128",))
    offsets, hashed = next(ahead)
    assert (offsets, plain(hashed)) == ([0, 1], {"xxh3-128": ([0, 1], [0, 1])})
    ahead.close()  # the sampler stops (a hit, the budget): the round read ahead is the only one more
    assert reader.asked == planned[:2]


def test_an_e01_is_sampled_through_dfvfs_as_its_raw_twin_is_through_pread() -> None:
    """ext2.split.E01 holds the same media as ext2.raw (their MD5 is the E01's stored hash): the container reader
    gives the same hashes, block for block, as the raw reader, with both block hashes."""
    import tempfile

    from safenet.hashsets.blocks import BlockSet, build_block_set
    from safenet.sampling.media import DfvfsReader
    from safenet.sampling.sampler import SampleOptions, sample
    from tests.datafiles import DATA, data_file

    raw = data_file(DATA / "disk" / "dfvfs" / "ext2.raw")
    e01 = data_file(DATA / "disk" / "dfvfs" / "ext2.split.E01")
    data_file(DATA / "disk" / "dfvfs" / "ext2.split.E02")
    offsets = [o * BLOCK for o in range(0, 1024, 7)]
    names = ("xxh3-128", "md5")
    pread, dfvfs = PreadReader(raw, queue_depth=4), DfvfsReader(e01, "ewf")
    try:
        assert dfvfs.size == pread.size == 4 * 1024 * 1024
        assert plain(dfvfs.submit(offsets, names).result()) == plain(pread.submit(offsets, names).result())
    finally:
        pread.close()
        dfvfs.close()

    # the sampler runs its whole plan over the container (the image holds no distinctive block to hit: an empty set)
    with tempfile.TemporaryDirectory() as folder:
        build_block_set([], Path(folder) / "set", "empty")
        result = sample(e01, [BlockSet(Path(folder) / "set")], SampleOptions(confidence=0.9, min_known=BLOCK, seed=4))
        assert result.stopped == "complete" and result.read == result.planned > 0 and not result.hits


def test_the_c_reader_refuses_a_round_once_closed(tmp_path: Path) -> None:
    """A round submitted after close would never be read (its threads are gone): it is refused, not left to hang
    the caller's wait."""
    extension = media._native()
    if extension is None:
        pytest.skip("safenet._blockio is not built")
    from array import array

    image = tmp_path / "image.raw"
    image.write_bytes(bytes(2 * BLOCK))
    fd = os.open(image, os.O_RDONLY)
    try:
        reader = extension.Reader(fd, BLOCK, 2)
        reader.close()
        with pytest.raises(ValueError, match="closed"):
            reader.submit(array("q", [0]), bytearray(BLOCK), array("i", [0]))
    finally:
        os.close(fd)
