"""Known videos in hash sets: the per-set frame table, and the vPDQ-rule lookup a triage runs with it.

Why a frame table beside the image PDQ index, not instead of it: a video matches a known video by the
vPDQ rule, which needs every frame's owner and time (``hashsets.videomatch.KnownVideos``); the same frame
hashes are also written into the set's image index (``build``), so a still taken from a known video is
found by the ordinary image lookup with no extra step.

File ``video.frames.npz`` (one per set holding videos; ``numpy.savez`` without pickle, a JSON header with
format name and version, refused when either differs): per frame row the entry number, timestamp, PDQ,
quality and, for frames with uniform borders, the PDQ inside them (quality -1 when there is none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from safenet.analysis.video.model import VideoFrame
from safenet.hashsets.catalog import StoredSet
from safenet.hashsets.model import PDQ_SIZE, HashKind, HashSetError, HashSetInfo, Match
from safenet.hashsets.videomatch import KnownVideos, MatchSettings
from safenet.owner_only import open_owner_only

VIDEO_FRAMES_FILE: Final = "video.frames.npz"
FORMAT: Final = "safenet-video-frames"
VERSION: Final = 1
NO_TRIM: Final = -1  # trimmed_quality of a frame without borders (its trimmed hash is zeros)
MAX_FRAMES_RECORDED: Final = 50  # matched frame pairs kept per finding: enough to show where, not a dump


@dataclass(frozen=True, slots=True)
class FrameTable:
    """Frame rows of every known video of one set (columns of equal length)."""

    entries: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    hashes: npt.NDArray[np.uint8]  # (n, 32)
    qualities: npt.NDArray[np.int16]
    trimmed: npt.NDArray[np.uint8]  # (n, 32): zeros where trimmed_quality is NO_TRIM
    trimmed_qualities: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.entries)


def save_frames(path: Path, table: FrameTable) -> None:
    """Write the table with its versioned header (no pickle)."""
    header = {"format": FORMAT, "version": VERSION, "count": len(table)}
    raw = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    with open_owner_only(path) as handle:
        np.savez(
            handle,
            header=raw,
            entries=table.entries,
            timestamps=table.timestamps,
            hashes=table.hashes,
            qualities=table.qualities,
            trimmed=table.trimmed,
            trimmed_qualities=table.trimmed_qualities,
        )


def load_frames(path: Path) -> FrameTable:
    """Read a frame table; a damaged or foreign file is a HashSetError that says to re-import."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            table = FrameTable(
                data["entries"].astype(np.int64),
                data["timestamps"].astype(np.float64),
                data["hashes"],
                data["qualities"].astype(np.int16),
                data["trimmed"],
                data["trimmed_qualities"].astype(np.int16),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise HashSetError(f"hash-set file {path} is damaged: {exc}; re-import the set with --replace") from exc
    n = len(table.entries)
    shapes_ok = table.hashes.shape == (n, PDQ_SIZE) and table.trimmed.shape == (n, PDQ_SIZE)
    columns_ok = len(table.timestamps) == len(table.qualities) == len(table.trimmed_qualities) == n
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise HashSetError(f"hash-set file {path} is not a version-{VERSION} frame table; re-import the set")
    if not (shapes_ok and columns_ok and header.get("count") == n):
        raise HashSetError(f"hash-set file {path} is damaged: malformed columns; re-import the set with --replace")
    return table


def known_videos(table: FrameTable) -> KnownVideos[int]:
    """A ``KnownVideos`` keyed by entry number, straight from the stored columns."""

    return KnownVideos.from_arrays(
        table.entries, table.timestamps, table.hashes, table.qualities, table.trimmed, table.trimmed_qualities
    )


@dataclass(frozen=True, slots=True)
class _VideoSet:
    info: HashSetInfo
    videos: KnownVideos[int]
    category_of: npt.NDArray[np.uint16] | None
    categories: list[tuple[str | None, str]]


class VideoSets:
    """The video side of a ``Matcher``: every given set with a frame table, searched by the vPDQ rule."""

    def __init__(self, sets: Sequence[tuple[StoredSet, Path, npt.NDArray[np.uint16] | None]]) -> None:
        self._sets = [
            _VideoSet(
                stored.info,
                known_videos(load_frames(directory / VIDEO_FRAMES_FILE)),
                category_of,
                [(r, u) for r, u, _ in stored.contents.categories],
            )
            for stored, directory, category_of in sets
            if stored.contents.video is not None
        ]

    def __bool__(self) -> bool:
        return bool(self._sets)

    def lookup(self, frames: Sequence[VideoFrame]) -> list[Match]:
        """Known videos that ``frames`` (one found video) matches, each set at its own PDQ threshold."""

        found: list[Match] = []
        for opened in self._sets:
            settings = MatchSettings(max_distance=opened.info.pdq_threshold)
            for entry, result in opened.videos.match(frames, settings).items():
                if not result.is_match:
                    continue
                code = int(opened.category_of[entry]) if opened.category_of is not None else 0
                raw, uk = opened.categories[code]
                pairs = tuple((f.query_s, f.known_s, f.distance) for f in result.frames[:MAX_FRAMES_RECORDED])
                info = opened.info
                found.append(
                    Match(
                        set_name=info.name,
                        set_sha256=info.source_sha256,
                        kind=info.kind,
                        hash_kind=HashKind.VPDQ,
                        category_raw=raw,
                        category=uk,
                        scheme=info.scheme,
                        entry=entry,
                        distance=min(f.distance for f in result.frames),
                        trimmed=any(f.trimmed for f in result.frames),
                        frames=pairs,
                    )
                )
        return found
