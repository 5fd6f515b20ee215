"""Seeded mutants of benign files, for tests that hostile input never ends a run.

Each generator takes the original bytes and a ``random.Random`` and returns one mutant; :func:`mutants`
mixes them, so the same (file, seed, count) always gives the same mutants (a failure names its seed and
mutation, and re-running reproduces it). Damage is aimed where parsers are fragile: most positions fall in
the first ``HEAD`` bytes (headers, tables, frame descriptors), the rest anywhere in the file.

Kinds: truncations (short prefixes and cuts anywhere), byte flips (1–8 random bytes or single bits),
inserted runs (random, zero or 0xFF bytes), deleted runs, and header swaps (the first bytes of another
file put in place of this file's, so one format's parser meets another's body).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

#: Bytes at the start of a file where most mutations land (headers and their tables).
HEAD: Final = 1024
_SHARE_IN_HEAD: Final = 0.6


@dataclass(frozen=True, slots=True)
class Mutant:
    """One damaged copy: ``how`` names the mutation and where, to reproduce a failure by hand."""

    how: str
    data: bytes


def _position(data: bytes, rng: random.Random) -> int:
    """An offset inside ``data``, in its head more often than not."""
    end = len(data)
    if end <= 1:
        return 0
    if rng.random() < _SHARE_IN_HEAD:
        return rng.randrange(min(end, HEAD))
    return rng.randrange(end)


def truncate(data: bytes, rng: random.Random) -> Mutant:
    """Cut the file: a short prefix (a header without its body) or anywhere."""
    cut = rng.randrange(1, min(len(data), 512) + 1) if rng.random() < 0.4 else _position(data, rng)
    return Mutant(f"truncate@{cut}", data[:cut])


def flip(data: bytes, rng: random.Random) -> Mutant:
    """Overwrite 1–8 bytes with random values, or flip one bit each."""
    if not data:
        return Mutant("flip-empty", data)
    out = bytearray(data)
    bits = rng.random() < 0.5
    places = sorted(_position(data, rng) for _ in range(rng.randint(1, 8)))
    for at in places:
        out[at] = out[at] ^ (1 << rng.randrange(8)) if bits else rng.randrange(256)
    return Mutant(f"{'bitflip' if bits else 'byteflip'}@{','.join(map(str, places))}", bytes(out))


def insert(data: bytes, rng: random.Random) -> Mutant:
    """Insert a run of 1–4096 random, zero or 0xFF bytes."""
    at = _position(data, rng)
    length = rng.choice((1, 2, 4, 16, 255, 4096))
    fill = rng.choice(("random", "zero", "ff"))
    run = rng.randbytes(length) if fill == "random" else (b"\0" if fill == "zero" else b"\xff") * length
    return Mutant(f"insert-{fill}{length}@{at}", data[:at] + run + data[at:])


def delete(data: bytes, rng: random.Random) -> Mutant:
    """Remove a run of 1–4096 bytes."""
    at = _position(data, rng)
    length = rng.choice((1, 2, 3, 16, 255, 4096))
    return Mutant(f"delete{length}@{at}", data[:at] + data[at + length :])


def swap_header(data: bytes, rng: random.Random, donors: Sequence[bytes]) -> Mutant:
    """Replace this file's first bytes with another file's: a parser meets a body it did not write."""
    if not donors:
        return flip(data, rng)
    donor = rng.randrange(len(donors))
    length = rng.choice((4, 16, 64, 256, 1024))
    return Mutant(f"header{length}-from-{donor}", donors[donor][:length] + data[length:])


_KINDS: Final[tuple[Callable[[bytes, random.Random], Mutant], ...]] = (truncate, flip, insert, delete)


def mutants(data: bytes, seed: int, count: int, donors: Sequence[bytes] = ()) -> Iterator[Mutant]:
    """``count`` mutants of ``data``: every kind in turn, positions and sizes from ``seed``."""
    rng = random.Random(seed)
    kinds = len(_KINDS) + 1
    for i in range(count):
        kind = i % kinds
        yield swap_header(data, rng, donors) if kind == len(_KINDS) else _KINDS[kind](data, rng)
