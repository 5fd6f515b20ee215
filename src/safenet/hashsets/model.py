"""Plain data types shared by the hash-set readers, the store and the engine.

Digests are raw bytes everywhere inside Safenet; hex only exists at the file and report boundaries, so a
comparison never depends on letter case or formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from safenet.wire import by_position

DEFAULT_PDQ_THRESHOLD = 31  # Meta's recommended PDQ match distance (docs/perceptual.md)
MAX_PDQ_THRESHOLD = 63  # beyond a quarter of the bits a "match" says little; refuse rather than mislead

WarnFn = Callable[[str, str], None]
"""Warning callback, called as ``warn(ref, message)``; ``ref`` says where in the source file ("line 12")."""


class SetKind(StrEnum):
    """What a match against the set means. Stored in the catalog, so the values are stable."""

    ILLICIT = "illicit"
    KNOWN_GOOD = "known-good"
    NOTABLE = "notable"


class HashKind(StrEnum):
    """Hash algorithms a set can hold. Stored in the catalog and case files and used in file names.

    MD5, SHA-1 and SHA-256 are exact digests (sorted tables, ``exact``); PDQ is Meta's 256-bit perceptual
    hash, searched within a Hamming distance (``index``). ``EXACT_KINDS`` lists the former. VPDQ names a
    video matched frame by frame (vPDQ rule, ``hashsets.video``): its frames are PDQ hashes too.

    The P2P kinds are exact too: ED2K (``analysis.ed2k``, 16 bytes) names a file's content as eDonkey and
    eMule do, so an item is matched by it like by MD5; BTIH (20 bytes) is a torrent's info-hash, the SHA-1
    of its ``info`` dictionary: it names a torrent, never a file's content, so only P2P records carry it.
    Neither can be told from MD5 or SHA-1 by its length: a file must name them (``formats``).
    """

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    ED2K = "ed2k"
    BTIH = "btih"
    PDQ = "pdq"
    VPDQ = "vpdq"

    @property
    def size(self) -> int:
        """Digest length in bytes (one frame's for VPDQ)."""
        return PDQ_SIZE if self in (HashKind.PDQ, HashKind.VPDQ) else DIGEST_SIZES[self]

    @property
    def exact(self) -> bool:
        """Whether a match means byte-identical content (not a perceptual likeness)."""
        return self not in (HashKind.PDQ, HashKind.VPDQ)

    @property
    def of_files(self) -> bool:
        """Whether a found file can carry this kind: every kind but BTIH, which names a torrent (P2P records)."""
        return self is not HashKind.BTIH


PDQ_SIZE = 32
DIGEST_SIZES: Mapping[HashKind, int] = {
    HashKind.MD5: 16,
    HashKind.SHA1: 20,
    HashKind.SHA256: 32,
    HashKind.ED2K: 16,
    HashKind.BTIH: 20,
}
EXACT_KINDS: tuple[HashKind, ...] = (HashKind.MD5, HashKind.SHA1, HashKind.SHA256, HashKind.ED2K, HashKind.BTIH)
#: The exact kinds a bare hex digest's length names (32: MD5, 40: SHA-1, 64: SHA-256); ED2K and BTIH have
#: the lengths of MD5 and SHA-1, so a file must say when it holds them.
LENGTH_KINDS: tuple[HashKind, ...] = (HashKind.MD5, HashKind.SHA1, HashKind.SHA256)


@dataclass(frozen=True, slots=True)
class VideoFrameRecord:
    """One frame of a known video as a set stores it: time, PDQ and quality, and the PDQ inside borders."""

    timestamp_s: float
    pdq: bytes
    quality: int
    trimmed: bytes | None = None
    trimmed_quality: int | None = None


@dataclass(frozen=True, slots=True)
class HashRecord:
    """One entry as read from a hash-set file, before it is stored."""

    md5: bytes | None
    sha1: bytes | None
    sha256: bytes | None
    category: str | None  # raw code exactly as in the file ("1", "A"); None = uncategorised or absent
    size: int | None = None
    name: str | None = None
    ref: str = ""  # where in the source file: "line 12", "MediaID 5"
    extra: Mapping[str, str] | None = None  # small per-entry metadata worth keeping (VICS only so far)
    pdq: bytes | None = None  # 32-byte PDQ hash (perceptual), as the C++ reference writes it in hex
    pdq_quality: int | None = None  # 0-100 when the source says; None = unknown (trusted, as PDQ lists)
    pdq_trimmed: bytes | None = None  # PDQ of the picture inside its uniform borders (``hashset build`` only)
    pdq_trimmed_quality: int | None = None
    video_frames: tuple[VideoFrameRecord, ...] = ()  # a reference video's sampled frames (``hashset build``)
    ed2k: bytes | None = None  # eDonkey/eMule hash of the file (``analysis.ed2k``)
    btih: bytes | None = None  # a torrent's info-hash (names a torrent, not a file's content)

    def digest(self, kind: HashKind) -> bytes | None:
        """The digest of one kind, or None when the entry does not carry it."""
        if kind is HashKind.MD5:
            return self.md5
        if kind is HashKind.SHA1:
            return self.sha1
        if kind is HashKind.ED2K:
            return self.ed2k
        if kind is HashKind.BTIH:
            return self.btih
        if kind is HashKind.PDQ:
            return self.pdq
        if kind is HashKind.VPDQ:
            return None  # a video's frames are in ``video_frames``, not one digest
        return self.sha256


@dataclass(frozen=True, slots=True)
class HashSetInfo:
    """Catalog entry of an imported set: what a run records to say which set versions it used."""

    name: str
    format: str
    source_path: str
    source_sha256: str
    imported_at: datetime  # UTC
    entry_count: int
    scheme: str
    kind: SetKind
    digests: tuple[HashKind, ...]
    profile: str | None = None  # VICS profile ("UK", "Default" ...) where the file says one
    pdq_threshold: int = 31  # largest Hamming distance that counts as a PDQ match for this set


@by_position
@dataclass(frozen=True, slots=True)
class Match:
    """One hit of one item against one entry of one set."""

    set_name: str
    set_sha256: str
    kind: SetKind
    hash_kind: HashKind
    category_raw: str | None
    category: str  # UK code: "A", "B", "C", "non-indecent", "uncategorised" or "unknown:<raw>"
    scheme: str
    entry: int
    distance: int | None = None  # perceptual matches only: Hamming distance to the entry's hash
    orientation: str | None = None  # perceptual: how the found image is turned from the entry (COPY_ORIENTATION)
    trimmed: bool | None = None  # perceptual: matched after uniform borders were removed
    frames: tuple[tuple[float, float | None, int], ...] | None = None  # video: (found s, known s|None, distance)

    @property
    def match_kind(self) -> str:
        """ "exact" (identical bytes) or "perceptual" (a likeness an examiner must confirm)."""
        return "exact" if self.hash_kind.exact else "perceptual"


class HashSetError(Exception):
    """A hash-set file or the hash-set database cannot be used; the message tells the user what to do."""


class UnknownFormat(HashSetError):
    """No registered reader recognises a file."""
