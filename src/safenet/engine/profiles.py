"""Triage profiles: how much of an exhibit is examined (see docs/architecture.md, Profiles)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from safenet.analysis.digests import LAB, SUPPORTED, for_hash_sets
from safenet.analysis.filetype import FileType


class Profile(StrEnum):
    QUICK = "quick"  # media files by signature: the on-scene verdict
    STANDARD = "standard"  # plus archives expanded (later: caches, embedded thumbnails, video frames)
    FULL = "full"  # plus every file hashed (later: carving, known-good filtering of everything)

    @property
    def expands_archives(self) -> bool:
        return self is not Profile.QUICK

    @property
    def expands_embedded(self) -> bool:
        """Whether pictures inside pictures and documents become items (EXIF thumbnails, camera previews,
        MPO pictures, PDF/Office/OLE pictures): not in the quick profile, which must stay fast."""
        return self is not Profile.QUICK

    @property
    def producers(self) -> frozenset[str]:
        """The producers (``evidence.producers`` NAMEs) that expand what is found inside items: none in the
        quick profile; archives, caches, embedded pictures and e-mail attachments in the lab profiles; carving in
        the full one."""
        return _PRODUCERS[self]

    def _producers(self) -> frozenset[str]:
        names = {"archive", "cache", "mail"} if self.expands_archives else set()
        if self.expands_archives and self.expands_embedded:
            names.add("embedded")
        if self is Profile.FULL:
            names.add("carving")
        return frozenset(names)

    @property
    def perceptual(self) -> bool:
        """Whether images get PDQ matching when a selected set holds PDQ hashes: every profile (the
        on-scene verdict must find resized and recompressed copies too); exact matches still skip it."""
        return True

    @property
    def parses_p2p(self) -> bool:
        """Whether P2P client artefacts (eMule known.met, torrents' resume data ...) are parsed and their records
        matched: every profile (asking the parsers costs a look at each file's name and first bytes, and only
        the files they claim are read whole; a record of known material is evidence even where the file is gone)."""
        return True

    @property
    def makes_thumbnails(self) -> bool:
        """Whether workers make each image's default review thumbnail from the bytes they read (not in the
        quick profile: the on-scene verdict must stay fast; the review UI makes them on first view)."""
        return self is not Profile.QUICK

    def digests(self, needed: Sequence[str]) -> tuple[str, ...]:
        """The digests computed when none are asked for, given the kinds the selected hash sets hold: the
        quick profile computes what matching and verification need (``digests.for_hash_sets``), the standard
        profile MD5, SHA-1 and SHA-256 (exports and other agencies' sets ask for any of them later) plus what
        the sets hold (ED2K), the full profile every supported digest, ED2K included."""
        if self is Profile.FULL:
            return SUPPORTED
        return for_hash_sets(needed, LAB) if self is Profile.STANDARD else for_hash_sets(needed)

    def wants_digests(self, filetype: FileType) -> bool:
        """Whether a file of this type is hashed (and so matched) in this profile."""
        return self is Profile.FULL or filetype.is_media

    @property
    def not_examined_note(self) -> str | None:
        """What this profile leaves out, for the report's 'not examined' section."""
        return {
            Profile.QUICK: "files that are not images or videos by signature were not hashed; archives were not "
            "opened (quick profile)",
            Profile.STANDARD: "files that are not images or videos by signature were not hashed (standard profile)",
            Profile.FULL: None,
        }[self]


_PRODUCERS = {profile: profile._producers() for profile in Profile}  # asked once per item: computed once
