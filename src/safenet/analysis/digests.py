"""Digests and the one-read analysis loop: every byte is read once and fed to every consumer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from safenet.analysis.ed2k import Ed2kHash
from safenet.analysis.filetype import HEAD_BYTES, FileType, sniff
from safenet.analysis.md5mb import Md5Batch

#: Digest algorithms Safenet computes; names match hashsets.model.HashKind values. ED2K (``analysis.ed2k``) is
#: the eDonkey/eMule hash P2P clients and their investigators' hash sets name files by.
SUPPORTED = ("md5", "sha1", "sha256", "ed2k")
#: Always computed: SHA-256 verifies every reported file, MD5 keys VICS/CAID exports and most hash sets.
BASELINE: tuple[str, ...] = ("md5", "sha256")
#: Computed by the standard (lab) profile when none are asked for: exports and other agencies' sets ask for
#: any of these later. ED2K is added when a selected set holds it, and always in the full profile.
LAB: tuple[str, ...] = ("md5", "sha1", "sha256")
CHUNK = 1 << 20


def parse_algorithms(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list such as ``md5,sha256``; raises ValueError naming a bad entry."""
    names = tuple(dict.fromkeys(part.strip().lower().replace("-", "") for part in text.split(",") if part.strip()))
    for name in names:
        if name not in SUPPORTED:
            raise ValueError(f"unknown digest '{name}'; choose from {', '.join(SUPPORTED)}")
    if not names:
        raise ValueError("no digest algorithm given; choose from " + ", ".join(SUPPORTED))
    return names


def for_hash_sets(needed: Sequence[str], base: Sequence[str] = BASELINE) -> tuple[str, ...]:
    """The digests a triage computes: ``base`` (the on-scene baseline by default) plus what the selected hash
    sets hold.

    The verification hash of a reported file is SHA-256 (plus MD5 and SHA-1 where hash sets need them:
    docs/domain.md, forensic soundness). MD5 is always kept because exports to CAID and Project VIC
    are keyed by it. SHA-1 alone of the three is left out when no selected set holds it: it costs as much
    CPU as SHA-256 and would match nothing; ED2K likewise.
    """
    wanted = set(base) | {name for name in needed if name in SUPPORTED}
    return tuple(name for name in SUPPORTED if name in wanted)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def new_hasher(name: str) -> Hasher:
    """A fresh hasher for one of ``SUPPORTED``: hashlib's, or ``Ed2kHash`` (OpenSSL 3 has no MD4)."""
    return Ed2kHash() if name == "ed2k" else hashlib.new(name)


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What one read of a stream produced."""

    filetype: FileType
    digests: dict[str, bytes] | None  # None when the profile did not ask for digests of this type
    bytes_read: int
    #: The stream held more than the ``limit`` it was read to (a file growing while read): the digests
    #: are of the first ``limit`` bytes only.
    grew: bool = False


def analyse_stream(
    stream: BinaryIO,
    algorithms: Sequence[str],
    wants_digests: Callable[[FileType], bool],
    tee: Callable[[FileType], Sink | None] | None = None,
    limit: int | None = None,
    md5_batch: Md5Batch | None = None,
) -> StreamResult:
    """Read ``stream`` once: sniff its type from the head, then feed digests (and an optional copy).

    Exceptions from the stream (OSError, archive limits) propagate: the caller records them with the
    item's locator. ``tee`` may return a sink that receives every byte (used to keep a copy of a
    nested archive so it can be expanded without reading it twice from evidence).

    ``limit`` (the size the item was listed with) caps the read: a file that keeps growing while it is
    read (a log, a download in progress, a device that never ends) is read to that size, never beyond;
    one more byte is asked for to tell whether it grew (``StreamResult.grew``).

    ``md5_batch``: a small item's MD5 is left to the batch (``Md5Batch``: hashed with other items' in SIMD
    lanes when the batch ends, its ``digests["md5"]`` filled in then); everything else is as without it.
    """
    reader = _Capped(stream, limit) if limit is not None else stream
    head = reader.read(CHUNK)
    while len(head) < HEAD_BYTES:
        more = reader.read(CHUNK)
        if not more:
            break
        head += more
    filetype = sniff(head[:HEAD_BYTES])
    if not wants_digests(filetype):
        return StreamResult(filetype, None, len(head))
    later = md5_batch.collector(limit) if md5_batch is not None and "md5" in algorithms else None
    names = [name for name in algorithms if later is None or name != "md5"]
    hashers = [new_hasher(name) for name in names]
    sink = tee(filetype) if tee else None
    total = 0
    chunk = head
    while chunk:
        for hasher in hashers:
            hasher.update(chunk)
        if later is not None:
            later.append(chunk)
        if sink is not None:
            sink.write(chunk)
        total += len(chunk)
        chunk = reader.read(CHUNK)
    computed = {name: h.digest() for name, h in zip(names, hashers, strict=True)}
    digests = {name: computed.get(name, b"") for name in algorithms}  # the algorithms' order, md5 included
    if md5_batch is not None and later is not None:
        md5_batch.defer(digests, later)
    return StreamResult(filetype, digests, total, grew=isinstance(reader, _Capped) and reader.grew())


class _Capped:
    """Reads a stream up to ``limit`` bytes; ``grew()`` asks the stream for one byte more."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = max(limit, 0)

    def read(self, size: int) -> bytes:
        if self._left <= 0:
            return b""
        data = self._stream.read(min(size, self._left))
        self._left -= len(data)
        return data

    def grew(self) -> bool:
        return self._left <= 0 and bool(self._stream.read(1))
