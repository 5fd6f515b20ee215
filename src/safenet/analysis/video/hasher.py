"""``hash_video``: vPDQ-style frame hashes of one video, within a time budget and a frame cap.

Why each frame goes through ``pdq.compute_pixels``: a frame then gets exactly the hash its still would
get as an image (reference 512×512 reduction, trimmed variant for letterboxed frames, quality rules), so
frames match image hash sets and stills match video hash sets with one threshold.

Why it never raises for bad input: one broken file must not stop a triage. Decoding runs inside
``analysis.guard.guarded`` (whatever PyAV or a converter raises), and every outcome is a
:class:`VideoHash` whose ``stop`` says whether it is complete, bounded on purpose (cap, budget) or damaged,
with the frames hashed so far. Hashing is bounded: the budget is checked on every packet and the cap on
every sample, so a ten-hour or endless stream costs at most ``time_budget_s``.

Why every video is examined as fixed time segments, merged in order: a long video is one task's worth of
decoding that a lab wants spread over many workers (issue 18), and a video split over workers must record
exactly what it records examined in one place. That cannot hold if the whole-video run is the reference: its
time budget is one clock, its undecodable-packet count one counter, and a seek into a damaged stream does not
decode what decoding forward does. So the algorithm itself is segmented, wherever it runs:

- the video's declared duration cuts it into segments of ``settings.segment_s`` (``model.segments``: one
  when shorter than two segments or of unknown duration, which is every video examined before);
- ``hash_segment`` examines one segment alone, from a fresh open of the source: the first decodes from the
  start, the others seek to the keyframe at or before their start (``decode.Sampler``); it samples at the
  instants inside the segment (multiples of the step from the stream start: the whole video's), with its own
  undecodable-packet counter, its own share of the time budget (``time_budget_s`` over the segments that hold a
  sampling instant) and the frame cap,
  and returns every sample hashed, none collapsed, and its own frame-sheet tiles;
- ``merge`` concatenates the segments' samples in time order, applies the frame cap over them, collapses
  near-identical consecutive frames, chooses the sheet's tiles and says why hashing stopped (the first
  segment, in time order, that stopped short; then truncation, judged on the last frame any segment reached).

``hash_video`` is ``merge`` over every segment holding a sampling instant (``model.sampled_segments``: spread
sampling leaves most of a long video's without one), hashed in turn; a parallel run hashes the same segments as
separate tasks (``engine.videosplit``) and merges them with the same function, so the two are equal by
construction. A one-segment video is hashed and merged exactly as before segments existed.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import av
import numpy as np

from safenet.analysis.guard import describe, guarded
from safenet.analysis.pdq import PdqMode, compute_pixels, hamming
from safenet.analysis.pdq.core import U8Image
from safenet.analysis.video.decode import Sampler, StreamStopped, VideoSource, open_container, read_meta
from safenet.analysis.video.model import (
    Segment,
    SegmentHash,
    Stop,
    VideoFrame,
    VideoHash,
    VideoMeta,
    VideoSettings,
    sampled_segments,
    sampling_step,
    segments,
)
from safenet.analysis.video.sheet import SheetCollector, render_tiles

#: A stream that ends this much (or two frame intervals, if longer) before its declared duration is
#: reported as truncated: containers round durations, and the last frame starts one interval before the end.
_LATE_END_S: Final = 2.0


def hash_video(source: VideoSource, settings: VideoSettings | None = None, *, sheet: bool = False) -> VideoHash:
    """Hash a video from a path, bytes or a binary stream; ``sheet`` also builds the blurred frame sheet."""
    settings = settings or VideoSettings()
    first = hash_segment(source, settings, 0, sheet=sheet)
    later = sampled_segments(first.meta, settings)[1:] if first.meta is not None and first.segment.count > 1 else ()
    rest = [hash_segment(source, settings, segment.index, sheet=sheet) for segment in later]
    return merge([first, *rest], settings, sheet=sheet)


def hash_segment(source: VideoSource, settings: VideoSettings, index: int, *, sheet: bool = False) -> SegmentHash:
    """Segment ``index`` of the video (its segments planned from its declared duration), examined alone.

    A stream ``source`` is read from its start (each segment reads it again). Never raises for bad input."""
    started = time.monotonic()
    unplanned = Segment(index, index + 1, 0.0, None)  # the plan is unknown until the container opens

    def undecodable(exc: BaseException) -> SegmentHash:  # cannot open, or a failure while probing or closing
        return SegmentHash(unplanned, None, (), Stop.UNDECODABLE, describe(exc), elapsed_s=time.monotonic() - started)

    def decode() -> SegmentHash:
        with open_container(_rewound(source)) as container:
            return _hash_open(container, settings, index, started, SheetCollector() if sheet else None)

    return guarded(decode, undecodable)


def probe(source: VideoSource, settings: VideoSettings) -> tuple[VideoMeta | None, int]:
    """The video's declared metadata and how many segments it is examined as (1 when it cannot be opened)."""

    def read() -> tuple[VideoMeta | None, int]:
        with open_container(_rewound(source)) as container:
            streams = container.streams.video
            meta = read_meta(container, streams[0] if streams else None)
            return meta, len(segments(meta.duration_s, settings.segment_s)) if streams else 1

    return guarded(read, lambda _exc: (None, 1))


def _rewound(source: VideoSource) -> VideoSource:
    """A stream from its start: each segment (and a probe) reads it again."""
    if not isinstance(source, bytes | str | Path):
        source.seek(0)
    return source


def _hash_open(
    container: av.container.InputContainer,
    settings: VideoSettings,
    index: int,
    started: float,
    sheet: SheetCollector | None,
) -> SegmentHash:
    streams = container.streams.video
    stream = streams[0] if streams else None
    meta = read_meta(container, stream)
    plan = segments(meta.duration_s if stream is not None else None, settings.segment_s)
    if index >= len(plan):  # the coordinator and a worker read different bytes
        message = f"the stream declares {len(plan)} segments, not {index + 1}"
        return SegmentHash(Segment(index, len(plan), 0.0, None), meta, (), Stop.DECODE_ERROR, message)
    segment = plan[index]
    if stream is None:
        return SegmentHash(segment, meta, (), Stop.NO_VIDEO, "no video stream", elapsed_s=time.monotonic() - started)
    step = sampling_step(meta, settings)
    # the budget is shared by the segments that are decoded, not by every segment: spread sampling of a long video
    # opens few of them (a share per segment of the plan left each a sliver, spent before its first sample)
    budget = settings.time_budget_s / max(1, len(sampled_segments(meta, settings)))
    end = segment.stop_s if segment.stop_s is not None else math.inf
    sampler = Sampler(container, stream, step, settings.seek_gap_s, started + budget, segment.start_s, end)
    run = _Run(settings, sheet)
    # a demuxer or converter failing mid-file keeps the frames hashed so far
    stop, message = guarded(
        lambda: _sample(sampler, run, started, budget), lambda exc: (Stop.DECODE_ERROR, describe(exc))
    )
    return SegmentHash(
        segment=segment,
        meta=meta,
        samples=tuple(run.samples),
        stop=stop,
        message=message,
        decode_errors=sampler.decode_errors,
        reached_s=sampler.reached_s,
        rotation=run.rotation,
        tiles=sheet.chosen_bytes() if sheet is not None else (),
        elapsed_s=time.monotonic() - started,
    )


def merge(parts: Sequence[SegmentHash], settings: VideoSettings, *, sheet: bool = False) -> VideoHash:
    """One video's result from its segments' (``model.sampled_segments``, in time order): see the module
    docstring."""
    first = parts[0]
    elapsed = sum(part.elapsed_s for part in parts)
    meta = next((part.meta for part in parts if part.meta is not None), None)  # one segment not opened is one lost
    if meta is None or first.stop is Stop.NO_VIDEO:
        return VideoHash(meta, (), first.stop, first.message, elapsed_s=elapsed)
    plan = segments(meta.duration_s, settings.segment_s)
    samples: list[VideoFrame] = []
    stop, message = Stop.END, ""
    taken: list[SegmentHash] = []
    for part in parts:
        taken.append(part)
        room = settings.max_frames - len(samples)
        if len(part.samples) > room:  # the cap, over the whole video: later samples are not kept
            samples.extend(part.samples[:room])
            if stop is Stop.END:
                stop, message = Stop.FRAME_CAP, f"frame cap of {settings.max_frames} sampled frames reached"
            break
        samples.extend(part.samples)
        if part.stop is not Stop.END and stop is Stop.END:
            stop, message = part.stop, part.message
            if len(parts) > 1:
                label = plan[part.segment.index].label() if part.segment.index < len(plan) else "?"
                message = f"in {label}: {part.message}"
    reached = max(part.reached_s for part in taken)
    if stop is Stop.END and not samples:
        stop, message = Stop.DECODE_ERROR, "no frame could be decoded"
    elif stop is Stop.END and meta.duration_s is not None and reached < meta.duration_s - _late_end(meta):
        stop = Stop.TRUNCATED
        message = f"stream ended at {reached:.1f} s of a declared {meta.duration_s:.1f} s"
    rotation = next((part.rotation for part in taken if part.rotation is not None), 0)
    warnings: list[str] = []
    if rotation % 360:
        warnings.append(f"display rotation {rotation}° recorded, frames hashed as stored (as vPDQ)")
    errors = sum(part.decode_errors for part in taken)
    if errors:
        warnings.append(f"{errors} packets could not be decoded")
    return VideoHash(
        meta=dataclasses.replace(meta, rotation=rotation),
        frames=collapse(samples, settings.collapse_bits),
        stop=stop,
        message=message,
        sampled=len(samples),
        elapsed_s=elapsed,
        warnings=tuple(warnings),
        sheet=render_tiles([tile for part in taken for tile in part.tiles]) if sheet else None,
    )


def collapse(samples: Sequence[VideoFrame], bits: int) -> tuple[VideoFrame, ...]:
    """Consecutive samples within ``bits`` of the frame kept before them collapsed into it (its count grows)."""
    frames: list[VideoFrame] = []
    for found in samples:
        previous = frames[-1] if frames else None
        if previous is not None and hamming(previous.pdq, found.pdq) <= bits:
            frames[-1] = dataclasses.replace(previous, count=previous.count + 1)
        else:
            frames.append(found)
    return tuple(frames)


@dataclasses.dataclass(slots=True)
class _Run:
    """Hashes a segment's samples (each as its still would be hashed), offering them to the frame sheet."""

    settings: VideoSettings
    sheet: SheetCollector | None
    samples: list[VideoFrame] = dataclasses.field(default_factory=list)
    rotation: int | None = None

    def add(self, offset: float, frame: av.VideoFrame) -> None:
        if self.rotation is None:
            self.rotation = _rotation(frame)
        pixels: U8Image = np.ascontiguousarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        if self.sheet is not None:
            self.sheet.offer(offset, pixels)  # blurred at once when kept; the clear frame is never stored
        result = compute_pixels(pixels, PdqMode.EXACT, trim=self.settings.trim)
        trimmed = result.trimmed
        self.samples.append(
            VideoFrame(
                timestamp_s=round(offset, 3),
                pdq=result.full.hash,
                quality=result.full.quality,
                trimmed=trimmed.hash if trimmed is not None else None,
                trimmed_quality=trimmed.quality if trimmed is not None else None,
                low_quality_reason=result.low_quality_reason,
            )
        )


def _rotation(frame: av.VideoFrame) -> int:
    try:
        rotation = frame.rotation
    except Exception:  # malformed display matrix: record nothing rather than fail
        rotation = 0
    return int(rotation or 0)


def _sample(sampler: Sampler, run: _Run, started: float, budget_s: float) -> tuple[Stop, str]:
    """Hash samples until the segment ends or a bound stops it; why it stopped."""
    settings = run.settings
    try:
        for offset, frame in sampler:
            if frame.width * frame.height > settings.max_pixels:  # a hostile header must not allocate gigabytes
                return Stop.TOO_LARGE, f"{frame.width}×{frame.height} frame exceeds {settings.max_pixels} pixels"
            if len(run.samples) >= settings.max_frames:  # checked on the next sample: exactly the cap is complete
                return Stop.FRAME_CAP, f"frame cap of {settings.max_frames} sampled frames reached"
            run.add(offset, frame)
            if time.monotonic() - started > budget_s:
                whole = settings.time_budget_s
                share = "" if budget_s >= whole else f"this segment's share ({budget_s:.3g} s) of "
                return Stop.TIME_BUDGET, f"{share}the time budget of {whole:g} s spent"
    except StreamStopped as stopped:
        return stopped.stop, stopped.message
    return Stop.END, ""


def _late_end(meta: VideoMeta) -> float:
    return max(_LATE_END_S, 2.0 / meta.fps) if meta.fps else _LATE_END_S
