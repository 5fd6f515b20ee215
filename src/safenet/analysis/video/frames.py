"""Frames of a video or animated GIF for review: a bounded, repeatable sample, decoded on demand.

Why a sample and not every frame: the review steps through a strip of frames, one at a time, and a ten-hour
video must not cost ten hours of decoding. At most ``cap`` frames are taken, spread over the declared
duration (as the quick profile does), within a time budget. Why repeatable: the frame list and a frame's
picture come from separate requests, so the same source, rate and cap must give the same frame at the
same index every time; the sampler picks frames by timestamp, which is deterministic.

Pixels leave this module only for the frame asked for (``frame_pixels``) or straight into a
:class:`SheetCollector`, which blurs them at once: no clear frame is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import av
import numpy as np

from safenet.analysis.pdq import DEFAULT_MAX_PIXELS
from safenet.analysis.pdq.core import U8Image
from safenet.analysis.video.decode import Sampler, StreamStopped, VideoSource, open_container, read_meta
from safenet.analysis.video.sheet import SheetCollector

#: Most frames sampled for review from one video (a frame strip that can be stepped through).
REVIEW_FRAMES: Final = 48
#: Most seconds spent decoding one video for review.
REVIEW_BUDGET_S: Final = 20.0
SEEK_GAP_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class SampledFrame:
    index: int  # position in the sample, from 0
    time_s: float  # seconds from the start of the stream


class FramesUnavailable(Exception):
    """The source has no decodable video frame (not a video, damaged, too large)."""


def sampled_frames(
    source: VideoSource,
    *,
    rate_fps: float = 1.0,
    cap: int = REVIEW_FRAMES,
    budget_s: float = REVIEW_BUDGET_S,
    pixels_for: Callable[[int], bool] = lambda _index: False,
) -> Iterator[tuple[SampledFrame, U8Image | None]]:
    """Yield each sampled frame, with its RGB pixels when ``pixels_for(index)`` asks for them.

    Raises :class:`FramesUnavailable` when the container cannot be opened or holds no video stream; a stream
    that breaks part-way simply ends the sample (the frames before the damage are kept).
    """
    started = time.monotonic()
    try:
        container = open_container(source)
    except Exception as exc:  # PyAV raises many types for hostile headers; all mean "cannot open"
        raise FramesUnavailable(f"cannot open as video ({type(exc).__name__})") from exc
    with container:
        streams = container.streams.video
        if not streams:
            raise FramesUnavailable("no video stream")
        stream = streams[0]
        meta = read_meta(container, stream)
        step = 1.0 / rate_fps
        if meta.duration_s is not None:
            step = max(step, meta.duration_s / cap)
        sampler = Sampler(container, stream, step, SEEK_GAP_S, started + budget_s)
        index = 0
        try:
            for offset, frame in sampler:
                if index >= cap or frame.width * frame.height > DEFAULT_MAX_PIXELS:
                    return
                pixels = None
                if pixels_for(index):
                    pixels = np.ascontiguousarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                yield SampledFrame(index, round(offset, 3)), pixels
                index += 1
        except (StreamStopped, av.FFmpegError, OSError, ValueError, MemoryError):
            return  # damaged or over budget: what was sampled stands


def frame_list(source: VideoSource, *, rate_fps: float = 1.0) -> list[SampledFrame]:
    """The review sample's frames (index and time), or an empty list when none could be decoded."""
    return [frame for frame, _ in sampled_frames(source, rate_fps=rate_fps)]


def frame_pixels(source: VideoSource, index: int, *, rate_fps: float = 1.0) -> U8Image | None:
    """The RGB pixels of sampled frame ``index``, or None when the sample has no such frame."""
    for frame, pixels in sampled_frames(source, rate_fps=rate_fps, pixels_for=lambda i: i == index):
        if frame.index == index:
            return pixels
    return None


def frame_sheet(source: VideoSource, *, rate_fps: float = 1.0) -> bytes | None:
    """A blurred greyscale frame sheet of the review sample (as triage makes), or None without frames."""
    collector = SheetCollector()
    for frame, pixels in sampled_frames(source, rate_fps=rate_fps, pixels_for=lambda _i: True):
        if pixels is not None:
            collector.offer(frame.time_s, pixels)  # blurred at once; the sample is capped, so this is bounded
    return collector.render()
