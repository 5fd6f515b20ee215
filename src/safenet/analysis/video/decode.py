"""Open a video with PyAV, read its metadata and yield frames sampled by timestamp.

Why sample by timestamp and not by frame number: frame rates vary (variable-rate phone video, GIF delays,
re-encodes at another rate), and the same second of two encodings must give the same sample for the
two to match. A sample is the first frame shown at or after each target time ``k / rate``.

Why decode packet by packet: evidence is hostile. A truncated file or garbage after a valid header makes
libavcodec fail on some packets; each failure is counted and decoding goes on, so the frames before the
damage are kept. Too many failures end the stream with ``Stop.DECODE_ERROR``. Only the video stream is
decoded; audio packets are demuxed past and dropped, never decoded.

Why seek only for sparse samples: a seek lands on the keyframe before the target and decodes forward from
there. With 1 frame/s and typical keyframe gaps of 2–10 s, decoding forward is cheaper; when the next
target is more than ``seek_gap_s`` ahead (spread sampling of long videos, huge timestamp gaps) a seek is.

Why a sampler may cover only [begin_s, end_s): a video is examined as fixed time segments (``hasher``). A
segment after the first seeks to the keyframe at or before its start and decodes forward, skipping frames
before it (the previous segment's) and ending at the first frame at or past its end (the next one's). Its
sampling instants are the multiples of the step from the stream start that fall inside it: they depend only
on time, not on where decoding began. A sample is the first frame at or after an instant *within the
segment*: an instant with no frame before the segment's end gets none (a whole-stream sampler would have
taken the next segment's first frame for it), so what a segment samples depends on its own frames only.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import av
import av.container
import av.error
import av.video.stream

from safenet.analysis.video.model import INSTANT_EPSILON, Stop, VideoMeta, first_instant
from safenet.reasons import reason_of

VideoSource = bytes | str | Path | BinaryIO

#: Packets that may fail to decode before the stream is declared broken (a few bad packets are common
#: at the cut of a truncated file; thousands mean garbage).
MAX_DECODE_ERRORS: Final = 32
_EPSILON: Final = INSTANT_EPSILON


#: Slice threads decoding one stream (see ``Sampler``): a fixed number, not FFmpeg's choice from the machine's cores,
#: so that a damaged stream decodes alike on any machine; four decode a 1080p stream 1.45x as fast as one here.
DECODE_THREADS: Final = 4


class StreamStopped(Exception):
    """Raised inside the sampler to end decoding for a budget or a broken stream (never leaves the package)."""

    def __init__(self, stop: Stop, message: str) -> None:
        super().__init__(message)
        self.stop = stop
        self.message = message


def open_container(source: VideoSource) -> av.container.InputContainer:
    """Open for reading only; raises ``av.FFmpegError``/``OSError`` for what is not a readable container."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if isinstance(source, Path):
        source = str(source)
    return av.open(source, mode="r", metadata_errors="replace")


def read_meta(container: av.container.InputContainer, stream: av.video.stream.VideoStream | None) -> VideoMeta:
    """Metadata as declared; a missing or nonsensical value is None rather than a guess."""
    codec = width = height = fps = frames = pix_fmt = None
    duration = container.duration / av.time_base if container.duration else None
    if stream is not None:
        context = stream.codec_context
        codec = context.name
        width, height = (context.width or None), (context.height or None)
        pix_fmt = context.pix_fmt
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        frames = stream.frames or None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
    return VideoMeta(
        container=container.format.name,
        codec=codec,
        width=width,
        height=height,
        duration_s=duration if duration is not None and math.isfinite(duration) and duration > 0 else None,
        fps=fps if fps is not None and math.isfinite(fps) and fps > 0 else None,
        frame_count=frames,
        pixel_format=pix_fmt,
        rotation=0,
        has_audio=bool(container.streams.audio),
    )


@dataclass(slots=True)
class Sampler:
    """Yields (seconds from stream start, frame) at ``step_s`` intervals, within a monotonic deadline."""

    container: av.container.InputContainer
    stream: av.video.stream.VideoStream
    step_s: float
    seek_gap_s: float
    deadline: float
    begin_s: float = 0.0  # this segment's start (0: the first segment, which takes frames before 0 too)
    end_s: float = math.inf  # this segment's end: frames at or past it are the next segment's
    decode_errors: int = 0  # failed packets whose time falls in this segment (or that have none)
    seeks: int = 0
    reached_s: float = 0.0  # the latest frame time decoded, sampled or not (to tell truncation)
    origin_s: float = 0.0  # the stream's start time: offsets are counted from it

    def __iter__(self) -> Iterator[tuple[float, av.VideoFrame]]:
        stream = self.stream
        # the same slice threads, whoever decodes (hashing, the review's frames): a frame must be the same every time
        # and on every machine. Frame threads concealed a damaged stream's errors differently from run to run (a
        # garbled clip gave three different sets of frame hashes in six runs); slice threads conceal them alike for
        # a given number of threads, but differently for another (a damaged 8-slice clip: other hashes with one
        # thread than with two or more), and FFmpeg's own number follows the machine's cores
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = DECODE_THREADS
        base = stream.time_base
        start = float(stream.start_time * base) if stream.start_time is not None and base else 0.0
        self.origin_s = start
        begin, end = self.begin_s, self.end_s
        target, last, counter = 0.0, -math.inf, 0
        if begin > 0:  # the first sampling instant in the segment; decoding starts at the keyframe before it
            target = first_instant(begin, self.step_s)
            if target >= end:
                return  # no sampling instant in this segment (sparse sampling): nothing to decode
            self._seek(start + begin)  # unseekable: decode forward from the start, skipping earlier frames
        fallback_step = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / 25
        while True:
            seek_to: float | None = None
            for frame in self._frames():
                counter += 1
                when = frame.time
                offset = (when - start) if when is not None else counter * fallback_step
                self.reached_s = max(self.reached_s, offset)
                if offset >= end:
                    return  # the next segment's frames
                if (begin > 0 and offset < begin) or offset + _EPSILON < target or offset <= last:
                    continue
                yield offset, frame
                last = offset
                target += self.step_s * (math.floor((offset - target) / self.step_s + _EPSILON) + 1)
                if target >= end:
                    return  # no sampling instant left in this segment
                if target - offset > self.seek_gap_s and self._seek(start + target):
                    seek_to = target
                    break
            if seek_to is None:
                return

    def _seek(self, seconds: float) -> bool:
        base = self.stream.time_base
        if not base:
            return False
        try:
            self.container.seek(int(seconds / base), stream=self.stream, backward=True, any_frame=False)
            self.stream.codec_context.flush_buffers()
        except (av.FFmpegError, OSError, ValueError):
            return False  # unseekable input: decode forward instead
        self.seeks += 1
        return True

    def _ours(self, packet: av.Packet[av.video.stream.VideoStream]) -> bool:
        """Whether a packet's presentation time falls in this segment (each failed packet counts once, in the
        segment it belongs to, though neighbouring segments may decode it too)."""
        base = packet.time_base
        if packet.pts is None or not base or (self.begin_s <= 0 and self.end_s == math.inf):
            return True
        offset = float(packet.pts * base) - self.origin_s
        return (self.begin_s <= 0 or offset >= self.begin_s) and offset < self.end_s

    def _frames(self) -> Iterator[av.VideoFrame]:
        for packet in self.container.demux(self.stream):
            if time.monotonic() > self.deadline:
                raise StreamStopped(Stop.TIME_BUDGET, "time budget spent while decoding")
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                if not self._ours(packet):
                    continue  # another segment's packet, decoded for context: that segment counts it
                self.decode_errors += 1
                if self.decode_errors > MAX_DECODE_ERRORS:
                    raise StreamStopped(
                        Stop.DECODE_ERROR, f"{self.decode_errors} packets failed: {reason_of(exc)}"
                    ) from exc
                continue
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    yield frame
