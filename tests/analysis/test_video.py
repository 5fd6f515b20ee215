"""Video hashing and matching on the corpus clips and on copies re-encoded here with PyAV."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from safenet.analysis.pdq import PdqMode, PdqResult, compute
from safenet.analysis.video import Stop, VideoFrame, VideoHash, VideoSettings, hash_video
from safenet.hashsets.index import BruteForceIndex, FaissIndex, as_hash_array
from safenet.hashsets.videomatch import KnownVideos, MatchSettings, match_frames, match_videos
from tests.datafiles import DATA

VIDEO = DATA / "media" / "video"
COCKATOO, COCKATOO_420, REALSHORT = VIDEO / "cockatoo.mp4", VIDEO / "cockatoo_yuv420.mp4", VIDEO / "realshort.mp4"


@pytest.fixture(scope="module")
def hashed() -> dict[str, VideoHash]:
    return {p.name: hash_video(p) for p in (COCKATOO, COCKATOO_420, REALSHORT)}


def reencode(
    source: Path,
    target: Path,
    *,
    size: tuple[int, int],
    start: float = 0.0,
    end: float = 1e9,
    bit_rate: int = 250_000,
    letterbox: int = 0,
) -> Path:
    """Decode ``source``, keep [start, end), scale to ``size`` with black bars of ``letterbox`` px, encode H.264."""
    width, height = size
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        encoder = out.add_stream("libx264", rate=20, options={"preset": "ultrafast"})
        encoder.width, encoder.height, encoder.pix_fmt, encoder.bit_rate = width, height, "yuv420p", bit_rate
        count = 0
        for frame in inp.decode(stream):
            if frame.time is None or not start <= frame.time < end:
                continue
            scaled = frame.reformat(width=width, height=height - 2 * letterbox, format="rgb24").to_ndarray()
            canvas = np.zeros((height, width, 3), np.uint8)
            canvas[letterbox : height - letterbox] = scaled
            out_frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            out_frame.pts, out_frame.time_base = count, Fraction(1, 20)
            count += 1
            for packet in encoder.encode(out_frame):
                out.mux(packet)
        for packet in encoder.encode():
            out.mux(packet)
    return target


def still_at(source: Path, seconds: float, target: Path) -> Path:
    """The frame shown at ``seconds`` saved as a PNG: a still taken from a known video."""
    with av.open(str(source)) as inp:
        for frame in inp.decode(inp.streams.video[0]):
            if frame.time is not None and frame.time >= seconds:
                frame.to_image().save(target)  # type: ignore[no-untyped-call]
                return target
    raise AssertionError("no frame at that time")


# --- metadata and hashing -------------------------------------------------------------------------


def test_metadata_of_corpus_clips(hashed: dict[str, VideoHash]) -> None:
    cockatoo = hashed["cockatoo.mp4"]
    assert cockatoo.stop is Stop.END and cockatoo.complete and cockatoo.warnings == ()
    meta = cockatoo.meta
    assert meta is not None
    assert (meta.codec, meta.width, meta.height, meta.fps, meta.frame_count) == ("h264", 1280, 720, 20.0, 280)
    assert meta.container is not None and "mp4" in meta.container
    assert meta.duration_s == pytest.approx(14.0) and meta.pixel_format == "yuv444p" and meta.has_audio
    meta420 = hashed["cockatoo_yuv420.mp4"].meta
    assert meta420 is not None and meta420.pixel_format == "yuv420p" and not meta420.has_audio
    short = hashed["realshort.mp4"].meta
    assert short is not None and (short.width, short.height) == (320, 240)
    assert short.duration_s == pytest.approx(1.2, abs=0.01)


def test_frames_are_sampled_once_a_second_by_timestamp(hashed: dict[str, VideoHash]) -> None:
    frames = hashed["cockatoo.mp4"].frames
    assert [f.timestamp_s for f in frames] == [float(t) for t in range(14)]
    assert all(f.quality == 100 and f.usable and len(f.pdq) == 32 for f in frames)
    assert [f.timestamp_s for f in hashed["realshort.mp4"].frames] == [0.0, 1.033]  # first frame at or after 1 s


def test_sampling_rate_is_configurable() -> None:
    result = hash_video(COCKATOO_420, VideoSettings(rate_fps=4.0, collapse_bits=0))
    assert result.sampled == 56 and result.frames[1].timestamp_s == 0.25


def test_result_is_plain_picklable_data(hashed: dict[str, VideoHash]) -> None:
    original = hashed["cockatoo.mp4"]
    assert pickle.loads(pickle.dumps(original)) == original


def test_bytes_and_stream_sources_hash_like_the_path(hashed: dict[str, VideoHash]) -> None:
    data = REALSHORT.read_bytes()
    assert hash_video(data).frames == hashed["realshort.mp4"].frames
    with REALSHORT.open("rb") as handle:
        assert hash_video(handle).frames == hashed["realshort.mp4"].frames


def test_consecutive_near_identical_frames_collapse_into_the_first(tmp_path: Path) -> None:
    path = tmp_path / "still.mp4"
    with av.open(str(path), "w") as out:
        encoder = out.add_stream("libx264", rate=10, options={"preset": "ultrafast", "qp": "0"})  # static: no drift
        encoder.width, encoder.height, encoder.pix_fmt = 128, 96, "yuv420p"
        rng = np.random.default_rng(7)
        scenes = [np.kron(rng.integers(0, 256, (6, 8, 3)), np.ones((16, 16, 1))).astype(np.uint8) for _ in range(2)]
        for i in range(60):  # 3 s of one picture, then 3 s of another
            frame = av.VideoFrame.from_ndarray(scenes[i // 30], format="rgb24")
            for packet in encoder.encode(frame):
                out.mux(packet)
        for packet in encoder.encode():
            out.mux(packet)
    result = hash_video(path)
    assert result.sampled == 6
    assert [(f.timestamp_s, f.count) for f in result.frames] == [(0.0, 3), (3.0, 3)]


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="rate_fps"):
        VideoSettings(rate_fps=0)
    with pytest.raises(ValueError, match="max_frames"):
        VideoSettings(max_frames=0)
    with pytest.raises(ValueError, match="query_threshold"):
        MatchSettings(query_threshold=80)


# --- video against video --------------------------------------------------------------------------


def test_two_encodings_of_one_clip_match_both_ways(hashed: dict[str, VideoHash]) -> None:
    one, other = hashed["cockatoo.mp4"], hashed["cockatoo_yuv420.mp4"]
    for query, known in ((one, other), (other, one)):
        found = match_videos(query, known)
        assert found.is_match and found.query_fraction == 1.0 and found.known_fraction == 1.0
        assert [(m.query_s, m.known_s) for m in found.frames] == [(float(t), float(t)) for t in range(14)]
        assert max(m.distance for m in found.frames) <= 8


def test_unrelated_clip_matches_neither(hashed: dict[str, VideoHash]) -> None:
    short = hashed["realshort.mp4"]
    for name in ("cockatoo.mp4", "cockatoo_yuv420.mp4"):
        for query, known in ((short, hashed[name]), (hashed[name], short)):
            found = match_videos(query, known)
            assert not found.is_match and found.frames == ()


def test_reencoded_half_size_trimmed_copy_matches_its_original(tmp_path: Path, hashed: dict[str, VideoHash]) -> None:
    copy = reencode(COCKATOO, tmp_path / "copy.mp4", size=(640, 360), start=2.0, end=12.0, bit_rate=150_000)
    result = hash_video(copy)
    assert result.complete and result.meta is not None and result.meta.width == 640
    found = match_videos(result, hashed["cockatoo.mp4"])
    assert found.is_match, found
    assert found.query_fraction == 1.0 and found.known_fraction == pytest.approx(10 / 14)  # the ends are cut
    assert [(m.query_s, m.known_s) for m in found.frames][:2] == [(0.0, 2.0), (1.0, 3.0)]  # where the copy sits
    assert not match_videos(result, hashed["realshort.mp4"]).is_match


def test_copy_cut_between_samples_matches_a_reference_hashed_densely(tmp_path: Path) -> None:
    """The cockatoo moves fast: 0.25 s apart is ~100 bits. A cut between two 1 s samples misses every frame
    of a 1 frame/s known hash (vPDQ's weak spot); known videos hashed at the reference rate still match."""
    copy = hash_video(reencode(COCKATOO, tmp_path / "copy.mp4", size=(640, 360), start=1.5, end=12.5))
    assert not match_videos(copy, hash_video(COCKATOO)).is_match
    reference = hash_video(COCKATOO, VideoSettings.reference())
    found = match_videos(copy, reference)
    assert found.is_match and found.query_fraction == 1.0
    assert abs(found.frames[0].known_s - 1.5) <= 0.25


def test_letterboxed_copy_matches_through_the_trimmed_hash(tmp_path: Path, hashed: dict[str, VideoHash]) -> None:
    boxed = reencode(COCKATOO, tmp_path / "boxed.mp4", size=(640, 480), letterbox=80)  # 1/3 of the height is bars
    with_trim = hash_video(boxed)
    found = match_videos(with_trim, hashed["cockatoo.mp4"])
    assert found.is_match and all(m.trimmed for m in found.frames)
    without_trim = hash_video(boxed, VideoSettings(trim=False))
    assert not match_videos(without_trim, hashed["cockatoo.mp4"]).is_match


def test_thresholds_are_configurable(hashed: dict[str, VideoHash]) -> None:
    one, other = hashed["cockatoo.mp4"], hashed["cockatoo_yuv420.mp4"]
    assert not match_videos(one, other, MatchSettings(max_distance=0)).is_match
    half = VideoHash(one.meta, one.frames[:7], Stop.END)
    assert match_videos(half, other).is_match  # a clip of the known video: vPDQ's index threshold is 0
    assert not match_videos(half, other, MatchSettings(index_threshold=0.8)).is_match
    assert not match_videos(other, half).is_match  # only half of the long video is in the clip


def test_low_quality_frames_never_support_a_match() -> None:
    flat = VideoFrame(0.0, bytes(32), quality=0, low_quality_reason="quality 0 < 50")
    found = match_videos([flat], [flat])
    assert not found.is_match and found.reason == "no usable frames in query video"


def test_known_video_set_reports_each_video(hashed: dict[str, VideoHash]) -> None:
    known = KnownVideos({"a": hashed["cockatoo.mp4"], "b": hashed["realshort.mp4"]})
    found = known.match(hashed["cockatoo_yuv420.mp4"])
    assert list(found) == ["a"] and found["a"].is_match


# --- frames against images ------------------------------------------------------------------------


def test_still_from_known_video_is_found_in_its_frames(tmp_path: Path, hashed: dict[str, VideoHash]) -> None:
    still = compute(still_at(COCKATOO_420, 5.0, tmp_path / "still.png"), PdqMode.EXACT)
    assert isinstance(still, PdqResult)
    known = KnownVideos({"cockatoo": hashed["cockatoo.mp4"], "short": hashed["realshort.mp4"]})
    hits = known.lookup_image([(t, h.hashes) for t, h in still.variants()])
    assert [(key, hit.timestamp_s) for key, hit in hits] == [("cockatoo", 5.0)]


@pytest.mark.parametrize("index_kind", [BruteForceIndex, lambda h: FaissIndex(h, kind="flat")])
def test_frames_match_an_image_set(
    tmp_path: Path, hashed: dict[str, VideoHash], index_kind: Callable[..., BruteForceIndex | FaissIndex]
) -> None:
    stills = [compute(still_at(COCKATOO, t, tmp_path / f"s{t}.png"), PdqMode.EXACT) for t in (3.0, 9.0)]
    decoy = hashed["realshort.mp4"].frames[0].pdq
    index = index_kind(as_hash_array([decoy, *[s.full.hash for s in stills if isinstance(s, PdqResult)]]))
    hits = match_frames(hashed["cockatoo_yuv420.mp4"], index)
    assert [(h.timestamp_s, h.entry) for h in hits] == [(3.0, 1), (9.0, 2)]
    assert all(h.distance <= 8 for h in hits)


def test_perceptual_queries_have_the_shape_the_hash_set_lookup_takes(hashed: dict[str, VideoHash]) -> None:
    queries = hashed["cockatoo.mp4"].perceptual_queries()
    assert len(queries) == 14
    timestamp, query = queries[0]
    assert timestamp == 0.0 and query[0] == (False, (hashed["cockatoo.mp4"].frames[0].pdq,))


# --- frame sheet ----------------------------------------------------------------------------------


def _high_frequency(image: Image.Image) -> float:
    """Mean absolute Laplacian: edges and texture; near zero for a blurred picture."""
    p = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = 4 * p[1:-1, 1:-1] - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def test_frame_sheet_is_greyscale_blurred_and_written_owner_only(tmp_path: Path) -> None:
    from safenet.analysis.video import write_frame_sheet
    from safenet.analysis.video.sheet import TILE

    result = hash_video(COCKATOO, sheet=True)
    assert result.sheet is not None
    path = write_frame_sheet(result.sheet, tmp_path, "a" * 64)
    assert path == tmp_path / f"{'a' * 64}.jpg" and path.stat().st_mode & 0o777 == 0o600
    with Image.open(path) as sheet:
        assert sheet.format == "JPEG" and sheet.mode == "L"
        assert sheet.width == 4 * TILE[0] and sheet.height > 3 * TILE[1]  # 14 tiles: 4 columns, 4 rows
        tile = sheet.crop((TILE[0], 0, 2 * TILE[0], TILE[1]))  # the frame at 1 s
    clear = Image.open(still_at(COCKATOO, 1.0, tmp_path / "clear.png")).convert("L").resize(TILE)
    assert _high_frequency(tile) < 0.2 * _high_frequency(clear)  # what is left is mostly JPEG blocking
    assert list(tmp_path.glob(".sheet-*")) == []


def test_frame_sheet_holds_at_most_twenty_tiles_spread_over_a_long_video() -> None:
    from safenet.analysis.video.sheet import SheetCollector

    collector = SheetCollector()
    for second in range(1000):
        collector.offer(float(second), np.full((36, 64, 3), second % 256, np.uint8))
    chosen = collector.chosen()
    assert len(chosen) == 20 and len(collector.kept) < 40
    assert chosen[0][0] == 0.0 and chosen[-1][0] > 900


@pytest.mark.parametrize("name", ["../x", "", "a/b", ".hidden", "x" * 200])
def test_frame_sheet_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    from safenet.analysis.video import write_frame_sheet

    with pytest.raises(ValueError, match="frame sheet name"):
        write_frame_sheet(b"x", tmp_path, name)
