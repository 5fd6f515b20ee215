"""The sampling reader: blocks come back in the order asked whatever the threads do, and reading ahead never
reads more than one round past what the sampler took."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from safenet.hashsets.blocks import BLOCK
from safenet.sampling.media import PreadReader
from safenet.sampling.sampler import read_ahead


def test_pread_reader_returns_every_block_in_the_order_asked(tmp_path: Path) -> None:
    rng = random.Random(5)
    blocks = [rng.randbytes(BLOCK) for _ in range(600)]
    image = tmp_path / "image.raw"
    image.write_bytes(b"".join(blocks) + b"tail")  # a last, partial block: a short read
    offsets = sorted(rng.sample(range(600), 250))
    reader = PreadReader(image, queue_depth=7)
    try:
        got = reader.read_blocks([o * BLOCK for o in offsets] + [600 * BLOCK])
        assert got == [blocks[o] for o in offsets] + [b"tail"]
        assert reader.read_blocks([BLOCK]) == [blocks[1]]  # fewer offsets than threads
        assert reader.read_blocks([]) == []
    finally:
        reader.close()


class CountingReader:
    size = 0

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def hash_blocks(self, offsets: Sequence[int], names: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
        self.asked.append(list(offsets))
        return {name: [(o, o) for o in offsets] for name in names}

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
    assert (offsets, hashed) == ([0, 1], {"xxh3-128": [(0, 0), (1, 1)]})
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
        assert dfvfs.hash_blocks(offsets, names) == pread.hash_blocks(offsets, names)
    finally:
        pread.close()
        dfvfs.close()

    # the sampler runs its whole plan over the container (the image holds no distinctive block to hit: an empty set)
    with tempfile.TemporaryDirectory() as folder:
        build_block_set([], Path(folder) / "set", "empty")
        result = sample(e01, [BlockSet(Path(folder) / "set")], SampleOptions(confidence=0.9, min_known=BLOCK, seed=4))
        assert result.stopped == "complete" and result.read == result.planned > 0 and not result.hits
