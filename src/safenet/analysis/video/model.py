"""Plain data for video hashing: settings in, a picklable :class:`VideoHash` out.

Why plain frozen dataclasses of bytes, ints and floats: a video is hashed in a worker process (or on Dask)
and the result travels back and into the case store, so it must pickle and must not hold a decoder, a file
handle or any pixels. The only picture data a result may carry is the blurred, greyscale frame sheet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from safenet.analysis.pdq import DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD, MIN_QUALITY
from safenet.wire import by_position

#: Consecutive sampled frames within this many bits of the frame kept before them are collapsed into it.
#: Small on purpose (a still scene re-encoded differs by a few bits; a slow pan by more): collapsing only
#: saves storage and matching work, it must never merge two different shots.
COLLAPSE_BITS: Final = 4
#: Videos are examined as time segments of this many seconds (``analysis.video.hasher``); a video shorter than
#: two segments is one. Two minutes of 1080p decode in a few seconds: a task whose per-task cost (reopening the
#: file, one seek, a result round trip) is small beside it, and a ten-hour film is 300 tasks to spread.
SEGMENT_S: Final = 120.0
#: Timestamps within this many seconds of a sampling instant count as on it (container time bases round).
INSTANT_EPSILON: Final = 1e-6


class Stop(StrEnum):
    """Why hashing ended. Only ``END`` means every sampled frame was hashed."""

    END = "end"  # the stream ended: complete
    FRAME_CAP = "frame-cap"  # settings.max_frames sampled frames hashed: bounded on purpose
    TIME_BUDGET = "time-budget"  # settings.time_budget_s spent: bounded on purpose
    DECODE_ERROR = "decode-error"  # the stream broke part-way (garbage, failing packets): frames so far kept
    TRUNCATED = "truncated"  # the stream ended well before its declared duration: frames so far kept
    TOO_LARGE = "too-large"  # frames larger than settings.max_pixels: not converted
    UNDECODABLE = "undecodable"  # not a container/codec we can open at all
    NO_VIDEO = "no-video"  # a container without a video stream (audio only, empty)


@dataclass(frozen=True, slots=True)
class VideoSettings:
    """How much of a video to hash. ``quick``/``full`` mirror the triage profiles.

    ``spread``: when the duration is known and ``max_frames`` would stop sampling before the end, widen the
    sampling step so that the bounded number of frames covers the whole video (a quick look at a two-hour
    video must not only see its opening titles). Sparse samples are reached by seeking.
    """

    rate_fps: float = 1.0
    max_frames: int = 36_000  # ten hours at 1 frame/s
    time_budget_s: float = 300.0
    spread: bool = False
    collapse_bits: int = COLLAPSE_BITS
    trim: bool = True  # also hash the picture inside uniform borders (letterbox, pillarbox)
    seek_gap_s: float = 10.0  # seek rather than decode forward when the next sample is this far ahead
    max_pixels: int = DEFAULT_MAX_PIXELS  # per frame, as for images (8K video is 33 MP)
    segment_s: float = SEGMENT_S  # examined as segments of this length (``Segment``); tests turn it down

    def __post_init__(self) -> None:
        if not self.rate_fps > 0:
            raise ValueError(f"rate_fps must be > 0, got {self.rate_fps}")
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be ≥ 1, got {self.max_frames}")
        if not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0, got {self.time_budget_s}")
        if not 0 <= self.collapse_bits <= DEFAULT_THRESHOLD:
            raise ValueError(f"collapse_bits must be 0..{DEFAULT_THRESHOLD}, got {self.collapse_bits}")
        if not self.segment_s > 0:
            raise ValueError(f"segment_s must be > 0, got {self.segment_s}")

    @classmethod
    def quick(cls) -> VideoSettings:
        """On scene: at most 20 frames spread over the video, 15 s per video."""
        return cls(max_frames=20, time_budget_s=15.0, spread=True)

    @classmethod
    def reference(cls) -> VideoSettings:
        """For building known-video hash sets: 4 frames/s, nothing collapsed but identical frames.

        Why denser than the 1 frame/s of found videos: a copy cut between two samples is sampled at other
        moments, and fast motion moves PDQ ~100 bits in 0.25 s (the corpus cockatoo). With the known side
        sampled every 0.25 s, every found sample lies within 0.125 s of a known one. The index-side
        fraction then falls by four, which vPDQ's default index threshold (0) ignores.
        """
        return cls(rate_fps=4.0, max_frames=144_000, time_budget_s=1800.0, collapse_bits=0)

    @classmethod
    def full(cls) -> VideoSettings:
        """In the lab: every sampled frame (1 frame/s) up to ten hours, 10 minutes per video."""
        return cls(max_frames=36_000, time_budget_s=600.0)


@by_position
@dataclass(frozen=True, slots=True)
class VideoMeta:
    """What the container says. Any field may be unknown (None) in damaged or unusual files."""

    container: str | None
    codec: str | None
    width: int | None
    height: int | None
    duration_s: float | None
    fps: float | None
    frame_count: int | None  # as declared by the container; not counted
    pixel_format: str | None
    rotation: int  # display-matrix rotation in degrees, recorded, not applied (as vPDQ)
    has_audio: bool  # recorded only: audio is never decoded


@by_position
@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One kept sample: first timestamp, PDQ of the frame as decoded, and how many samples it stands for.

    ``trimmed`` is the PDQ of the picture inside uniform borders when it has any (letterboxed copies).
    """

    timestamp_s: float
    pdq: bytes
    quality: int
    count: int = 1
    trimmed: bytes | None = None
    trimmed_quality: int | None = None
    low_quality_reason: str | None = None

    @property
    def hex(self) -> str:
        return self.pdq.hex()

    @property
    def usable(self) -> bool:
        """May support a match claim (quality ≥ 50, not degenerate)."""
        return self.low_quality_reason is None

    def variants(self) -> tuple[tuple[bool, bytes], ...]:
        """(trimmed?, hash) for every hash of this frame that may be queried: none when low quality."""
        if not self.usable:
            return ()
        found = [(False, self.pdq)]
        if self.trimmed is not None and (self.trimmed_quality or 0) >= MIN_QUALITY:
            found.append((True, self.trimmed))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class VideoHash:
    """The result of hashing one video: metadata, kept frames, why it stopped, and what went wrong."""

    meta: VideoMeta | None
    frames: tuple[VideoFrame, ...]
    stop: Stop
    message: str = ""
    sampled: int = 0  # sampled frames hashed (before collapsing)
    elapsed_s: float = 0.0
    warnings: tuple[str, ...] = ()
    sheet: bytes | None = field(default=None, repr=False)  # blurred greyscale JPEG frame sheet, if asked for

    @property
    def complete(self) -> bool:
        return self.stop is Stop.END

    @property
    def usable_frames(self) -> tuple[VideoFrame, ...]:
        return tuple(f for f in self.frames if f.usable)

    def perceptual_queries(self) -> list[tuple[float, tuple[tuple[bool, tuple[bytes, ...]], ...]]]:
        """(timestamp, query) per usable frame, in the shape ``PerceptualSets.lookup`` takes.

        Each query holds the whole-frame hash and, when present, the trimmed one (one orientation each:
        frames are hashed as decoded, as vPDQ does).
        """
        return [(f.timestamp_s, tuple((t, (h,)) for t, h in f.variants())) for f in self.frames if f.usable]


@dataclass(frozen=True, slots=True)
class Segment:
    """One fixed time segment of a video: frames with presentation times in [start_s, stop_s) belong to it.

    The first segment has no lower bound (frames a little before zero are the first segment's, as they always
    were) and the last no upper one (frames past the declared duration are the last segment's).
    """

    index: int  # 0 .. count - 1, in time order
    count: int
    start_s: float
    stop_s: float | None  # None: the last segment, to the end of the stream

    def label(self) -> str:
        """Its time range, as a warning names it."""
        stop = "the end" if self.stop_s is None else f"{self.stop_s:g} s"
        return f"{self.start_s:g} s to {stop}"


def segments(duration_s: float | None, segment_s: float) -> tuple[Segment, ...]:
    """A video of ``duration_s`` (declared; None: unknown) as segments of ``segment_s``: one when it is shorter
    than two segments or its duration is unknown; else whole segments, the last also taking the remainder (so
    none is shorter than ``segment_s``: a short tail is not worth an open and a seek)."""
    count = max(1, int(duration_s // segment_s)) if duration_s is not None and duration_s > 0 else 1
    return tuple(Segment(k, count, k * segment_s, (k + 1) * segment_s if k < count - 1 else None) for k in range(count))


def sampling_step(meta: VideoMeta, settings: VideoSettings) -> float:
    """Seconds between sampling instants: ``1 / rate``, widened by spread sampling to fit the frame cap."""
    step = 1.0 / settings.rate_fps
    if settings.spread and meta.duration_s is not None:
        step = max(step, meta.duration_s / settings.max_frames)
    return step


def first_instant(start_s: float, step: float) -> float:
    """A segment's first sampling instant: the first multiple of ``step`` at or after its start (rounding
    noise forgiven, as the sampler forgives it)."""
    return step * math.ceil(start_s / step - INSTANT_EPSILON) if start_s > 0 else 0.0


def sampled_segments(meta: VideoMeta, settings: VideoSettings) -> tuple[Segment, ...]:
    """The video's segments that hold a sampling instant: the others sample nothing, so no run opens them
    (spread sampling of a long video leaves most segments without one)."""
    step = sampling_step(meta, settings)
    return tuple(
        s
        for s in segments(meta.duration_s, settings.segment_s)
        if s.stop_s is None or first_instant(s.start_s, step) < s.stop_s
    )


@dataclass(frozen=True, slots=True)
class SegmentHash:
    """What one segment gives, before anything depending on other segments is done (``hasher.merge``).

    ``samples``: every sampled frame hashed, in time order, none collapsed (collapsing looks at the frame
    before, which may be another segment's). ``tiles``: the segment's blurred greyscale thumbnails for the
    frame sheet (``sheet.TILE`` size, mode L, raw bytes: plain data that pickles), at most ``sheet`` tiles.
    """

    segment: Segment
    meta: VideoMeta | None
    samples: tuple[VideoFrame, ...]
    stop: Stop
    message: str = ""
    decode_errors: int = 0  # packets that failed to decode in this segment
    reached_s: float = 0.0  # the latest frame time decoded
    rotation: int | None = None  # display rotation of its first sample; None without samples
    tiles: tuple[tuple[float, bytes], ...] = field(default=(), repr=False)
    elapsed_s: float = 0.0
