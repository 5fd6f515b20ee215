"""Plain data types shared by the hash-set readers, the store and the engine.

Digests are raw bytes everywhere inside Safenet; hex only exists at the file and report boundaries, so a
comparison never depends on letter case or formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

WarnFn = Callable[[str, str], None]
"""Warning callback, called as ``warn(ref, message)``; ``ref`` says where in the source file ("line 12")."""


class SetKind(StrEnum):
    """What a match against the set means. Stored in the catalog, so the values are stable."""

    ILLICIT = "illicit"
    KNOWN_GOOD = "known-good"
    NOTABLE = "notable"


class HashKind(StrEnum):
    """Digest algorithms a set can hold. Stored in the catalog and used in file names."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"

    @property
    def size(self) -> int:
        """Digest length in bytes."""
        return DIGEST_SIZES[self]


DIGEST_SIZES: Mapping[HashKind, int] = {HashKind.MD5: 16, HashKind.SHA1: 20, HashKind.SHA256: 32}


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

    def digest(self, kind: HashKind) -> bytes | None:
        """The digest of one kind, or None when the entry does not carry it."""
        if kind is HashKind.MD5:
            return self.md5
        if kind is HashKind.SHA1:
            return self.sha1
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


class HashSetError(Exception):
    """A hash-set file or the hash-set database cannot be used; the message tells the user what to do."""


class UnknownFormat(HashSetError):
    """No registered reader recognises a file."""
