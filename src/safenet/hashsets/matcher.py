"""What one triage run matches against: the selected sets opened once, for exact, perceptual and video
lookups.

Why a module of its own: each kind of lookup lives beside its own data (``exact`` the sorted digest
tables, ``perceptual`` the PDQ indexes, ``video`` the known videos' frame tables); ``Matcher`` is the one
object the engine holds, so a run opens each set once and worker processes can reopen the same sets from
plain data (``sources``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from safenet.hashsets.catalog import StoredSet
from safenet.hashsets.exact import ExactSets
from safenet.hashsets.model import HashKind, HashSetInfo, Match
from safenet.hashsets.perceptual import PerceptualQuery, PerceptualSets
from safenet.hashsets.video import VideoSets

if TYPE_CHECKING:
    from safenet.analysis.video.model import VideoFrame


class Matcher:
    """Batched lookups against a fixed list of sets (what one triage run uses)."""

    def __init__(self, sets: Sequence[tuple[StoredSet, Path]], *, perceptual: bool = True) -> None:
        """Open each set (catalog entry, directory of its arrays); arrays are memory-mapped, not loaded.

        ``perceptual=False`` skips loading PDQ indexes: enough for ``contains`` (what worker processes use).
        """
        self.sources: tuple[tuple[StoredSet, Path], ...] = tuple(sets)  # plain data: another process reopens
        self._exact = ExactSets(self.sources)
        self.sets: tuple[HashSetInfo, ...] = self._exact.infos
        arrays = [
            (stored, directory, categories)
            for (stored, directory), categories in zip(self.sources, self._exact.categories, strict=True)
        ]
        self._perceptual = PerceptualSets(arrays if perceptual else [])
        self._videos = VideoSets(arrays if perceptual else [])

    def lookup(self, queries: Sequence[Mapping[HashKind, bytes]]) -> list[list[Match]]:
        """Exact matches for each query (the digests of one item), in query order (``ExactSets.lookup``)."""
        return self._exact.lookup(queries)

    def contains(self, queries: Sequence[Mapping[HashKind, bytes]]) -> npt.NDArray[np.bool_]:
        """For each query, whether it matches any of the sets exactly; builds no Match objects."""
        return self._exact.contains(queries)

    @property
    def perceptual_sets(self) -> bool:
        """Whether any of the sets holds PDQ hashes usable for matching (so images need PDQ work)."""
        return bool(self._perceptual)

    def perceptual(self, queries: Sequence[PerceptualQuery]) -> list[list[Match]]:
        """Perceptual (PDQ) matches per found image, batched; see ``perceptual.PerceptualSets.lookup``."""
        return self._perceptual.lookup(queries)

    @property
    def video_sets(self) -> bool:
        """Whether any of the sets holds frames of known videos (matched by the vPDQ rule)."""
        return bool(self._videos)

    def videos(self, frames: Sequence[VideoFrame]) -> list[Match]:
        """Known videos that one found video's frames match; see ``video.VideoSets.lookup``."""
        return self._videos.lookup(frames)

    def close(self) -> None:
        """Drop the memory maps (they are also released when the matcher is garbage-collected)."""
        self._exact.close()
        self._perceptual = PerceptualSets([])
        self._videos = VideoSets([])

    def __enter__(self) -> Matcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
