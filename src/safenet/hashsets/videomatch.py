"""vPDQ-style matching: video against known videos, frames against image sets, stills against video frames.

The rule (python-threatexchange ``vpdq_brute_matcher``): drop frames below quality 50, de-duplicate
identical hashes, then a query video matches a known video when at least ``query_threshold`` of its frames
are within ``max_distance`` of some frame of the known video AND at least ``index_threshold`` of the known
video's frames are within it of some query frame. vPDQ's defaults are 31 bits, 80 % and 0 %: the index
side is off by default so that a clip cut from a long known video matches it.

Two additions to vPDQ, both counted as one frame: a frame's hash inside uniform borders (letterboxed or
pillarboxed copies) is searched beside its whole-frame hash, and each matched query frame reports the
known frame nearest to it with both timestamps, so an examiner sees *which* part of a video matched.

Frame lookups go through ``hashsets.index`` (docs/architecture.md): the brute-force reference for small sets and
exact faiss above ``FAISS_FROM`` hashes, as the image side does. Both give identical results.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from safenet.analysis.pdq import DEFAULT_THRESHOLD, MIN_QUALITY
from safenet.analysis.video.model import VideoFrame, VideoHash
from safenet.hashsets import index as perceptual_index
from safenet.hashsets.perceptual import FAISS_FROM

#: vPDQ's defaults (python-threatexchange ``vpdq_util``), as fractions.
QUERY_THRESHOLD: Final = 0.8
INDEX_THRESHOLD: Final = 0.0

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class MatchSettings:
    max_distance: int = DEFAULT_THRESHOLD
    query_threshold: float = QUERY_THRESHOLD
    index_threshold: float = INDEX_THRESHOLD

    def __post_init__(self) -> None:
        if not 0 <= self.max_distance <= perceptual_index.BITS:
            raise ValueError(f"max_distance must be 0..{perceptual_index.BITS}, got {self.max_distance}")
        for name in ("query_threshold", "index_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a fraction 0..1, got {value}")


@dataclass(frozen=True, slots=True)
class FrameMatch:
    """A query frame and the nearest known frame: times in seconds, Hamming distance, border-trimmed?"""

    query_s: float
    known_s: float
    distance: int
    trimmed: bool


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """The comparison of a query video with one known video (``is_match`` applies the thresholds)."""

    is_match: bool
    query_fraction: float  # of the query's usable distinct frames, matched in the known video
    known_fraction: float  # of the known video's usable distinct frames, matched in the query
    query_frames: int
    known_frames: int
    frames: tuple[FrameMatch, ...]  # one per matched query frame, in query time order
    reason: str | None = None  # why no match was possible (no usable frames)


@dataclass(frozen=True, slots=True)
class FrameHit:
    """A frame of a video within the distance of an entry of an image (PDQ) index."""

    timestamp_s: float
    entry: int
    distance: int
    trimmed: bool


def distinct_usable(frames: Sequence[VideoFrame]) -> list[VideoFrame]:
    """Usable frames, first of each identical hash (vPDQ's ``quality_filter`` then ``dedupe``)."""
    seen: set[bytes] = set()
    kept = []
    for frame in frames:
        if frame.usable and frame.pdq not in seen:
            seen.add(frame.pdq)
            kept.append(frame)
    return kept


@dataclass(frozen=True, slots=True)
class _Rows:
    """Every searchable hash of a list of frames: which frame, whether trimmed, and the hash."""

    frame: npt.NDArray[np.int64]
    trimmed: npt.NDArray[np.bool_]
    hashes: perceptual_index.Hashes

    @classmethod
    def of(cls, groups: Sequence[Sequence[VideoFrame]]) -> tuple[_Rows, npt.NDArray[np.int64]]:
        """Rows of several videos' frames (frame numbers global) and the video of each global frame."""
        frame_ids: list[int] = []
        trimmed: list[bool] = []
        hashes: list[bytes] = []
        owner: list[int] = []
        for video, frames in enumerate(groups):
            for frame in frames:
                number = len(owner)
                owner.append(video)
                for is_trimmed, value in frame.variants():
                    frame_ids.append(number)
                    trimmed.append(is_trimmed)
                    hashes.append(value)
        rows = cls(
            np.array(frame_ids, dtype=np.int64),
            np.array(trimmed, dtype=np.bool_),
            perceptual_index.as_hash_array(hashes) if hashes else np.empty((0, perceptual_index.BYTES), np.uint8),
        )
        return rows, np.array(owner, dtype=np.int64)


def _open_index(hashes: perceptual_index.Hashes) -> perceptual_index.PerceptualIndex:
    if len(hashes) < FAISS_FROM:
        return perceptual_index.BruteForceIndex(hashes)
    return perceptual_index.FaissIndex(hashes, kind="flat")


class KnownVideos(Generic[K]):
    """Frame hashes of many known videos in one index: what a hash set of videos searches.

    Keys are the caller's (a set entry id, a file name). Built once, queried per found video.
    """

    def __init__(self, videos: Mapping[K, VideoHash | Sequence[VideoFrame]]) -> None:
        self.keys = list(videos)
        self._frames = [distinct_usable(v.frames if isinstance(v, VideoHash) else v) for v in videos.values()]
        self._flat = [f for frames in self._frames for f in frames]
        self._rows, self._owner = _Rows.of(self._frames)
        self._index = _open_index(self._rows.hashes)

    @classmethod
    def from_arrays(
        cls,
        keys: npt.NDArray[np.int64],
        timestamps: npt.NDArray[np.float64],
        hashes: perceptual_index.Hashes,
        qualities: npt.NDArray[np.int16],
        trimmed: perceptual_index.Hashes | None = None,
        trimmed_qualities: npt.NDArray[np.int16] | None = None,
    ) -> KnownVideos[int]:
        """From a stored frame table (``hashsets.video``): one row per frame, ``keys`` the video of each.

        Why: a hash set holds columns, not ``VideoHash`` objects. Rows keep their order within a video;
        a negative ``trimmed_qualities`` value means the frame has no trimmed hash. Quality below 50 makes
        a frame unusable, as in hashing (only usable frames are normally stored).
        """
        videos: dict[int, list[VideoFrame]] = {}
        for i, key in enumerate(keys.tolist()):
            quality = int(qualities[i])
            t_quality = int(trimmed_qualities[i]) if trimmed_qualities is not None else -1
            videos.setdefault(key, []).append(
                VideoFrame(
                    float(timestamps[i]),
                    hashes[i].tobytes(),
                    quality,
                    trimmed=trimmed[i].tobytes() if trimmed is not None and t_quality >= 0 else None,
                    trimmed_quality=t_quality if t_quality >= 0 else None,
                    low_quality_reason=None if quality >= MIN_QUALITY else f"quality {quality} < {MIN_QUALITY}",
                )
            )
        return KnownVideos(videos)

    def __len__(self) -> int:
        return len(self.keys)

    def match(
        self, query: VideoHash | Sequence[VideoFrame], settings: MatchSettings | None = None
    ) -> dict[K, VideoMatch]:
        """Every known video sharing at least one frame with ``query``, compared by the vPDQ rule."""
        settings = settings or MatchSettings()
        frames = distinct_usable(query.frames if isinstance(query, VideoHash) else query)
        rows, _ = _Rows.of([frames])
        if not len(rows.hashes) or not len(self._rows.hashes):
            return {}
        hits = self._index.query(rows.hashes, settings.max_distance)
        q_frame = rows.frame[hits.query]
        k_frame = self._rows.frame[hits.entry]
        trimmed = rows.trimmed[hits.query] | self._rows.trimmed[hits.entry]
        video = self._owner[k_frame]
        results: dict[K, VideoMatch] = {}
        for v in np.unique(video).tolist():
            mask = video == v
            results[self.keys[v]] = self._compare(
                frames, v, q_frame[mask], k_frame[mask], hits.distance[mask], trimmed[mask], settings
            )
        return results

    def _compare(
        self,
        frames: list[VideoFrame],
        video: int,
        q_frame: npt.NDArray[np.int64],
        k_frame: npt.NDArray[np.int64],
        distance: npt.NDArray[np.int32],
        trimmed: npt.NDArray[np.bool_],
        settings: MatchSettings,
    ) -> VideoMatch:
        known_count = len(self._frames[video])
        query_fraction = len(np.unique(q_frame)) / len(frames)
        known_fraction = len(np.unique(k_frame)) / known_count
        order = np.lexsort((k_frame, trimmed, distance, q_frame))  # best per query frame first
        best: dict[int, FrameMatch] = {}
        for i in order.tolist():
            q = int(q_frame[i])
            if q not in best:
                known = self._flat[int(k_frame[i])]
                best[q] = FrameMatch(frames[q].timestamp_s, known.timestamp_s, int(distance[i]), bool(trimmed[i]))
        return VideoMatch(
            is_match=query_fraction >= settings.query_threshold and known_fraction >= settings.index_threshold,
            query_fraction=query_fraction,
            known_fraction=known_fraction,
            query_frames=len(frames),
            known_frames=known_count,
            frames=tuple(best[q] for q in sorted(best)),
        )

    def lookup_image(
        self, variants: Sequence[tuple[bool, Sequence[bytes]]], max_distance: int = DEFAULT_THRESHOLD
    ) -> list[tuple[K, FrameHit]]:
        """A still (its ``PdqResult.variants()``) against every known frame: best hit per known video."""
        rows = [(t, h) for t, hashes in variants for h in hashes]
        if not rows or not len(self._rows.hashes):
            return []
        hits = self._index.query(perceptual_index.as_hash_array([h for _, h in rows]), max_distance)
        best: dict[int, tuple[int, FrameHit]] = {}
        for q, entry, distance in hits.pairs():
            number = int(self._rows.frame[entry])
            video = int(self._owner[number])
            hit = FrameHit(
                self._flat[number].timestamp_s, number, distance, rows[q][0] or bool(self._rows.trimmed[entry])
            )
            if video not in best or (distance, hit.trimmed) < (best[video][1].distance, best[video][1].trimmed):
                best[video] = (video, hit)
        return [(self.keys[v], hit) for v, hit in sorted(best.values(), key=lambda p: p[1].distance)]


def match_videos(
    query: VideoHash | Sequence[VideoFrame],
    known: VideoHash | Sequence[VideoFrame],
    settings: MatchSettings | None = None,
) -> VideoMatch:
    """Compare one found video with one known video by the vPDQ rule (query side first)."""
    settings = settings or MatchSettings()
    query_frames = distinct_usable(query.frames if isinstance(query, VideoHash) else query)
    known_frames = distinct_usable(known.frames if isinstance(known, VideoHash) else known)
    if not query_frames or not known_frames:
        side = "query" if not query_frames else "known"
        return VideoMatch(
            False, 0.0, 0.0, len(query_frames), len(known_frames), (), f"no usable frames in {side} video"
        )
    found = KnownVideos({0: known_frames}).match(query_frames, settings)
    if 0 in found:
        return found[0]
    return VideoMatch(False, 0.0, 0.0, len(query_frames), len(known_frames), ())


def match_frames(
    video: VideoHash | Sequence[VideoFrame],
    index: perceptual_index.PerceptualIndex,
    max_distance: int = DEFAULT_THRESHOLD,
) -> list[FrameHit]:
    """Frames of a found video against an image PDQ index: best hit per (frame, entry), in time order."""
    frames = [f for f in (video.frames if isinstance(video, VideoHash) else video) if f.usable]
    rows, _ = _Rows.of([frames])
    if not len(rows.hashes) or not len(index):
        return []
    hits = index.query(rows.hashes, max_distance)
    best: dict[tuple[int, int], FrameHit] = {}
    for q, entry, distance in hits.pairs():
        number = int(rows.frame[q])
        hit = FrameHit(frames[number].timestamp_s, entry, distance, bool(rows.trimmed[q]))
        key = (number, entry)
        if key not in best or (distance, hit.trimmed) < (best[key].distance, best[key].trimmed):
            best[key] = hit
    return sorted(best.values(), key=lambda h: (h.timestamp_s, h.distance, h.entry))
