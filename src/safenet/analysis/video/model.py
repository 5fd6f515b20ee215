"""Plain data for video hashing: settings in, a picklable :class:`VideoHash` out.

Why plain frozen dataclasses of bytes, ints and floats: a video is hashed in a worker process (or on Dask)
and the result travels back and into the case store, so it must pickle and must not hold a decoder, a file
handle or any pixels. The only picture data a result may carry is the blurred, greyscale frame sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from safenet.analysis.pdq import DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD, MIN_QUALITY

#: Consecutive sampled frames within this many bits of the frame kept before them are collapsed into it.
#: Small on purpose (a still scene re-encoded differs by a few bits; a slow pan by more): collapsing only
#: saves storage and matching work, it must never merge two different shots.
COLLAPSE_BITS: Final = 4


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

    def __post_init__(self) -> None:
        if not self.rate_fps > 0:
            raise ValueError(f"rate_fps must be > 0, got {self.rate_fps}")
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be ≥ 1, got {self.max_frames}")
        if not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0, got {self.time_budget_s}")
        if not 0 <= self.collapse_bits <= DEFAULT_THRESHOLD:
            raise ValueError(f"collapse_bits must be 0..{DEFAULT_THRESHOLD}, got {self.collapse_bits}")

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
