"""Hash sets holding videos: the stored frame table, the vPDQ lookup from it, stills through the image index."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from safenet.analysis.pdq import PdqMode, Skipped, compute
from safenet.analysis.video import VideoSettings, hash_video
from safenet.analysis.video.match import KnownVideos
from safenet.hashsets.model import HashKind, HashSetError, SetKind
from safenet.hashsets.store import HashSetStore
from safenet.hashsets.video import VIDEO_FRAMES_FILE, FrameTable, load_frames, save_frames
from tests.analysis.test_video import COCKATOO, COCKATOO_420, REALSHORT, still_at


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> HashSetStore:
    tmp_path = tmp_path_factory.mktemp("videosets")
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(COCKATOO, reference / "cockatoo.mp4")
    (reference / "notes.txt").write_text("not media")
    store = HashSetStore(tmp_path / "db")
    warnings: list[str] = []
    store.build_folder(reference, "videos", kind=SetKind.ILLICIT, warn=lambda ref, msg: warnings.append(msg))
    assert any("not images or videos" in w for w in warnings)
    return store


def test_build_stores_a_frame_table_and_lists_vpdq(store: HashSetStore) -> None:
    info = store.get("videos")
    assert info.entry_count == 2 and HashKind.VPDQ in info.digests and HashKind.PDQ in info.digests
    [stored] = store._catalog.stored(["videos"])
    table = load_frames(store.root / "sets" / stored.directory / VIDEO_FRAMES_FILE)
    reference = hash_video(COCKATOO, VideoSettings.reference())
    assert len(table) == len(reference.usable_frames) == stored.contents.video.count  # type: ignore[union-attr]
    assert table.hashes[0].tobytes() == reference.usable_frames[0].pdq and set(table.entries.tolist()) == {0}


def test_matcher_finds_the_other_encoding_not_the_unrelated_clip(store: HashSetStore) -> None:
    with store.matcher(["videos"]) as matcher:
        assert matcher.video_sets
        [match] = matcher.videos(hash_video(COCKATOO_420).frames)
        assert (match.hash_kind, match.match_kind, match.entry) == (HashKind.VPDQ, "perceptual", 0)
        assert match.frames and all(found <= 31 for _, _, found in match.frames)
        assert matcher.videos(hash_video(REALSHORT).frames) == []


def test_a_still_from_the_known_video_is_found_by_the_image_lookup(store: HashSetStore, tmp_path: Path) -> None:
    result = compute(still_at(COCKATOO, 7.0, tmp_path / "still.png").read_bytes(), PdqMode.FAST)
    assert not isinstance(result, Skipped)
    variants = [(t, h.hashes) for t, h in result.variants()]
    with store.matcher(["videos"]) as matcher:
        [[match]] = matcher.perceptual([variants])
    assert match.hash_kind is HashKind.PDQ and match.entry == 0


def test_worker_matchers_load_no_frame_index(store: HashSetStore) -> None:
    [stored] = store._catalog.stored(["videos"])
    from safenet.hashsets.exact import Matcher

    assert not Matcher([(stored, store.root / "sets" / stored.directory)], perceptual=False).video_sets


def test_known_videos_from_arrays_match_like_from_hashes() -> None:
    known = hash_video(COCKATOO, VideoSettings.reference())
    frames = known.usable_frames
    none = -np.ones(len(frames), np.int16)
    from_arrays = KnownVideos.from_arrays(
        np.zeros(len(frames), np.int64),
        np.array([f.timestamp_s for f in frames]),
        np.frombuffer(b"".join(f.pdq for f in frames), np.uint8).reshape(-1, 32),
        np.array([f.quality for f in frames], np.int16),
        None,
        none,
    )
    query = hash_video(COCKATOO_420)
    direct = KnownVideos({0: [f.__class__(f.timestamp_s, f.pdq, f.quality) for f in frames]}).match(query)
    assert from_arrays.match(query) == direct and direct[0].is_match


def _table(count: int) -> FrameTable:
    return FrameTable(
        np.arange(count, dtype=np.int64),
        np.arange(count, dtype=np.float64),
        np.zeros((count, 32), np.uint8),
        np.full(count, 90, np.int16),
        np.zeros((count, 32), np.uint8),
        np.full(count, -1, np.int16),
    )


def test_frame_table_round_trips_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / VIDEO_FRAMES_FILE
    save_frames(path, _table(3))
    assert load_frames(path).entries.tolist() == [0, 1, 2]
    np.savez(path.open("wb"), header=np.frombuffer(b'{"format": "other", "version": 1}', np.uint8))
    with pytest.raises(HashSetError, match=r"damaged|frame table"):
        load_frames(path)
    path.write_bytes(b"garbage")
    with pytest.raises(HashSetError, match="damaged"):
        load_frames(path)
