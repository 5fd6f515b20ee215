"""The review's frame sample: bounded, repeatable, and never an exception for bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from safenet.analysis.video.frames import (
    REVIEW_FRAMES,
    FramesUnavailable,
    frame_list,
    frame_pixels,
    frame_sheet,
    sampled_frames,
)
from tests.datafiles import DATA

VIDEO = DATA / "media" / "video"


def test_the_sample_is_capped_spread_and_repeatable() -> None:
    data = (VIDEO / "cockatoo.mp4").read_bytes()
    frames = frame_list(data)
    assert 2 <= len(frames) <= REVIEW_FRAMES and [f.index for f in frames] == list(range(len(frames)))
    assert frame_list(data) == frames
    few = [f for f, _ in sampled_frames(data, cap=4)]
    assert len(few) == 4 and few[-1].time_s > frames[len(frames) // 2].time_s  # spread over the whole video
    one, again = frame_pixels(data, 3), frame_pixels(data, 3)
    assert one is not None and again is not None and np.array_equal(one, again) and one.ndim == 3
    assert frame_pixels(data, len(frames)) is None


def test_an_animated_gif_is_sampled_densely() -> None:
    data = (VIDEO / "newtonscradle.gif").read_bytes()
    assert len(frame_list(data, rate_fps=4.0)) > len(frame_list(data, rate_fps=1.0)) >= 1


def test_the_sheet_is_blurred_grey_jpeg() -> None:
    sheet = frame_sheet((VIDEO / "realshort.mp4").read_bytes())
    assert sheet is not None
    image = Image.open(io.BytesIO(sheet))
    assert image.format == "JPEG" and image.mode == "L" and image.width == 768


def test_bad_input_gives_no_frames_not_an_exception() -> None:
    data = (VIDEO / "newtonscradle.gif").read_bytes()
    assert 0 < len(frame_list(data[: len(data) // 3], rate_fps=4.0)) < len(frame_list(data, rate_fps=4.0))
    mp4 = (VIDEO / "realshort.mp4").read_bytes()
    for bad in (b"not a video at all" * 50, mp4[: len(mp4) // 3]):  # the cut mp4 lost its index (moov at the end)
        with pytest.raises(FramesUnavailable):
            frame_list(bad)
