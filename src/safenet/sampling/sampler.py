"""A sampled verdict: read a random sample of a device's blocks, look them up in block sets, and say what that
proves (``stats``) — "known material present" with where, or "none detected" with its confidence.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from safenet.hashsets.blocks import BLOCK, BlockHit, BlockSet
from safenet.sampling import stats
from safenet.sampling.media import BlockReader, Hashed, open_reader
from safenet.sampling.plan import Region, rounds, total_blocks

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class SampleOptions:
    confidence: float = 0.99  # wanted detection probability for ``min_known`` bytes of material
    min_known: int = 20 * MIB  # bytes of distinctive known blocks the verdict speaks about
    budget_s: float | None = None  # stop reading after this long; the verdict states the confidence reached
    seed: int | None = None  # None: a fresh random seed (recorded, so the sample can be repeated)
    queue_depth: int = 16
    round_blocks: int = 4096
    complete: bool = False  # read the whole planned sample even after a hit (default: stop after the hit's round)


@dataclass(frozen=True, slots=True)
class SampleResult:
    source: str
    regions: tuple[Region, ...]
    total_blocks: int
    known_blocks: int  # min_known in blocks
    wanted: float
    planned: int
    read: int
    hits: tuple[BlockHit, ...]
    reached: float  # detection probability for ``known_blocks`` given the blocks read
    seed: int
    seconds: float
    stopped: str  # "complete", "hit", "budget"
    limitations: tuple[str, ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return bool(self.hits)

    def verdict(self) -> str:
        amount = _human(self.known_blocks * BLOCK)
        if self.hits:
            first = self.hits[0]
            files = len({h.file for h in self.hits})
            return (
                f"known material present: {len(self.hits)} block(s) of {files} known file(s); first at byte "
                f"{first.offset:,} (block {first.block} of {first.file})"
            )
        if self.stopped == "budget" and self.reached < self.wanted:
            return (
                f"no known material detected in the time allowed; the {self.read:,} blocks read give "
                f"{self.reached:.1%} confidence that less than {amount} of material from these sets is present "
                f"({self.wanted:.0%} needed {self.planned:,} blocks)"
            )
        return (
            f"no known material detected; with {self.reached:.1%} confidence less than {amount} of material from "
            "these sets is present"
        )


def _human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} bytes"


def regions_of(path: Path) -> tuple[str | None, tuple[Region, ...], tuple[str, ...]]:
    """The image format, the regions to sample (each volume on its own grid; the whole media when no volume system
    is found) and what the sample cannot see (encrypted volumes: their blocks on disk are ciphertext)."""
    from safenet.evidence.image import ImageEvidence
    from safenet.evidence.locator import LayerKind
    from safenet.evidence.model import NotMyFormat

    try:
        evidence = ImageEvidence(path)
    except NotMyFormat:
        return None, (Region(0, path.stat().st_size, "whole media"),), ()
    size = evidence.media_size()
    seen: dict[tuple[int, int], Region] = {}
    limits = []
    for volume in evidence.volumes:
        partition = next((la for la in volume.layers if la.kind is LayerKind.PARTITION), None)
        offset = (partition.offset or 0) if partition else 0
        length = (partition.length or size - offset) if partition else size
        seen.setdefault((offset, length), Region(offset, length, partition.value if partition else "whole media"))
        if any(la.kind is LayerKind.ENCRYPTION for la in volume.layers):
            limits.append(f"{volume.name} is encrypted: its blocks on disk are ciphertext and cannot match")
    if not seen:
        seen[(0, size)] = Region(0, size, "whole media")
    return evidence.image_format, tuple(sorted(seen.values(), key=lambda r: r.offset)), tuple(limits)


def sample(
    path: Path,
    sets: Sequence[BlockSet],
    options: SampleOptions = SampleOptions(),
    on_round: Callable[[list[int], int, int, list[BlockHit]], None] | None = None,
) -> SampleResult:
    """Sample ``path`` (a raw image, a container image or a block device) against the block sets.

    ``on_round(offsets, read, planned, hits)`` is called after each round with the offsets it read, the blocks
    read so far, the planned sample size and the round's hits."""
    started = time.monotonic()
    image_format, regions, limits = regions_of(path)
    total = total_blocks(regions)
    known = max(1, math.ceil(options.min_known / BLOCK))
    planned = stats.blocks_needed(total, known, options.confidence)
    seed = options.seed if options.seed is not None else secrets.randbits(63)
    reader = open_reader(path, image_format, options.queue_depth)
    names = _hash_names(sets)
    hits: list[BlockHit] = []
    read, stopped = 0, "complete"
    try:
        with closing(read_ahead(reader, rounds(regions, planned, seed, options.round_blocks), names)) as ahead:
            for offsets, hashed in ahead:
                if options.budget_s is not None and time.monotonic() - started > options.budget_s:
                    stopped = "budget"
                    break
                found = lookup(sets, offsets, hashed)
                hits += found
                read += len(offsets)
                if on_round is not None:
                    on_round(offsets, read, planned, found)
                if hits and not options.complete:
                    stopped = "hit"
                    break
    finally:
        reader.close()
    return SampleResult(
        source=str(path),
        regions=regions,
        total_blocks=total,
        known_blocks=known,
        wanted=options.confidence,
        planned=planned,
        read=read,
        hits=tuple(hits),
        reached=stats.confidence(total, known, read),
        seed=seed,
        seconds=time.monotonic() - started,
        stopped=stopped,
        limitations=limits,
    )


def _hash_names(sets: Sequence[BlockSet]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.info.hash for s in sets))


def read_ahead(
    reader: BlockReader, planned: Iterable[list[int]], names: Sequence[str]
) -> Generator[tuple[list[int], Hashed], None, None]:
    """Each round's offsets and its blocks' hashes. The next round is submitted before this one is waited for, so
    the reader goes from one to the next with no pause, and the caller looks this round up while the next is
    read. A round read ahead and then not wanted (a hit, the budget) is waited for, never
    counted or recorded; a read error in it is not the caller's to see."""
    queued = iter(planned)
    current = next(queued, None)
    pending = reader.submit(current, names) if current is not None else None
    try:
        while current is not None and pending is not None:
            following = next(queued, None)
            after = reader.submit(following, names) if following is not None else None
            hashed = pending.result()
            pending = after  # before the yield: if the caller stops there, ``finally`` waits for it
            yield current, hashed
            current = following
    finally:
        if pending is not None:
            with suppress(OSError):
                pending.result()


def lookup(sets: Sequence[BlockSet], offsets: list[int], hashed: Hashed) -> list[BlockHit]:
    """The blocks read at ``offsets`` that belong to known files, by offset. ``hashed`` holds each block's hash by
    every block hash the sets use (XXH3-128 for built sets, MD5 for sets imported from DFXML)."""
    found: list[BlockHit] = []
    for block_set in sets:
        found += block_set.lookup(offsets, *hashed[block_set.info.hash])
    return sorted(found, key=lambda h: h.offset)


def read_every_block(path: Path, sets: Sequence[BlockSet]) -> list[BlockHit]:
    """The reference the sampler is checked against: every block of every region, hashed and looked up."""
    image_format, regions, _ = regions_of(path)
    reader = open_reader(path, image_format, 4)
    names = _hash_names(sets)
    hits: list[BlockHit] = []
    try:
        for region in regions:
            for first in range(0, region.blocks, 4096):
                offsets = [region.offset + (first + i) * BLOCK for i in range(min(4096, region.blocks - first))]
                hits += lookup(sets, offsets, reader.submit(offsets, names).result())
    finally:
        reader.close()
    return sorted(hits, key=lambda h: h.offset)
