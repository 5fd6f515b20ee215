"""The worker side of video matching: which found videos get frame hashes, how much work, which warnings.

Why here and not in ``pipeline``: the pipeline decides *when* (after the digests, from a seekable copy or a
reopened stream, exactly as for images); this module decides *what*: the profile's budget (quick: a bounded
number of frames spread over the video, since the on-scene verdict must not wait for a long film; standard
and full: every sampled frame), whether a blurred frame sheet is built (standard/full, for review), and
which stop reasons an officer must hear about. Matching itself is done by the main thread
(``engine.triage``), which owns the matcher's frame index, so workers only hash.

Why animated GIFs too: a GIF is typed as an image (its first frame gets a PDQ hash like any picture), but an
animation of many frames is, for a prosecutor, a moving image; its frames are matched like a video's. A GIF
with one frame is left to the image path. GIFs are sampled at ``GIF_RATE_FPS``, not 1 frame/s: animations
are short loops (the corpus one lasts 0.8 s), which 1 frame/s would reduce to their first frame, and their
frames are small, so the denser sampling (the density known videos are sampled at) costs little.

Why a worker may leave a video's frames to other tasks: every video is examined as fixed time segments
(``analysis.video.hasher``). On worker processes and Dask (``VideoWork.split``), a top-level video of several
segments is not hashed by the worker that examines it: its record says so (``PENDING_STOP``, with a
``PENDING_CODE`` warning holding the place of its video warnings) and the coordinator sends each segment as a
task of its own and merges them back (``engine.videosplit``) with the same function ``hash_video`` uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from safenet.analysis.filetype import TYPES, FileType, MediaKind
from safenet.analysis.video.model import SEGMENT_S, Stop, VideoHash, VideoSettings
from safenet.case.records import VideoRecord
from safenet.engine.profiles import Profile
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceWarning, Item
from safenet.hashsets.model import Match
from safenet.hashsets.video import MAX_FRAMES_RECORDED

if TYPE_CHECKING:
    from safenet.hashsets.matcher import Matcher

#: Extensions of the video types Safenet sniffs, for estimates made before anything is read.
VIDEO_EXTENSIONS: Final = frozenset(e for t in TYPES.values() if t.kind is MediaKind.VIDEO for e in t.extensions)
WARNING_CODE: Final = "video-incomplete"
SKIPPED_CODE: Final = "video-skipped"
GIF_RATE_FPS: Final = 4.0
#: A video record's stop while its segments are hashed by other tasks, and the warning marking where its video
#: warnings go: both replaced by the coordinator before anything is recorded (``engine.videosplit``).
PENDING_STOP: Final = "segments-pending"
PENDING_CODE: Final = "video-segments-pending"


@dataclass(frozen=True, slots=True)
class VideoWork:
    """What workers need for video: the exact-match test (settled videos get no frame work) and the budget."""

    settled: Callable[[Mapping[str, bytes]], bool]
    settings: VideoSettings
    sheet: bool
    split: bool = False  # a top-level video of several segments is left to segment tasks (module docstring)

    @classmethod
    def for_profile(
        cls,
        profile: Profile,
        settled: Callable[[Mapping[str, bytes]], bool],
        segment_s: float = SEGMENT_S,
        split: bool = False,
    ) -> VideoWork:
        quick = profile is Profile.QUICK
        settings = VideoSettings.quick() if quick else VideoSettings.full()
        return cls(settled, dataclasses.replace(settings, segment_s=segment_s), sheet=not quick, split=split)

    def for_type(self, filetype: FileType) -> VideoSettings:
        """The settings a found video of ``filetype`` is hashed with (GIFs denser: module docstring)."""
        if filetype.kind is not MediaKind.VIDEO and self.settings.rate_fps < GIF_RATE_FPS:
            return dataclasses.replace(self.settings, rate_fps=GIF_RATE_FPS)
        return self.settings


def wants_video(filetype: FileType) -> bool:
    """Videos by signature, and GIFs (animated ones are hashed frame by frame; see the module docstring)."""
    return filetype.kind is MediaKind.VIDEO or filetype.name == "gif"


def hash_found_video(
    item: Item, filetype: FileType, source: bytes | BinaryIO, work: VideoWork, top: bool = False
) -> tuple[VideoRecord | None, list[EvidenceWarning]]:
    """Frame hashes of one found video, and a warning with its locator when hashing stopped short.

    ``top``: the item is a task's top-level item (reopened by its locator); with ``work.split``, a video of
    several segments is left to segment tasks (a pending record: module docstring)."""
    settings = work.for_type(filetype)
    from safenet.analysis.video.hasher import hash_video, probe  # PyAV: imported when a video is met

    if work.split and top:
        meta, count = probe(source, settings)
        if count > 1:
            pending = EvidenceWarning(PENDING_CODE, "its segments are hashed by other tasks", item.locator)
            return VideoRecord((), meta, PENDING_STOP), [pending]
    return video_outcome(item, filetype, hash_video(source, settings, sheet=work.sheet), settings)


def video_outcome(
    item: Item, filetype: FileType, result: VideoHash, settings: VideoSettings
) -> tuple[VideoRecord | None, list[EvidenceWarning]]:
    """A hashed video's record (None for a still GIF, or nothing at all read) and its warnings."""
    gif = filetype.kind is not MediaKind.VIDEO
    if gif and result.sampled <= 1:
        return None, []  # a still GIF: its image PDQ is all there is
    warnings: list[EvidenceWarning] = []
    expected = result.stop is Stop.END or (result.stop is Stop.FRAME_CAP and settings.spread)
    if not expected:
        frames = f"{len(result.frames)} distinct frames hashed" if result.frames else "no frame hashed"
        code = WARNING_CODE if result.frames else SKIPPED_CODE
        message = f"video hashing stopped ({result.stop.value}: {result.message or 'no detail'}); {frames}"
        warnings.append(EvidenceWarning(code, display_safe(message), item.locator))
    if not result.frames and result.meta is None:
        return None, warnings
    return VideoRecord(result.frames, result.meta, result.stop.value, result.sheet), warnings


def match_found_video(matcher: Matcher, record: VideoRecord) -> tuple[Match, ...]:
    """Main thread: a found video against known videos (vPDQ rule) and its frames against image sets.

    A frame-vs-image hit is one finding per set entry: the best distance, with every matching frame time
    (capped); the known time is unknown (null) for an image. Entries already matched as a whole video are
    not reported again as frame hits (a known video's frames are also in its set's image index).
    """
    videos = matcher.videos(record.frames)
    whole = {(m.set_name, m.entry) for m in videos}
    queries = [(f.timestamp_s, tuple((t, (h,)) for t, h in f.variants())) for f in record.frames if f.usable]
    per_frame = matcher.perceptual([q for _, q in queries]) if queries else []
    hits: dict[tuple[str, int], list[tuple[float, Match]]] = {}
    for (timestamp, _), matches in zip(queries, per_frame, strict=True):
        for m in matches:
            if (m.set_name, m.entry) not in whole:
                hits.setdefault((m.set_name, m.entry), []).append((timestamp, m))
    frames: list[Match] = []
    for found in hits.values():
        best = min(found, key=lambda p: (p[1].distance or 0, p[0]))[1]
        pairs = tuple((t, None, m.distance or 0) for t, m in sorted(found, key=lambda p: p[0]))
        frames.append(dataclasses.replace(best, frames=pairs[:MAX_FRAMES_RECORDED]))
    return (*videos, *sorted(frames, key=lambda m: (m.distance or 0, m.set_name, m.entry)))
