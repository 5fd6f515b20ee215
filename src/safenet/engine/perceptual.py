"""The worker side of perceptual matching: which images get a PDQ hash, and from which bytes.

Why the decision is made in the worker: an image already matched exactly needs no perceptual work
(docs/architecture.md: decisive first), and the worker knows its digests the moment the read ends. Asking the matcher
(``Matcher.contains``, one vectorised lookup, read-only memory maps: safe from threads) there avoids
decoding the image at all, where a main-thread decision would need the bytes kept or read again.

Which bytes (one read: docs/architecture.md): ``analyse_stream`` already reads the whole file for the digests, so
images up to ``KEEP_LIMIT`` are collected from that read (the chunks it reads anyway: no extra copy until
they are joined) and decoded from memory. Larger ones would pin ``workers × size`` bytes of memory for a
gain that a 50 MB file's decode dwarfs, so a top-level item is re-opened from its locator instead (a
second read, only for rare, huge images); an archive member, which cannot be re-opened cheaply, is
spooled (memory, then a private temporary file), as nested archives already are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from safenet.analysis.pdq import Decoded, PdqMode, Skipped, compute, compute_decoded
from safenet.case.records import PdqRecord
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceWarning, Item
from safenet.hashsets.model import HashKind

if TYPE_CHECKING:
    from safenet.hashsets.matcher import Matcher

KEEP_LIMIT: Final = 32 << 20
WARNING_CODE: Final = "perceptual-skipped"


@dataclass(frozen=True, slots=True)
class PerceptualWork:
    """What workers need for PDQ: whether digests are already settled by an exact match, and limits."""

    settled: Callable[[Mapping[str, bytes]], bool]
    keep_limit: int = KEEP_LIMIT
    mode: PdqMode = PdqMode.FAST

    def keeps_copy(self, item: Item) -> bool:
        """Whether to collect the bytes while they are read (else: reopen, or spool for a member)."""
        return keeps_copy(item, self.keep_limit)


def keeps_copy(item: Item, limit: int = KEEP_LIMIT) -> bool:
    """Whether an image is small enough to collect its bytes from the one read (PDQ, review thumbnail)."""
    return item.size is not None and item.size <= limit


def perceptual_work(matcher: Matcher | None, *, wanted: bool | None = None) -> PerceptualWork | None:
    """PDQ work for a worker when a selected set holds PDQ hashes; exact matches settle an image first.

    ``wanted`` overrides asking ``matcher.perceptual_sets`` (a worker process opens its matcher without the
    PDQ indexes, which only the main thread searches).
    """
    if matcher is None or not (matcher.perceptual_sets if wanted is None else wanted):
        return None

    def settled(digests: Mapping[str, bytes]) -> bool:
        return bool(matcher.contains([{HashKind(k): v for k, v in digests.items()}])[0])

    return PerceptualWork(settled)


class ChunkCopy:
    """A sink that keeps the chunks the read loop hands it (references, not copies) until joined."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(data)
        return len(data)

    def value(self) -> bytes:
        if len(self._chunks) != 1:  # joined once, however many users (PDQ, thumbnail) ask
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]


def hash_image(item: Item, source: bytes | BinaryIO | Decoded | Skipped, mode: PdqMode) -> PdqRecord | EvidenceWarning:
    """PDQ of one image, from its bytes or from the decode its mode makes (``pdq.hasher.fast_decode`` for the fast
    mode: a decode shared with the review thumbnail); a picture that cannot be decoded is a warning with its
    locator, never an error."""
    result = compute_decoded(source, mode) if isinstance(source, Decoded | Skipped) else compute(source, mode)
    if isinstance(result, Skipped):
        return EvidenceWarning(
            WARNING_CODE, display_safe(f"no perceptual hash ({result.reason}): {result.message}"), item.locator
        )
    variants = tuple((trimmed, h.hashes) for trimmed, h in result.variants())
    return PdqRecord(result.full.hash, result.quality, result.low_quality_reason, variants)
