"""``hash_video``: vPDQ-style frame hashes of one video, within a time budget and a frame cap.

Why each frame goes through ``pdq.compute_pixels``: a frame then gets exactly the hash its still would
get as an image (reference 512×512 reduction, trimmed variant for letterboxed frames, quality rules), so
frames match image hash sets and stills match video hash sets with one threshold.

Why it never raises for bad input: one broken file must not stop a triage. Decoding runs inside
``analysis.guard.guarded`` (whatever PyAV or a converter raises), and every outcome is a
:class:`VideoHash` whose ``stop`` says whether it is complete, bounded on purpose (cap, budget) or damaged,
with the frames hashed so far. Hashing is bounded: the budget is checked on every packet and the cap on
every sample, so a ten-hour or endless stream costs at most ``time_budget_s``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Final

import av
import numpy as np

from safenet.analysis.guard import describe, guarded
from safenet.analysis.pdq import PdqMode, compute_pixels, hamming
from safenet.analysis.pdq.core import U8Image
from safenet.analysis.video.decode import Sampler, StreamStopped, VideoSource, open_container, read_meta
from safenet.analysis.video.model import Stop, VideoFrame, VideoHash, VideoMeta, VideoSettings
from safenet.analysis.video.sheet import SheetCollector

#: A stream that ends this much (or two frame intervals, if longer) before its declared duration is
#: reported as truncated: containers round durations, and the last frame starts one interval before the end.
_LATE_END_S: Final = 2.0


def hash_video(source: VideoSource, settings: VideoSettings | None = None, *, sheet: bool = False) -> VideoHash:
    """Hash a video from a path, bytes or a binary stream; ``sheet`` also builds the blurred frame sheet."""
    settings = settings or VideoSettings()
    started = time.monotonic()

    def undecodable(exc: BaseException) -> VideoHash:  # cannot open, or a failure while probing or closing
        return VideoHash(None, (), Stop.UNDECODABLE, describe(exc), elapsed_s=time.monotonic() - started)

    def decode() -> VideoHash:
        with open_container(source) as container:
            return _hash_open(container, settings, started, SheetCollector() if sheet else None)

    return guarded(decode, undecodable)


def _hash_open(
    container: av.container.InputContainer, settings: VideoSettings, started: float, sheet: SheetCollector | None
) -> VideoHash:
    streams = container.streams.video
    stream = streams[0] if streams else None
    meta = read_meta(container, stream)
    if stream is None:
        return VideoHash(meta, (), Stop.NO_VIDEO, "no video stream", elapsed_s=time.monotonic() - started)
    stream.thread_type = "AUTO"
    step = 1.0 / settings.rate_fps
    if settings.spread and meta.duration_s is not None:
        step = max(step, meta.duration_s / settings.max_frames)
    sampler = Sampler(container, stream, step, settings.seek_gap_s, started + settings.time_budget_s)
    run = _Run(settings, sheet)
    # a demuxer or converter failing mid-file keeps the frames hashed so far
    stop, message = guarded(lambda: _sample(sampler, run, started), lambda exc: (Stop.DECODE_ERROR, describe(exc)))
    if stop is Stop.END and run.sampled == 0:
        stop, message = Stop.DECODE_ERROR, "no frame could be decoded"
    elif stop is Stop.END and meta.duration_s is not None and sampler.reached_s < meta.duration_s - _late_end(meta):
        stop = Stop.TRUNCATED
        message = f"stream ended at {sampler.reached_s:.1f} s of a declared {meta.duration_s:.1f} s"
    warnings = run.warnings
    if sampler.decode_errors:
        warnings.append(f"{sampler.decode_errors} packets could not be decoded")
    return VideoHash(
        meta=dataclasses.replace(meta, rotation=run.rotation),
        frames=tuple(run.frames),
        stop=stop,
        message=message,
        sampled=run.sampled,
        elapsed_s=time.monotonic() - started,
        warnings=tuple(warnings),
        sheet=sheet.render() if sheet is not None else None,
    )


@dataclasses.dataclass(slots=True)
class _Run:
    """Hashes samples and collapses consecutive near-identical ones into the first of the run."""

    settings: VideoSettings
    sheet: SheetCollector | None
    frames: list[VideoFrame] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    sampled: int = 0
    rotation: int = 0

    def add(self, offset: float, frame: av.VideoFrame) -> None:
        if self.sampled == 0:
            self._first(frame)
        self.sampled += 1
        pixels: U8Image = np.ascontiguousarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        if self.sheet is not None:
            self.sheet.offer(offset, pixels)  # blurred at once when kept; the clear frame is never stored
        result = compute_pixels(pixels, PdqMode.EXACT, trim=self.settings.trim)
        trimmed = result.trimmed
        found = VideoFrame(
            timestamp_s=round(offset, 3),
            pdq=result.full.hash,
            quality=result.full.quality,
            trimmed=trimmed.hash if trimmed is not None else None,
            trimmed_quality=trimmed.quality if trimmed is not None else None,
            low_quality_reason=result.low_quality_reason,
        )
        previous = self.frames[-1] if self.frames else None
        if previous is not None and hamming(previous.pdq, found.pdq) <= self.settings.collapse_bits:
            self.frames[-1] = dataclasses.replace(previous, count=previous.count + 1)
        else:
            self.frames.append(found)

    def _first(self, frame: av.VideoFrame) -> None:
        try:
            rotation = frame.rotation
        except Exception:  # malformed display matrix: record nothing rather than fail
            rotation = 0
        self.rotation = int(rotation or 0)
        if self.rotation % 360:
            self.warnings.append(f"display rotation {self.rotation}° recorded, frames hashed as stored (as vPDQ)")


def _sample(sampler: Sampler, run: _Run, started: float) -> tuple[Stop, str]:
    """Hash samples until the stream ends or a bound stops it; why it stopped."""
    settings = run.settings
    try:
        for offset, frame in sampler:
            if frame.width * frame.height > settings.max_pixels:  # a hostile header must not allocate gigabytes
                return Stop.TOO_LARGE, f"{frame.width}×{frame.height} frame exceeds {settings.max_pixels} pixels"
            if run.sampled >= settings.max_frames:  # checked on the next sample: a video of exactly the cap is complete
                return Stop.FRAME_CAP, f"frame cap of {settings.max_frames} sampled frames reached"
            run.add(offset, frame)
            if time.monotonic() - started > settings.time_budget_s:
                return Stop.TIME_BUDGET, f"time budget of {settings.time_budget_s:g} s spent"
    except StreamStopped as stopped:
        return stopped.stop, stopped.message
    return Stop.END, ""


def _late_end(meta: VideoMeta) -> float:
    return max(_LATE_END_S, 2.0 / meta.fps) if meta.fps else _LATE_END_S
