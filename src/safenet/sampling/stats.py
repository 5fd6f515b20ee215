"""What a random sample of blocks proves: the probability of missing a given amount of known material.

The disk (or the volumes sampled) holds ``total`` blocks on the 4 KiB grid. Suppose ``known`` of them are
distinctive blocks of files in the block set. A sample of ``n`` blocks drawn uniformly *without replacement*
misses all of them with probability

    P(miss) = C(total - known, n) / C(total, n) = prod_{i<n} (1 - known / (total - i))

(the hypergeometric probability of zero successes). It is never more than (1 - known/total)^n, the
with-replacement figure, so a sample sized by the exact formula is smaller for the same confidence. "No known
material detected with confidence c" means: had ``known`` or more distinctive blocks been present, a sample
this size would have hit one with probability at least c.

Assumptions (the README states them with the verdict): the material's blocks lie on the sampled 4 KiB grid
(files stored in clusters of 4 KiB or a multiple, in volumes whose start the plan knows), stored as they are
in the set (not encrypted, compressed or re-encoded), and only distinctive blocks count (a file's blocks that
are not distinctive cannot be hit). Fragmentation does not matter: each block is hit or missed on its own.
"""

from __future__ import annotations

import math


def miss_probability(total: int, known: int, n: int) -> float:
    """P(a sample of ``n`` of ``total`` blocks, without replacement, hits none of ``known`` blocks)."""
    if known <= 0:
        return 1.0
    if n <= 0:
        return 1.0
    if known > total or n > total - known:
        return 0.0
    log_p = (
        math.lgamma(total - known + 1)
        - math.lgamma(total - known - n + 1)
        - math.lgamma(total + 1)
        + math.lgamma(total - n + 1)
    )
    return math.exp(log_p)


def confidence(total: int, known: int, n: int) -> float:
    """The detection probability a sample of ``n`` blocks gives for ``known`` blocks of material."""
    return 1.0 - miss_probability(total, known, n)


def blocks_needed(total: int, known: int, wanted: float) -> int:
    """The smallest sample size whose detection probability for ``known`` blocks is at least ``wanted``
    (``total`` when even the whole disk would not do, e.g. known = 0)."""
    if not 0.0 < wanted < 1.0:
        raise ValueError("the confidence must be above 0 and below 1, e.g. 0.99")
    if known <= 0:
        return total
    low, high = 0, total
    while low < high:
        mid = (low + high) // 2
        if confidence(total, known, mid) >= wanted:
            high = mid
        else:
            low = mid + 1
    return low


def binomial_interval(trials: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """The central interval of a Binomial(trials, p) count holding at least ``level`` of its probability: used to
    check observed detection rates against the stated probability."""
    tail = (1.0 - level) / 2.0
    pmf = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    low, acc = 0, 0.0
    while low < trials and acc + pmf[low] <= tail:
        acc += pmf[low]
        low += 1
    high, acc = trials, 0.0
    while high > 0 and acc + pmf[high] <= tail:
        acc += pmf[high]
        high -= 1
    return low, high
