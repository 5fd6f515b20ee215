"""A video examined as fixed time segments (``analysis.video.hasher``): segments hashed apart, in other
processes and in any order, merge into exactly what ``hash_video`` gives, clean or damaged; on a clean stream
the segments sample the frames a whole-stream sampler samples.

The clip is generated here with PyAV: benign synthetic frames (moving gradients, a moving disc, a sweeping
bar), 12 s at 10 frames/s, keyframes every 3.5 s (0, 3.5, 7, 10.5: no segment boundary of 2 s falls on one, so
every later segment seeks to a keyframe before its start and decodes forward), B-frames on, and a still stretch
from 3 s to 5 s whose samples collapse across the boundary at 4 s. It is lossless (``qp`` 0) and made by one
encoder thread: the still's frames decode identical. A lossy encode (crf 8) left them 2 or 4 bits apart here,
depending on x264's thread count, and more than 4 (the collapse threshold) on the CI machine.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from safenet.analysis.video.hasher import hash_segment, hash_video, merge, probe
from safenet.analysis.video.model import Segment, Stop, VideoHash, VideoSettings, sampled_segments, segments

SECONDS, FPS, GOP = 12, 10, 35
SEGMENTS = VideoSettings(segment_s=2.0)  # six segments: [0, 2), [2, 4), ... [10, end)
WHOLE = VideoSettings(segment_s=1000.0)  # one segment: the whole stream, as before segments existed


def make_clip(path: Path, seconds: int = SECONDS, size: tuple[int, int] = (160, 120), faststart: bool = False) -> Path:
    """A benign synthetic clip (see the module docstring); ``faststart``: its index before its packets, so that a
    truncated copy still opens."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    options = {"g": str(GOP), "sc_threshold": "0", "bf": "2", "preset": "veryfast", "qp": "0", "threads": "1"}
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * FPS):
            t = 3.0 if 3.0 <= i / FPS < 5.0 else i / FPS
            frame = np.zeros((height, width, 3), np.uint8)
            frame[..., 0] = (x * 255 // width + int(t * 40)) % 256
            frame[..., 1] = (y * 255 // height + int(t * 25)) % 256
            frame[..., 2] = ((x + y + int(t * 60)) % 97) * 2
            cx, cy = int(width * (0.5 + 0.35 * np.sin(t * 1.3))), int(height * (0.5 + 0.3 * np.cos(t * 0.9)))
            frame[(x - cx) ** 2 + (y - cy) ** 2 < (height // 5) ** 2] = 250
            bar = int(t * 7) % height
            frame[bar : bar + 10] = 0
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def garble(data: bytes) -> bytes:
    """``data`` with 8 000 bytes at 30 % and at 60 % of it replaced by noise (a fixed seed): packets in several
    segments fail to decode and frames are lost."""
    damaged = bytearray(data)
    noise = np.random.default_rng(1)
    for at in (len(data) * 3 // 10, len(data) * 6 // 10):
        damaged[at : at + 8000] = noise.integers(0, 256, 8000, dtype=np.uint8).tobytes()
    return bytes(damaged)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("segments") / "long.mp4")


@pytest.fixture(scope="module")
def damaged(clip: Path) -> Path:
    path = clip.with_name("damaged.mp4")
    path.write_bytes(garble(clip.read_bytes()))
    return path


def _timeless(result: VideoHash) -> VideoHash:
    return dataclasses.replace(result, elapsed_s=0.0)


def test_segments_are_whole_and_the_last_takes_the_remainder() -> None:
    assert segments(None, 2.0) == (Segment(0, 1, 0.0, None),)  # unknown duration: the whole stream
    assert segments(3.9, 2.0) == (Segment(0, 1, 0.0, None),)  # shorter than two segments
    assert segments(5.0, 2.0) == (Segment(0, 2, 0.0, 2.0), Segment(1, 2, 2.0, None))
    assert [s.start_s for s in segments(12.0, 2.0)] == [0, 2, 4, 6, 8, 10]
    assert Segment(2, 6, 4.0, 6.0).label() == "4 s to 6 s" and Segment(5, 6, 10.0, None).label() == "10 s to the end"


def test_no_segment_boundary_falls_on_a_keyframe(clip: Path) -> None:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        keyframes = [float(p.pts * p.time_base) for p in container.demux(stream) if p.is_keyframe and p.pts is not None]
    assert keyframes == [0.0, 3.5, 7.0, 10.5]
    assert probe(clip, SEGMENTS)[1] == 6 and probe(clip, WHOLE)[1] == 1


def test_a_clean_stream_in_segments_samples_what_the_whole_stream_samples(clip: Path) -> None:
    """Sampling instants depend on time only, and decoding from the keyframe before a segment gives the frames
    decoding from the start gives: the same frames, hashes and collapse (3 s and 4 s are one still)."""
    split, whole = hash_video(clip, SEGMENTS), hash_video(clip, WHOLE)
    assert split.stop is Stop.END and split.sampled == whole.sampled == SECONDS
    assert split.frames == whole.frames
    assert [(f.timestamp_s, f.count) for f in split.frames][3:5] == [(3.0, 2), (5.0, 1)]  # collapsed across 4 s


@pytest.mark.parametrize(
    ("settings", "times"),
    [
        (dataclasses.replace(SEGMENTS, max_frames=5), [0.0, 1.0, 2.0, 3.0]),  # the cap counts over segments
        (dataclasses.replace(SEGMENTS, max_frames=4, spread=True), [0.0, 3.0, 6.0, 9.0]),  # every 3 s
    ],
)
def test_the_frame_cap_and_spread_sampling_hold_over_the_segments(
    clip: Path, settings: VideoSettings, times: list[float]
) -> None:
    split = hash_video(clip, settings)
    assert [f.timestamp_s for f in split.frames] == times
    meta = split.meta
    assert meta is not None  # spread sampling every 3 s leaves [4 s, 6 s) without an instant: never opened
    assert [s.index for s in sampled_segments(meta, settings)] == ([0, 1, 3, 4, 5] if settings.spread else [*range(6)])
    assert split.frames == hash_video(clip, dataclasses.replace(settings, segment_s=WHOLE.segment_s)).frames
    assert split.stop is (Stop.FRAME_CAP if not settings.spread else Stop.END)


def test_a_damaged_stream_hashes_the_same_every_time(damaged: Path) -> None:
    """The decoder conceals a garbled stream's errors the same way every run: with frame threads it did not (three
    different sets of frame hashes in six runs of this clip on two cores)."""
    data = damaged.read_bytes()
    runs = {_timeless(hash_video(data, SEGMENTS, sheet=True)) for _ in range(8)}
    assert len(runs) == 1


@pytest.mark.timeout(300)
@pytest.mark.parametrize("which", ["clip", "damaged"])
def test_segments_hashed_apart_in_any_order_merge_into_hash_video(which: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(which)
    inline = hash_video(path.read_bytes(), SEGMENTS, sheet=True)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = {k: pool.submit(hash_segment, str(path), SEGMENTS, k, sheet=True) for k in reversed(range(6))}
        parts = [futures[k].result() for k in range(6)]
    assert [p.segment.index for p in parts] == list(range(6))
    assert _timeless(merge(parts, SEGMENTS, sheet=True)) == _timeless(inline)
    with path.open("rb") as stream:  # a stream source is read again by each segment
        assert _timeless(hash_video(stream, SEGMENTS, sheet=True)) == _timeless(inline)
    assert inline.sheet is not None
    if which == "damaged":  # the damage shows: packets fail and frames are lost
        assert any("packets could not be decoded" in w for w in inline.warnings)
        assert inline.sampled < SECONDS


def test_each_segment_counts_its_own_undecodable_packets(damaged: Path) -> None:
    parts = [hash_segment(damaged, SEGMENTS, k) for k in range(6)]
    merged = merge(parts, SEGMENTS)
    total = sum(p.decode_errors for p in parts)
    assert total and merged.warnings == (f"{total} packets could not be decoded",)
    assert sum(1 for p in parts if p.decode_errors) >= 2 and not parts[0].decode_errors


def test_a_segment_the_stream_does_not_have_is_a_decode_error(clip: Path) -> None:
    part = hash_segment(clip, SEGMENTS, 9)
    assert part.stop is Stop.DECODE_ERROR and "declares 6 segments, not 10" in part.message


def test_one_lost_segment_keeps_the_others_frames(clip: Path) -> None:
    parts = [hash_segment(clip, SEGMENTS, k) for k in range(6)]
    parts[2] = dataclasses.replace(parts[2], samples=(), stop=Stop.DECODE_ERROR, message="lost")
    merged = merge(parts, SEGMENTS)
    assert [f.timestamp_s for f in merged.frames] == [0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    assert merged.stop is Stop.DECODE_ERROR and merged.message == "in 4 s to 6 s: lost"


def test_the_time_budget_is_shared_by_the_segments_decoded_not_by_every_segment(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spread sampling of 2 frames (every 6 s) over the 12 s clip in 1 s segments decodes 3 of its 12 segments,
    [0, 1), [6, 7) and the last, which runs to the stream's end: each gets a third of the budget, not a twelfth
    (on a long film, a share per planned segment was spent before its first sample)."""
    from safenet.analysis.video import hasher

    settings = VideoSettings(segment_s=1.0, spread=True, max_frames=2, time_budget_s=6.0)
    budgets: list[float] = []
    sample = hasher._sample

    def recorded(sampler: object, run: object, started: float, budget_s: float) -> object:
        budgets.append(budget_s)
        return sample(sampler, run, started, budget_s)  # type: ignore[arg-type]

    monkeypatch.setattr(hasher, "_sample", recorded)
    result = hash_video(clip, settings)
    assert len(segments(float(SECONDS), settings.segment_s)) == 12
    assert budgets == [2.0, 2.0, 2.0]
    assert result.stop is Stop.FRAME_CAP or result.stop is Stop.END
