"""Cross-check against Meta's PyPI ``vpdq`` (the bench extra; no wheel, ``make bench`` builds it from source).

Skipped only when vpdq is not importable. Same frame, two hashers: vpdq hashes every frame at full
resolution with its own libav decoding; Safenet hashes the frames it samples after the reference 512×512
reduction. Frames are paired by decode order (PyAV's frame index of each Safenet sample = vpdq's
``frame_number``), so timestamps rounding differently cannot pair the wrong frames.

Measured (vpdq 0.2.5, FFmpeg 5.1): frames no larger than 512 px hash bit for bit alike (realshort 320×240,
perception's v1 320×180); cockatoo 1280×720 differs by 0–6 bits per frame (the 512 reduction); 1080p by
about 16 bits (``bench/bench_video.py``). Both well inside the 31-bit match threshold.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import av
import pytest

from safenet.analysis.pdq import hamming
from safenet.analysis.video import VideoFrame, VideoSettings, hash_video
from safenet.hashsets.videomatch import match_videos
from tests.analysis.test_video import COCKATOO, COCKATOO_420, REALSHORT

vpdq: Any = pytest.importorskip("vpdq", reason="vpdq is not installed: `make bench` builds it (bench extra)")


def paired_distances(path: Path) -> list[int]:
    """Hamming distance between Safenet's and vpdq's hash of each frame Safenet sampled (1 frame/s)."""
    with av.open(str(path)) as container:
        times = [frame.time for frame in container.decode(container.streams.video[0])]
    index = {round(t - times[0], 3): number for number, t in enumerate(times) if t is not None}
    ours = hash_video(path, VideoSettings(collapse_bits=0, trim=False))
    theirs = {f.frame_number: bytes.fromhex(f.hex) for f in vpdq.computeHash(str(path), seconds_per_hash=0)}
    assert ours.complete and len(theirs) == len(times)
    return [hamming(frame.pdq, theirs[index[frame.timestamp_s]]) for frame in ours.frames]


def vpdq_frames(path: Path | str) -> list[VideoFrame]:
    return [VideoFrame(f.timestamp, bytes.fromhex(f.hex), f.quality) for f in vpdq.computeHash(str(path))]


def test_frames_up_to_512_px_hash_bit_for_bit_like_vpdq() -> None:
    distances = paired_distances(REALSHORT)
    assert distances and set(distances) == {0}


def test_720p_frames_agree_with_vpdq_within_a_few_bits() -> None:
    for clip in (COCKATOO, COCKATOO_420):
        distances = paired_distances(clip)
        assert len(distances) == 14 and statistics.mean(distances) <= 6 and max(distances) <= 12, distances


def test_vpdq_hashes_of_a_known_video_match_safenet_hashes_of_its_copy() -> None:
    known = vpdq_frames(COCKATOO)
    assert match_videos(hash_video(COCKATOO_420), known).is_match
    assert not match_videos(hash_video(REALSHORT), known).is_match


def test_the_middle_cut_with_vpdq_sampling(tmp_path: Path) -> None:
    """vpdq samples every 23rd frame of perception's v2s, not the first frame of each second as Safenet does;
    its four samples all land near a v2 sample, so by the same rule v2s → v2 is 4 of 4 (Safenet's: 3 of 4)."""
    from tests.analysis.test_video_perception import media

    data = media("videos", (".m4v", ".mov"))
    for name in ("v2.m4v", "v2s.mov"):
        (tmp_path / name).write_bytes(data[name])
    v2, v2s = vpdq_frames(tmp_path / "v2.m4v"), vpdq_frames(tmp_path / "v2s.mov")
    assert (distances := paired_distances(tmp_path / "v2.m4v")) and set(distances) == {0}  # 320×180
    cut, whole = match_videos(v2s, v2), match_videos(v2, v2s)
    assert (cut.is_match, cut.query_fraction) == (True, 1.0)
    assert (whole.is_match, whole.query_frames, len(whole.frames)) == (False, 7, 4)
