"""Hostile and unusual video input: a typed result with a reason, bounded work, never an exception."""

from __future__ import annotations

import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from safenet.analysis.video import Stop, VideoHash, VideoSettings, decode, hash_video
from tests.datafiles import DATA

VIDEO = DATA / "media" / "video"


def _encode(path: Path, frames: int, size: tuple[int, int], *, step: int = 1, gop: int = 60, **mux: str) -> Path:
    """H.264 of blocky noise, one frame every ``step`` seconds (time base 1 s): long videos cost little."""
    rng = np.random.default_rng(3)
    width, height = size
    with av.open(str(path), "w", options=mux) as out:
        encoder = out.add_stream("libx264", rate=Fraction(1, step), options={"preset": "ultrafast", "g": str(gop)})
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = Fraction(1, 1)
        for i in range(frames):
            blocks = rng.integers(0, 256, (max(1, height // 8), max(1, width // 8), 3))
            picture = np.kron(blocks, np.ones((8, 8, 1))).astype(np.uint8)[:height, :width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            frame.pts, frame.time_base = i * step, Fraction(1, 1)
            for packet in encoder.encode(frame):
                out.mux(packet)
        for packet in encoder.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def faststart(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """20 s, 320×240, index (moov) before the data: a truncated copy still opens."""
    path = tmp_path_factory.mktemp("video") / "faststart.mp4"
    return _encode(path, 20, (320, 240), step=1, gop=5, movflags="faststart").read_bytes()


@pytest.fixture(scope="module")
def four_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 h at 1 frame/s, 16×16: 14,400 frames, encoded in about a second."""
    return _encode(tmp_path_factory.mktemp("video") / "four_hours.mp4", 4 * 3600, (16, 16), gop=60)


def _no_frames(result: VideoHash, stop: Stop) -> None:
    assert result.stop is stop and not result.complete and result.frames == () and result.message


def test_intact_faststart_file_is_complete(faststart: bytes) -> None:
    result = hash_video(faststart)
    assert result.complete and result.sampled == 20 and result.warnings == ()


def test_truncated_file_keeps_the_frames_before_the_cut(faststart: bytes) -> None:
    result = hash_video(faststart[: len(faststart) // 2])
    assert result.stop is Stop.TRUNCATED and "declared 20.0 s" in result.message
    assert 5 <= result.sampled < 20 and result.frames[0].timestamp_s == 0.0


def test_truncated_file_with_index_at_the_end_is_undecodable() -> None:
    data = (VIDEO / "cockatoo.mp4").read_bytes()  # moov after mdat: the cut loses the index
    _no_frames(hash_video(data[: len(data) * 4 // 10]), Stop.UNDECODABLE)


def test_header_then_garbage_is_a_decode_error(faststart: bytes) -> None:
    data_at = faststart.index(b"mdat") + 4
    garbage = np.random.default_rng(0).integers(0, 256, len(faststart) - data_at, dtype=np.uint8).tobytes()
    result = hash_video(faststart[:data_at] + garbage)
    _no_frames(result, Stop.DECODE_ERROR)
    assert result.meta is not None and result.meta.codec == "h264"  # the header was read
    assert any("could not be decoded" in w for w in result.warnings)


_ONE_CPU = """
import os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # a machine of one core, before FFmpeg looks
from safenet.analysis.video import VideoSettings, hash_video
frames = hash_video(sys.stdin.buffer.read(), VideoSettings.full()).frames
print(" ".join(f.pdq.hex() for f in frames))
"""


def test_a_damaged_stream_hashes_alike_whatever_the_machine_s_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cockatoo clip has 8 slices a frame; with six bits flipped, how the damage is concealed depends on how many
    slice threads decode it, and FFmpeg's own number follows the machine's cores (one thread on one core). Safenet
    decodes with a fixed number (``decode.DECODE_THREADS``): a process held to one core hashes it as this one does."""
    data = bytearray((VIDEO / "cockatoo_yuv420.mp4").read_bytes())
    rng = random.Random(5)
    for _ in range(6):
        data[rng.randrange(len(data) // 10, len(data))] ^= 1 << rng.randrange(8)
    damaged, settings = bytes(data), VideoSettings.full()
    here = hash_video(damaged, settings).frames
    with monkeypatch.context() as patch:
        patch.setattr(decode, "DECODE_THREADS", 1)
        assert hash_video(damaged, settings).frames != here  # this damage decodes otherwise with one thread
    one_cpu = subprocess.run(
        [sys.executable, "-c", _ONE_CPU], input=damaged, capture_output=True, check=True, timeout=120
    ).stdout.decode()
    assert one_cpu.split() == [f.pdq.hex() for f in here]


@pytest.mark.parametrize("data", [b"", b"\x00" * 4096, b"not a video at all"])
def test_empty_and_non_video_bytes_are_undecodable(data: bytes) -> None:
    _no_frames(hash_video(data), Stop.UNDECODABLE)


def test_missing_file_is_undecodable(tmp_path: Path) -> None:
    _no_frames(hash_video(tmp_path / "absent.mp4"), Stop.UNDECODABLE)


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "libx264"), ("mkv", "mpeg4")])
def test_zero_length_stream_is_reported(tmp_path: Path, suffix: str, codec: str) -> None:
    path = tmp_path / f"zero.{suffix}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()  # header written, not one frame
    result = hash_video(path)
    assert result.stop in (Stop.NO_VIDEO, Stop.UNDECODABLE, Stop.DECODE_ERROR)
    assert result.frames == () and result.message


def test_animated_gif_is_hashed_as_a_video() -> None:
    result = hash_video(VIDEO / "newtonscradle.gif", VideoSettings(rate_fps=10.0))
    assert result.complete and result.meta is not None
    assert (result.meta.container, result.meta.codec, result.meta.width, result.meta.height) == ("gif", "gif", 200, 150)
    assert result.sampled == 9 and all(f.usable for f in result.frames)


@pytest.mark.timeout(60)  # a hang guard, not a speed claim: speed is measured in bench/
def test_four_hour_video_stops_at_the_frame_cap(four_hours: Path) -> None:
    result = hash_video(four_hours, VideoSettings(max_frames=50))
    assert result.stop is Stop.FRAME_CAP and result.sampled == 50 and "50" in result.message
    assert result.meta is not None and result.meta.duration_s == pytest.approx(4 * 3600)


def test_four_hour_video_stops_at_the_time_budget(four_hours: Path) -> None:
    result = hash_video(four_hours, VideoSettings(time_budget_s=0.3))
    assert result.stop is Stop.TIME_BUDGET and 0 < result.sampled < 4 * 3600
    assert result.elapsed_s < 2.0


def test_quick_profile_spreads_its_frames_over_the_whole_video(four_hours: Path) -> None:
    result = hash_video(four_hours, VideoSettings.quick())
    assert result.sampled == 20 and result.elapsed_s < 5
    times = [f.timestamp_s for f in result.frames]
    assert times[0] == 0.0 and times[-1] > 3.5 * 3600 and times == sorted(times)


def test_frames_over_the_pixel_limit_are_not_converted() -> None:
    result = hash_video(VIDEO / "realshort.mp4", VideoSettings(max_pixels=320 * 240 - 1))
    assert result.stop is Stop.TOO_LARGE and result.frames == () and "320×240" in result.message
