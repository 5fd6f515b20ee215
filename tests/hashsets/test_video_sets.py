"""Hash sets holding videos: the stored frame table, the vPDQ lookup from it, stills through the image index."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from safenet.analysis.pdq import PdqMode, Skipped, compute
from safenet.analysis.video import VideoSettings, hash_video
from safenet.hashsets.model import HashKind, HashSetError, SetKind
from safenet.hashsets.store import HashSetStore
from safenet.hashsets.video import VIDEO_FRAMES_FILE, FrameTable, load_frames, save_frames
from safenet.hashsets.videomatch import KnownVideos
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
    from safenet.hashsets.matcher import Matcher

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


# --- vPDQ feature files (``--format vpdq``) --------------------------------------------------------------


def write_vpdq(path: Path, rows: list[tuple[int, int, str, float]]) -> Path:
    """A feature file as vpdq writes it: frame_number,quality,pdq_hex,seconds (3 decimals) per line."""
    path.write_text("".join(f"{n},{q},{h},{t:.3f}\n" for n, q, h, t in rows))
    return path


def safenet_rows(video: Path) -> list[tuple[int, int, str, float]]:
    hashed = hash_video(video, VideoSettings.reference())
    return [(n, f.quality, f.hex, f.timestamp_s) for n, f in enumerate(hashed.frames)]


def vpdq_rows(video: Path) -> list[tuple[int, int, str, float]]:
    vpdq = pytest.importorskip("vpdq", reason="vpdq builds from source only: `make bench` installs it")
    return [(f.frame_number, f.quality, f.hex, f.timestamp) for f in vpdq.computeHash(str(video), seconds_per_hash=1)]


@pytest.mark.parametrize("hasher", [safenet_rows, vpdq_rows], ids=["safenet", "vpdq"])
def test_a_vpdq_file_imports_as_one_known_video(
    hasher: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.cli import main

    rows = hasher(COCKATOO)  # type: ignore[operator]
    path = write_vpdq(tmp_path / "cockatoo.vpdq.txt", rows)
    hashdb = tmp_path / "db"
    command = ["hashset", "import", str(path), "--name", "clip", "--kind", "illicit", "--hashdb", str(hashdb)]
    assert main([*command, "--format", "vpdq"]) == 0
    assert "imported clip: 1 entries (vpdq, illicit" in capsys.readouterr().out
    store = HashSetStore(hashdb)
    info = store.get("clip")
    assert info.format == "vpdq" and HashKind.VPDQ in info.digests and HashKind.PDQ in info.digests
    [stored] = store._catalog.stored(["clip"])
    table = load_frames(store.root / "sets" / stored.directory / VIDEO_FRAMES_FILE)
    assert len(table) == len(rows) and set(table.entries.tolist()) == {0}
    assert table.timestamps.tolist() == [round(t, 3) for *_, t in rows]
    with store.matcher(["clip"]) as matcher:
        [match] = matcher.videos(hash_video(COCKATOO_420).frames)
        assert (match.hash_kind, match.entry, match.match_kind) == (HashKind.VPDQ, 0, "perceptual")
        assert match.frames and all(d <= 31 for _, _, d in match.frames)
        assert matcher.videos(hash_video(REALSHORT).frames) == []
    assert main([*command, "--replace"]) == 0  # detected without --format
    assert "(vpdq, illicit" in capsys.readouterr().out


def test_vpdq_lines_that_cannot_be_used_are_warned_and_skipped(tmp_path: Path) -> None:
    from safenet.hashsets.formats import detect_format
    from safenet.hashsets.formats.vpdq import VpdqFormat

    good = "ab" * 32
    path = tmp_path / "clip.txt"
    path.write_text(
        f"0,100,{good},0.000\n1,20,{'cd' * 32},1.000\n2,100,{good}\n3,101,{good},3.0\nnot,a,line\n4,90,{good},4.000\n"
    )
    warnings: list[tuple[str, str]] = []
    [record] = list(VpdqFormat().read(path, lambda ref, msg: warnings.append((ref, msg))))
    assert record.name == "clip.txt" and [f.timestamp_s for f in record.video_frames] == [0.0, 4.0]
    assert [ref for ref, _ in warnings] == ["line 3", "line 4", "line 5", ""]
    assert "below PDQ quality 50" in warnings[-1][1]
    assert not VpdqFormat.sniff(path, path.read_bytes())  # mixed lines: not detected, --format needed
    clean = write_vpdq(tmp_path / "clean.txt", [(0, 100, good, 0.0), (30, 100, good, 1.0)])
    assert isinstance(detect_format(clean), VpdqFormat)
    path.write_text(f"0,10,{good},0.000\n")
    with pytest.raises(HashSetError, match="no usable vPDQ frame line"):
        list(VpdqFormat().read(path, lambda ref, msg: None))
