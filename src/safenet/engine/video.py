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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from safenet.analysis.filetype import TYPES, FileType, MediaKind
from safenet.analysis.video.model import Stop, VideoSettings
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


@dataclass(frozen=True, slots=True)
class VideoWork:
    """What workers need for video: the exact-match test (settled videos get no frame work) and the budget."""

    settled: Callable[[Mapping[str, bytes]], bool]
    settings: VideoSettings
    sheet: bool

    @classmethod
    def for_profile(cls, profile: Profile, settled: Callable[[Mapping[str, bytes]], bool]) -> VideoWork:
        if profile is Profile.QUICK:
            return cls(settled, VideoSettings.quick(), sheet=False)
        return cls(settled, VideoSettings.full(), sheet=True)


def wants_video(filetype: FileType) -> bool:
    """Videos by signature, and GIFs (animated ones are hashed frame by frame; see the module docstring)."""
    return filetype.kind is MediaKind.VIDEO or filetype.name == "gif"


def hash_found_video(
    item: Item, filetype: FileType, source: bytes | BinaryIO, work: VideoWork
) -> tuple[VideoRecord | None, list[EvidenceWarning]]:
    """Frame hashes of one found video, and a warning with its locator when hashing stopped short."""
    gif = filetype.kind is not MediaKind.VIDEO
    settings = work.settings
    if gif and settings.rate_fps < GIF_RATE_FPS:
        settings = dataclasses.replace(settings, rate_fps=GIF_RATE_FPS)
    from safenet.analysis.video.hasher import hash_video  # PyAV: imported when a video is met

    result = hash_video(source, settings, sheet=work.sheet)
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
