"""Issue 6 acceptance on the benign test videos shipped in the PyPI ``perception`` wheel.

``perception`` cannot be installed beside Safenet (its only release pins rich<14; the project pins rich 15),
so it is never imported: ``make test`` downloads its wheel without dependencies into ``.cache/pypi/``
(``make test-data``) and this test reads the media out of the wheel as a zip.

What the videos are (the wheel's ``testing/videos/README.md`` and PyAV): ``v1.m4v`` (5 s, slow moving) and
``v2.m4v`` (6.2 s, fast paced) are two clips of one CC-BY film, 320×180; ``v2s.mov`` is v2 with about 3 s cut
out of the middle (v2 1.34 s → 4.50 s); ``extra_channel_attached_pic.mp4`` and ``..._audio.mp4`` are one
640×360 clip, the second with an audio track; ``rgb.m4v`` is 6 s of flat colour (PDQ quality 0: no frame
may support a match). Ten photos from Wikimedia Commons come with them.

What the vPDQ rule gives for the cut (measured, asserted below): v2s's four 1 s samples fall at 0, 1, 2.008
and 3.009 s; the first three lie within 12 bits of v2's reference frames (0, 1 and 5.005 s: the jump shows the
cut), the last lies one frame (0.04 s) from v2's nearest 4 frames/s reference sample and 38 bits away in a
fast pan. So v2s → v2 is 3 of 4 frames (75 %), under vPDQ's default 80 %; v2 → v2s is 3 of 7 (the frames of
the removed 3 s have no counterpart). At a query threshold of 75 % v2s matches v2 and still no other pair
matches (every other pair shares no frame). vpdq's own hashing of the same files samples at other moments
and happens to find all 4 (``test_video_vpdq.py`` compares the two hashers frame by frame).
"""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path
from typing import Final

import pytest

from safenet.analysis.pdq import PdqMode, Skipped, compute
from safenet.analysis.video import VideoHash, VideoSettings, hash_video
from safenet.hashsets.index import BruteForceIndex, as_hash_array
from safenet.hashsets.videomatch import MatchSettings, match_frames, match_videos

VERSION: Final = "0.9.3"  # keep in step with the Makefile's test-data target
CACHE: Final = Path(__file__).resolve().parents[2] / ".cache" / "pypi"
VIDEOS: Final = (
    "v1.m4v",
    "v2.m4v",
    "v2s.mov",
    "rgb.m4v",
    "extra_channel_attached_pic.mp4",
    "extra_channel_attached_pic_audio.mp4",
)
SAME_CLIP: Final = {frozenset({"extra_channel_attached_pic.mp4", "extra_channel_attached_pic_audio.mp4"})}
CUT: Final = frozenset({"v2.m4v", "v2s.mov"})
FLAT: Final = "rgb.m4v"


def wheel() -> Path:
    """The downloaded wheel; a skip that says how to get it when it is absent (never a silent pass)."""
    found = sorted(CACHE.glob(f"perception-{VERSION}-*.whl"))
    if not found:
        pytest.skip(f"perception {VERSION} wheel not in {CACHE}: run `make test-data` (make test does it)")
    return found[0]


def media(folder: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
    """Files of ``perception/testing/<folder>/`` in the wheel, by name."""
    prefix = f"perception/testing/{folder}/"
    with zipfile.ZipFile(wheel()) as archive:
        return {
            name.removeprefix(prefix): archive.read(name)
            for name in archive.namelist()
            if name.startswith(prefix) and name.endswith(suffixes)
        }


@pytest.fixture(scope="module")
def hashes() -> dict[str, tuple[VideoHash, VideoHash]]:
    """Per video: hashed as a found video (full profile) and as a reference set is built."""
    data = media("videos", (".m4v", ".mov", ".mp4"))
    assert sorted(data) == sorted(VIDEOS)
    return {
        n: (hash_video(data[n], VideoSettings.full()), hash_video(data[n], VideoSettings.reference())) for n in VIDEOS
    }


def test_every_video_is_hashed_completely(hashes: dict[str, tuple[VideoHash, VideoHash]]) -> None:
    for name, (found, known) in hashes.items():
        assert found.complete and known.complete, (name, found.stop, found.message)
        assert found.warnings == () and found.meta is not None and found.meta.codec == "h264"
    assert not hashes[FLAT][0].usable_frames and not hashes[FLAT][1].usable_frames  # flat colour: quality 0
    assert hashes["extra_channel_attached_pic_audio.mp4"][0].meta.has_audio  # type: ignore[union-attr]


def test_the_same_clip_with_and_without_audio_matches_both_ways(
    hashes: dict[str, tuple[VideoHash, VideoHash]],
) -> None:
    for pair in SAME_CLIP:
        for found, known in itertools.permutations(sorted(pair)):
            result = match_videos(hashes[found][0], hashes[known][1])
            assert result.is_match and result.query_fraction == 1.0, (found, known, result)


def test_a_middle_cut_lowers_the_matched_share_asymmetrically(hashes: dict[str, tuple[VideoHash, VideoHash]]) -> None:
    cut = match_videos(hashes["v2s.mov"][0], hashes["v2.m4v"][1])
    assert (cut.query_frames, round(cut.query_fraction, 2)) == (4, 0.75) and not cut.is_match
    assert [round(f.query_s) for f in cut.frames] == [0, 1, 2]
    assert [round(f.known_s) for f in cut.frames] == [0, 1, 5]  # the frame after the cut is 3 s later in v2
    whole = match_videos(hashes["v2.m4v"][0], hashes["v2s.mov"][1])
    assert (whole.query_frames, len(whole.frames)) == (7, 3) and not whole.is_match
    assert match_videos(hashes["v2s.mov"][0], hashes["v2.m4v"][1], MatchSettings(query_threshold=0.75)).is_match


@pytest.mark.parametrize("threshold", [0.8, 0.75])
def test_no_false_matches_between_different_videos(
    hashes: dict[str, tuple[VideoHash, VideoHash]], threshold: float
) -> None:
    settings = MatchSettings(query_threshold=threshold)
    for found, known in itertools.permutations(VIDEOS, 2):
        pair = frozenset({found, known})
        if pair in SAME_CLIP or pair == CUT:
            continue
        result = match_videos(hashes[found][0], hashes[known][1], settings)
        assert not result.is_match and result.query_fraction < 0.5, (found, known, result)
        if FLAT in pair:
            assert result.reason is not None and "no usable frames" in result.reason


def test_no_video_frame_matches_any_of_the_photos(hashes: dict[str, tuple[VideoHash, VideoHash]]) -> None:
    photos = media("images", (".jpg",))
    assert len(photos) == 10
    results = [compute(data, PdqMode.EXACT) for data in photos.values()]
    index = BruteForceIndex(as_hash_array([r.full.hash for r in results if not isinstance(r, Skipped)]))
    assert len(index) == 10
    for name, (found, known) in hashes.items():
        assert match_frames(found, index) == [] and match_frames(known, index) == [], name
