"""Which blocks a sample reads: uniformly at random over the volumes, aligned to each volume's start, read in
rounds that are each a uniform random sample in their own right and each read in disk order.

Rounds matter for ``--budget``: stopping after k rounds leaves a uniform random sample of k rounds' blocks
(a sample cut short in plain disk order would have read only the start of the disk). Within a round the
offsets are sorted, so the device reads them in one sweep (elevator order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from safenet.hashsets.blocks import BLOCK


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of the device sampled on its own 4 KiB grid (a volume, or the whole device)."""

    offset: int
    length: int
    name: str = ""

    @property
    def blocks(self) -> int:
        return self.length // BLOCK


def total_blocks(regions: Sequence[Region]) -> int:
    return sum(r.blocks for r in regions)


def rounds(regions: Sequence[Region], n: int, seed: int, round_blocks: int = 4096) -> Iterator[list[int]]:
    """The byte offsets of ``n`` distinct blocks drawn uniformly without replacement, in rounds of
    ``round_blocks`` (the last may be shorter), each sorted. Same regions, n and seed: same offsets."""
    total = total_blocks(regions)
    n = min(n, total)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(total, size=n, replace=False) if n else np.zeros(0, dtype=np.int64)
    starts = np.cumsum([0] + [r.blocks for r in regions])
    bases = np.array([r.offset for r in regions] + [0], dtype=np.int64)
    for first in range(0, n, round_blocks):
        part = np.sort(chosen[first : first + round_blocks])
        region = np.searchsorted(starts, part, side="right") - 1
        offsets = bases[region] + (part - starts[region]) * BLOCK
        yield [int(o) for o in np.sort(offsets)]
