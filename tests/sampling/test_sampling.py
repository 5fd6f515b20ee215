"""Sampling: the statistics, the block-set rules, and the validation the issue asks for — over seeded trials
the observed detection rate agrees with the stated probability, and no block is ever reported that a full read
does not find."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest

from safenet.hashsets.blocks import BLOCK, BlockSet, block_hash, build_block_set, why_not_probative
from safenet.sampling import stats
from safenet.sampling.plan import Region, rounds
from safenet.sampling.sampler import SampleOptions, read_every_block, sample


def exact_miss(total: int, known: int, n: int) -> float:
    """P(miss) by counting: the share of n-subsets of total blocks that avoid the known ones."""
    return math.comb(total - known, n) / math.comb(total, n)


@pytest.mark.parametrize(("total", "known", "n"), [(10, 1, 3), (20, 4, 5), (50, 10, 10), (30, 30, 1), (12, 0, 5)])
def test_miss_probability_is_the_hypergeometric_count(total: int, known: int, n: int) -> None:
    assert stats.miss_probability(total, known, n) == pytest.approx(exact_miss(total, known, n), rel=1e-9, abs=1e-12)


def test_blocks_needed_is_the_smallest_sample_reaching_the_confidence() -> None:
    total, known = 268_435_456, 5120  # 1 TiB of 4 KiB blocks; 20 MiB of known material
    n = stats.blocks_needed(total, known, 0.99)
    assert stats.confidence(total, known, n) >= 0.99 > stats.confidence(total, known, n - 1)
    with_replacement = math.ceil(math.log(0.01) / math.log(1 - known / total))
    assert n <= with_replacement and n > 0.99 * with_replacement  # nearly the same for a sample this sparse


def test_binomial_interval_holds_the_level() -> None:
    low, high = stats.binomial_interval(40, 0.9, 0.99)
    mass = sum(math.comb(40, k) * 0.9**k * 0.1 ** (40 - k) for k in range(low, high + 1))
    assert mass >= 0.99 and low < 36 < high + 1


def test_rounds_are_distinct_aligned_sorted_and_repeatable() -> None:
    regions = [Region(63 * 512, 100 * BLOCK + 17, "p1"), Region(1 << 20, 50 * BLOCK, "p2")]
    got = list(rounds(regions, 120, seed=7, round_blocks=50))
    flat = [o for r in got for o in r]
    assert [len(r) for r in got] == [50, 50, 20] and all(r == sorted(r) for r in got)
    assert len(set(flat)) == 120
    assert all((o - 63 * 512) % BLOCK == 0 and o < 63 * 512 + 100 * BLOCK for o in flat if o < 1 << 20)
    assert all((o - (1 << 20)) % BLOCK == 0 for o in flat if o >= 1 << 20)
    assert got == list(rounds(regions, 120, seed=7, round_blocks=50))


def test_non_probative_blocks_are_refused() -> None:
    rng = random.Random(1)
    assert why_not_probative(bytes(BLOCK)) == "one byte value"
    assert why_not_probative(b"\xff" * BLOCK) == "one byte value"
    assert why_not_probative(bytes(range(64)) * (BLOCK // 64)) == "repeated pattern"
    assert why_not_probative(b"ab" * (BLOCK // 2)) == "repeated pattern"
    assert why_not_probative(bytes(rng.choice(b"abc") for _ in range(BLOCK))) == "low entropy"
    assert why_not_probative(rng.randbytes(BLOCK)) is None


def test_shared_and_known_good_blocks_are_dropped_and_sampleable_files_counted(tmp_path: Path) -> None:
    rng = random.Random(2)
    common, good = rng.randbytes(BLOCK), rng.randbytes(BLOCK)
    build_block_set([("os.dll", good * 2)], tmp_path / "good", "good")
    known_good = BlockSet(tmp_path / "good")
    files = [
        ("a.jpg", common + rng.randbytes(3 * BLOCK) + b"tail"),  # 4 whole blocks, 1 shared
        ("b.jpg", common + good + rng.randbytes(2 * BLOCK)),  # 4 whole blocks: 1 shared, 1 known-good
        ("c.bin", bytes(3 * BLOCK) + rng.randbytes(BLOCK)),  # 4 blocks, 3 zero: not sampleable
    ]
    info = build_block_set(files, tmp_path / "set", "ref", [known_good])
    assert (info.files, info.distinctive_blocks) == (3, 3 + 2 + 1)
    assert (info.dropped_shared, info.dropped_known_good, info.dropped_not_probative) == (2, 1, 3)
    assert info.sampleable_files == 2
    opened = BlockSet(tmp_path / "set")
    high, low = block_hash(files[0][1][BLOCK : 2 * BLOCK])
    [hit] = opened.lookup([8192], np.array([high], dtype=np.uint64), np.array([low], dtype=np.uint64))
    assert (hit.offset, hit.file, hit.block) == (8192, "a.jpg", 1)


REFERENCE_FILES = 40
FILE_BLOCKS = 16  # 64 KiB each: a small picture's worth of distinctive blocks
IMAGE_BLOCKS = 1024  # 4 MiB generated images


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[BlockSet, list[bytes]]:
    rng = random.Random(20261206)
    files = [rng.randbytes(FILE_BLOCKS * BLOCK) for _ in range(REFERENCE_FILES)]
    folder = tmp_path_factory.mktemp("blocks") / "set"
    build_block_set([(f"ref-{i:02}.jpg", data) for i, data in enumerate(files)], folder, "ref")
    return BlockSet(folder), files


def generated_image(path: Path, rng: random.Random, files: list[bytes], planted: int) -> set[int]:
    """Random bytes with ``planted`` known files at distinct cluster-aligned offsets; returns their block offsets."""
    image = bytearray(rng.randbytes(IMAGE_BLOCKS * BLOCK))
    slots = rng.sample(range(IMAGE_BLOCKS // FILE_BLOCKS), planted)
    known: set[int] = set()
    for slot, data in zip(slots, rng.sample(files, planted), strict=True):
        start = slot * FILE_BLOCKS * BLOCK
        image[start : start + len(data)] = data
        known.update(range(start, start + len(data), BLOCK))
    path.write_bytes(image)
    return known


@pytest.mark.slow
def test_detection_rate_agrees_with_the_stated_probability(
    reference: tuple[BlockSet, list[bytes]], tmp_path: Path
) -> None:
    """240 seeded trials in six groups (amount of known material × confidence asked): in each group the number of
    trials that detected the material lies in the 99 % binomial interval of the probability the sampler stated;
    every block reported is one a full read also finds (no false positives)."""
    block_set, files = reference
    rng = random.Random(3087799058)
    groups = list(itertools.product((1, 2), (0.5, 0.8, 0.95)))
    trials = 40
    for planted, wanted in groups:
        known_blocks = planted * FILE_BLOCKS
        detected, stated = 0, []
        for trial in range(trials):
            image = tmp_path / f"trial-{planted}-{wanted}-{trial}.bin"
            known = generated_image(image, rng, files, planted)
            result = sample(
                image,
                [block_set],
                SampleOptions(confidence=wanted, min_known=known_blocks * BLOCK, seed=rng.randrange(1 << 62)),
            )
            stated.append(result.reached)
            detected += result.found
            assert {h.offset for h in result.hits} <= known
            if trial % 10 == 0:  # the reference reads every block: it finds exactly the planted ones
                assert {h.offset for h in read_every_block(image, [block_set])} == known
            image.unlink()
        p = stated[0]
        assert all(s == p for s in stated) and p >= wanted  # the same sample size for every trial of a group
        low, high = stats.binomial_interval(trials, p, 0.99)
        assert low <= detected <= high, (planted, wanted, p, detected, (low, high))


def test_no_known_material_means_no_hit_and_a_stated_bound(
    reference: tuple[BlockSet, list[bytes]], tmp_path: Path
) -> None:
    block_set, files = reference
    rng = random.Random(11)
    for trial in range(20):
        image = tmp_path / f"clean-{trial}.bin"
        generated_image(image, rng, files, 0)
        result = sample(image, [block_set], SampleOptions(confidence=0.99, min_known=64 * 1024, seed=trial))
        assert not result.found and result.stopped == "complete"
        assert result.reached >= 0.99
        assert result.verdict().startswith("no known material detected; with 99.")
        assert "less than 64 KiB of material from these sets is present" in result.verdict()


def test_a_hit_names_the_block_and_stops_after_its_round(
    reference: tuple[BlockSet, list[bytes]], tmp_path: Path
) -> None:
    block_set, files = reference
    image = tmp_path / "planted.bin"
    known = generated_image(image, random.Random(5), files, 8)
    result = sample(
        image, [block_set], SampleOptions(confidence=0.999, min_known=8 * FILE_BLOCKS * BLOCK, seed=1, round_blocks=8)
    )
    assert result.found and result.stopped == "hit" and result.read < result.planned
    assert {h.offset for h in result.hits} <= known
    assert result.verdict().startswith("known material present:")
    assert f"first at byte {result.hits[0].offset:,}" in result.verdict()


def test_a_budget_stops_early_and_states_the_confidence_reached(
    reference: tuple[BlockSet, list[bytes]], tmp_path: Path
) -> None:
    block_set, files = reference
    image = tmp_path / "clean.bin"
    generated_image(image, random.Random(6), files, 0)
    result = sample(
        image, [block_set], SampleOptions(confidence=0.99, min_known=BLOCK, seed=2, budget_s=0.0, round_blocks=16)
    )
    assert result.stopped == "budget" and result.read == 0 and result.reached == 0.0
    assert "in the time allowed" in result.verdict() and "0.0% confidence" in result.verdict()


def test_a_dfxml_block_set_finds_its_blocks(tmp_path: Path) -> None:
    """Block hashes imported from DFXML byte runs (MD5 per 4 KiB, as hashdb writes them) find those blocks on a
    disk; runs that are not aligned 4 KiB blocks are skipped with one warning, and shared blocks dropped."""
    import hashlib

    from safenet.hashsets.blocks import import_dfxml_blocks

    rng = random.Random(9)
    data, other = rng.randbytes(4 * BLOCK), rng.randbytes(2 * BLOCK)
    shared = data[:BLOCK]

    def runs(blob: bytes) -> str:
        return "".join(
            f'<byte_run file_offset="{i * BLOCK}" len="{BLOCK}"><hashdigest type="MD5">'
            f"{hashlib.md5(blob[i * BLOCK : (i + 1) * BLOCK]).hexdigest()}</hashdigest></byte_run>"
            for i in range(len(blob) // BLOCK)
        )

    xml = (
        '<?xml version="1.0"?><dfxml xmlns="http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML">'
        f"<fileobject><filename>a.jpg</filename><filesize>{len(data)}</filesize><byte_runs>{runs(data)}"
        '<byte_run file_offset="100" len="512"><hashdigest type="MD5">' + "0" * 32 + "</hashdigest></byte_run>"
        f"</byte_runs></fileobject><fileobject><filename>b.jpg</filename><filesize>{2 * BLOCK}</filesize>"
        f"<byte_runs>{runs(shared + other[BLOCK:])}</byte_runs></fileobject></dfxml>"
    )
    source = tmp_path / "blocks.xml"
    source.write_text(xml)
    warnings: list[str] = []
    info = import_dfxml_blocks(source, tmp_path / "set", "dfxml", lambda ref, message: warnings.append(message))
    assert (info.hash, info.files, info.distinctive_blocks, info.dropped_shared) == ("md5", 2, 3 + 1, 2)
    assert warnings == ["1 byte runs were not 4 KiB-aligned 4 KiB blocks with an MD5 and were skipped"]
    image = tmp_path / "disk.bin"
    image.write_bytes(rng.randbytes(8 * BLOCK) + data + rng.randbytes(8 * BLOCK))
    hits = read_every_block(image, [BlockSet(tmp_path / "set")])
    assert [(h.offset, h.file, h.block) for h in hits] == [((8 + i) * BLOCK, "a.jpg", i) for i in (1, 2, 3)]
