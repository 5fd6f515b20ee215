"""Video matching end to end: a set built from a corpus clip, found copies of it triaged.

Benign corpus clips only (tests/data/media/video). The set is built with ``safenet hashset build``
from cockatoo.mp4; the exhibit holds the other encoding of the clip, a half-size re-encode made here, a
still taken from the clip, an unrelated clip, an exact copy and a truncated copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from safenet.case.store import Case, CaseError
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.summary import summarise
from tests.analysis.test_video import COCKATOO, COCKATOO_420, REALSHORT, VIDEO, reencode, still_at
from tests.engine.test_triage import Collect

SCHEMA = json.loads(resources.files("safenet.report").joinpath("report.schema.json").read_text())


def build_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(COCKATOO, reference / "cockatoo.mp4")
    hashdb = tmp_path / "db"
    build = ["hashset", "build", str(reference), "--name", "videos", "--kind", "illicit", "--category", "A"]
    assert main([*build, "--scheme", "uk", "--hashdb", str(hashdb)]) == 0
    assert "built videos: 1 entries" in capsys.readouterr().out
    return hashdb


@pytest.fixture(scope="module")
def triaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Collect, Path]:
    tmp_path = tmp_path_factory.mktemp("video")  # module scope: the CLI build is tested on its own below
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(COCKATOO, reference / "cockatoo.mp4")
    hashdb = tmp_path / "db"
    HashSetStore(hashdb).build_folder(
        reference, "videos", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=lambda ref, msg: None
    )
    exhibit = tmp_path / "exhibit"
    exhibit.mkdir()
    shutil.copy(COCKATOO_420, exhibit / "other-encoding.mp4")
    shutil.copy(REALSHORT, exhibit / "unrelated.mp4")
    shutil.copy(COCKATOO, exhibit / "exact.mp4")
    reencode(COCKATOO, exhibit / "half.mp4", size=(640, 360), bit_rate=150_000)
    still_at(COCKATOO, 5.0, exhibit / "still.png")
    data = COCKATOO.read_bytes()
    (exhibit / "truncated.mp4").write_bytes(data[: len(data) // 3])
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("videos",), operator="t")
    triage(exhibit, case, HashSetStore(hashdb), options, events)
    return case, events, tmp_path


def findings(case: Case) -> dict[str, list[dict[str, object]]]:
    return {item["name"]: item["findings"] for item in report_data(case)["items"]}


def test_hashset_build_takes_videos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hashdb = build_set(tmp_path, capsys)
    info = HashSetStore(hashdb).get("videos")
    assert [k.value for k in info.digests] == ["md5", "sha1", "sha256", "ed2k", "pdq", "vpdq"]  # ED2K: for P2P records


def test_copies_of_a_known_video_match_perceptually_and_count_as_video(triaged: tuple[Case, Collect, Path]) -> None:
    case, events, _ = triaged
    found = findings(case)
    assert set(found) == {"other-encoding.mp4", "half.mp4", "still.png", "exact.mp4"}
    for name in ("other-encoding.mp4", "half.mp4"):
        [finding] = found[name]
        assert (finding["match_kind"], finding["hash_kind"], finding["category"]) == ("perceptual", "vpdq", "A")
        frames = finding["frames"]
        assert isinstance(frames, list) and 0 < len(frames) <= 50
        assert all(len(f) == 3 and f[1] is not None and f[2] <= 31 for f in frames)
    [still] = found["still.png"]  # a still from the known video, found through the image lookup
    assert (still["match_kind"], still["hash_kind"]) == ("perceptual", "pdq")
    counts = summarise(case).total["A"].counts  # still vs video, as prosecutors count them
    assert (counts["video"], counts["still"], counts["perceptual"], counts["exact"]) == (3, 1, 3, 1)
    assert any(h.perceptual and h.hash_kind.startswith("vpdq") for h in events.hits)


def test_unrelated_video_does_not_match_and_metadata_is_recorded(triaged: tuple[Case, Collect, Path]) -> None:
    case, _, tmp_path = triaged
    assert "unrelated.mp4" not in findings(case)
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        rows = {
            r[0]: r[1:]
            for r in db.execute("SELECT name, video_duration_s, video_codec, video_width, media_kind FROM items")
        }
    db.close()
    duration, codec, width, kind = rows["unrelated.mp4"]
    assert kind == "video" and duration is not None and duration > 0 and codec and width
    assert rows["half.mp4"][2:] == (640, "video")


def test_an_exact_copy_gets_an_exact_finding_and_no_video_work(triaged: tuple[Case, Collect, Path]) -> None:
    case, _, tmp_path = triaged
    [exact] = findings(case)["exact.mp4"]
    assert exact["match_kind"] == "exact" and exact["frames"] is None
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        row = db.execute("SELECT video_duration_s, sha256 FROM items WHERE name = 'exact.mp4'").fetchone()
    db.close()
    assert row[0] is None  # never decoded
    assert not (tmp_path / "case" / "thumbs" / f"{row[1]}.jpg").exists()


def test_a_truncated_video_is_a_warning_and_the_run_completes(triaged: tuple[Case, Collect, Path]) -> None:
    case, _, _ = triaged
    data = report_data(case)
    assert data["exhibits"][0]["runs"][0]["status"] == "completed"
    warned = [w for w in data["warnings"] if w["path"] and "/truncated.mp4" in w["path"]]
    assert warned and warned[0]["code"] in ("video-incomplete", "video-skipped")
    assert "video hashing stopped" in warned[0]["message"]


def test_frame_sheet_is_written_owner_only_and_greyscale(triaged: tuple[Case, Collect, Path]) -> None:
    _, _, tmp_path = triaged
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        (sha256,) = db.execute("SELECT sha256 FROM items WHERE name = 'unrelated.mp4'").fetchone()
    db.close()
    sheet = tmp_path / "case" / "thumbs" / f"{sha256}.jpg"
    assert sheet.is_file() and stat.S_IMODE(sheet.stat().st_mode) == 0o600
    with Image.open(sheet) as image:
        assert image.mode == "L"


def test_report_validates_with_video_fields(triaged: tuple[Case, Collect, Path]) -> None:
    case, _, _ = triaged
    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    half = next(i for i in data["items"] if i["name"] == "half.mp4")
    assert half["media_kind"] == "video" and half["video_width"] == 640 and half["video_codec"] == "h264"


def test_quick_profile_in_worker_processes_bounds_frames_without_warning_or_sheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hashdb = build_set(tmp_path, capsys)
    exhibit = tmp_path / "exhibit"
    exhibit.mkdir()
    shutil.copy(COCKATOO_420, exhibit / "other-encoding.mp4")
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", hashsets=("videos",), operator="t", executor=ExecutorKind.PROCESSES)
    triage(exhibit, case, HashSetStore(hashdb), options)  # frames hashed in a worker process, matched here
    [finding] = findings(case)["other-encoding.mp4"]
    assert finding["hash_kind"] == "vpdq"
    assert report_data(case)["warnings"] == []
    assert not list((tmp_path / "case").glob("thumbs/*.jpg"))


def test_video_frames_match_an_image_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    still_at(REALSHORT, 1.0, reference / "still.png")
    hashdb = tmp_path / "db"
    build = ["hashset", "build", str(reference), "--name", "stills", "--kind", "illicit", "--category", "B"]
    assert main([*build, "--scheme", "uk", "--hashdb", str(hashdb)]) == 0
    exhibit = tmp_path / "exhibit"
    exhibit.mkdir()
    shutil.copy(REALSHORT, exhibit / "clip.mp4")
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("stills",), operator="t")
    triage(exhibit, case, HashSetStore(hashdb), options)
    [finding] = findings(case)["clip.mp4"]
    assert (finding["hash_kind"], finding["match_kind"], finding["category"]) == ("pdq", "perceptual", "B")
    frames = finding["frames"]
    assert isinstance(frames, list) and frames and all(f[1] is None for f in frames)


def test_version_3_cases_are_refused(triaged: tuple[Case, Collect, Path]) -> None:
    _, _, tmp_path = triaged
    copy = tmp_path / "old-case"
    shutil.copytree(tmp_path / "case", copy)
    with sqlite3.connect(copy / "case.db") as db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(CaseError, match="schema version 3, written by an older Safenet"):
        Case.open_existing(copy)


def test_csv_and_html_reports_show_the_matched_frame_times(triaged: tuple[Case, Collect, Path]) -> None:
    import csv

    from safenet.report.writers import frame_times, render_html, write_report

    case, _, tmp_path = triaged
    rows = {r["name"]: r for r in csv.DictReader(write_report(case, "csv", tmp_path / "r.csv").open(encoding="utf-8"))}
    [half] = findings(case)["half.mp4"]
    shown = rows["half.mp4"]["matched_frames"]
    assert shown == frame_times(half["frames"])  # type: ignore[arg-type]
    first = half["frames"][0]  # type: ignore[index]
    assert shown.startswith(f"{round(first[0], 2):g} s -> {round(first[1], 2):g} s ({first[2]} bits)")
    assert shown.count(" -> ") == len(half["frames"])  # type: ignore[arg-type]
    assert rows["exact.mp4"]["matched_frames"] == "" and rows["still.png"]["matched_frames"] == ""
    html = render_html(report_data(case))
    assert f"Matched frames (found video -&gt; known video): {shown.replace('->', '-&gt;')}" in html
    assert (
        frame_times([[3.0, None, 7], [4.004, None, 9], [0.75, 12.25, 0]])
        == "3 s (7 bits); 4 s (9 bits); 0.75 s -> 12.25 s (0 bits)"
    )


def blocky_gif(path: Path, frames: int) -> list[Image.Image]:
    """An animated GIF of ``frames`` different blocky pictures, 250 ms each (benign, made here)."""
    rng = np.random.default_rng(11)
    pictures = [
        Image.fromarray(np.kron(rng.integers(0, 256, (12, 16, 3)), np.ones((16, 16, 1))).astype(np.uint8))
        for _ in range(frames)
    ]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=250, loop=0)
    return pictures


def test_animated_gifs_go_through_triage_as_moving_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The corpus GIF (0.8 s) and a made one: frames hashed at 4/s; a later frame matches a still's set."""
    exhibit = tmp_path / "exhibit"
    exhibit.mkdir()
    shutil.copy(VIDEO / "newtonscradle.gif", exhibit / "cradle.gif")
    pictures = blocky_gif(exhibit / "blocks.gif", 6)
    reference = tmp_path / "reference"
    reference.mkdir()
    pictures[3].save(reference / "frame3.png")  # shown from 0.75 s; the first frame is unrelated to it
    hashdb = tmp_path / "db"
    build = ["hashset", "build", str(reference), "--name", "stills", "--kind", "illicit", "--category", "C"]
    assert main([*build, "--scheme", "uk", "--hashdb", str(hashdb)]) == 0
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("stills",), operator="t")
    triage(exhibit, case, HashSetStore(hashdb), options)
    data = report_data(case)
    assert data["warnings"] == [] and data["exhibits"][0]["runs"][0]["status"] == "completed"
    [blocks] = data["items"]  # the cradle matches nothing
    assert (blocks["name"], blocks["media_kind"], blocks["video_codec"], blocks["video_width"]) == (
        "blocks.gif",
        "image",
        "gif",
        256,
    )
    [finding] = blocks["findings"]
    assert (finding["hash_kind"], finding["match_kind"], finding["category"]) == ("pdq", "perceptual", "C")
    assert finding["frames"] == [[0.75, None, 0]]
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        rows = dict(db.execute("SELECT name, video_codec FROM items").fetchall())
    db.close()
    assert rows == {"cradle.gif": "gif", "blocks.gif": "gif"}  # both hashed frame by frame


@pytest.mark.timeout(120)  # a hang guard, not a speed claim: speed is measured in bench/
def test_a_four_hour_video_in_quick_triage_costs_a_bounded_twenty_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    from tests.analysis.test_video_bad_input import _encode

    hashdb = build_set(tmp_path, capsys)
    exhibit = tmp_path / "exhibit"
    exhibit.mkdir()
    _encode(exhibit / "four_hours.mp4", 4 * 3600, (16, 16), gop=60)  # 14,400 frames at 1 frame/s
    case = Case.create_or_open(tmp_path / "case")
    triage(exhibit, case, HashSetStore(hashdb), TriageOptions(exhibit="EX1", hashsets=("videos",), operator="t"))
    data = report_data(case)
    assert data["warnings"] == [] and data["items"] == []  # frame cap with spread samples: expected, no warning
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        duration = db.execute("SELECT video_duration_s FROM items WHERE name = 'four_hours.mp4'").fetchone()[0]
    db.close()
    assert duration == pytest.approx(4 * 3600)
