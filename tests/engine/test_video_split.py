"""Long videos hashed as time segments on worker processes and Dask (``engine.videosplit``) give exactly the
results and the case an inline run gives; a segment that kills its workers is a warning, the others are kept.

The exhibit: a generated 12 s clip (benign synthetic frames, keyframes off the segment boundaries: see
``tests.analysis.test_video_segments``), a copy of it with garbled packets, a truncated copy (a warning: its
stream ends early), a 3 s clip (one segment: never split), and a picture. The segment length is turned down to
2 s, so each long clip is six segments. The hash set holds two stills of the clip, so its frames are found and
the findings name their times.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from safenet.analysis.video import model as video_model
from safenet.case.records import WorkResult
from safenet.case.store import Case
from safenet.engine import executors
from safenet.engine import triage as triage_module
from safenet.engine.cluster import ClusterTarget
from safenet.engine.executors import (
    CRASH_CODE,
    ExecutorKind,
    InlineExecutor,
    Stage,
    StagePlan,
    WorkerSetup,
    open_stage,
    run_ordered,
    settings_for,
    video_splitting_for,
)
from safenet.engine.profiles import Profile
from safenet.engine.split import Outcome, Unit
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.engine.video import PENDING_CODE, PENDING_STOP
from safenet.engine.videosplit import VideoSegment, VideoSplitting
from safenet.evidence.registry import open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.analysis.test_video import still_at
from tests.analysis.test_video_segments import garble, make_clip
from tests.builders import jpeg
from tests.dasklocal import local_cluster
from tests.engine.daskcases import rows
from tests.engine.test_triage import Collect

SEGMENT_S = 2.0
LONG = ("damaged.mp4", "long.mp4", "truncated.mp4")  # six segments each


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("videosplit")
    exhibit = base / "exhibit"
    exhibit.mkdir()
    clip = make_clip(exhibit / "long.mp4")
    (exhibit / "damaged.mp4").write_bytes(garble(clip.read_bytes()))
    whole = make_clip(base / "faststart.mp4", faststart=True).read_bytes()
    (exhibit / "truncated.mp4").write_bytes(whole[: len(whole) * 6 // 10])  # its last segments find nothing
    make_clip(exhibit / "short.mp4", seconds=3)
    (exhibit / "picture.jpg").write_bytes(jpeg(7))
    reference = base / "reference"
    reference.mkdir()
    for seconds in (5.0, 9.0):
        still_at(clip, seconds, reference / f"still-{seconds:g}.png")
    HashSetStore(base / "db").build_folder(
        reference, "s", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=lambda ref, msg: None
    )
    return exhibit, base / "db"


@pytest.fixture(autouse=True)
def short_segments(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(video_model, "SEGMENT_S", SEGMENT_S)  # read when the run's plan is made
    yield


Taken = list[WorkResult]


def _triage(source: Path, db: Path, case_dir: Path, kind: ExecutorKind, **kw: Any) -> tuple[Case, Taken]:
    """A triage into a new case, and the results the coordinator took, in order (before it recorded them)."""
    taken: Taken = []
    check = triage_module.cross_check

    def spy(evidence: Any, result: WorkResult) -> WorkResult:
        taken.append(result)
        return check(evidence, result)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(triage_module, "cross_check", spy)
        case = Case.create_or_open(case_dir)
        options = TriageOptions(
            exhibit="EX1", profile=Profile.STANDARD, hashsets=("s",), operator="t", executor=kind, workers=2, **kw
        )
        outcome = triage(source, case, HashSetStore(db), options, Collect())
    assert outcome.status is RunStatus.COMPLETED
    return case, sorted(taken, key=lambda r: r.records[0].item.name)


def _sheets(case: Case) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((case.path / "thumbs").glob("*.jpg"))}


def _case(case: Case) -> dict[str, list[tuple[object, ...]]]:
    found = rows(case)
    with sqlite3.connect(case.path / "case.db") as db:
        found["videos"] = list(db.execute("SELECT locator, video_duration_s, video_codec FROM items ORDER BY id"))
        found["frames"] = list(db.execute("SELECT item_id, frames FROM findings ORDER BY id"))
    return found


@pytest.fixture(scope="module")
def reference(evidence: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Taken]:
    exhibit, db = evidence
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video_model, "SEGMENT_S", SEGMENT_S)
        case, taken = _triage(exhibit, db, tmp_path_factory.mktemp("inline") / "case", ExecutorKind.INLINE)
    by_name = {r.records[0].item.name: r.records[0] for r in taken}
    for name in LONG:  # hashed inline, segment by segment
        video = by_name[name].video
        assert video is not None and video.stop != PENDING_STOP and video.frames
    assert not any(w.code == PENDING_CODE for r in taken for w in r.warnings)
    truncated = next(r for r in taken if r.records[0].item.name == "truncated.mp4")
    assert [w.code for w in truncated.warnings] == ["video-incomplete"]
    assert "stream ended at" in truncated.warnings[0].message
    assert len(rows(case)["findings"]) >= 2  # the stills found among the clip's frames
    return case, taken


def _segments_counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    segments = VideoSplitting.segments

    def counted(self: VideoSplitting, result: WorkResult) -> tuple[VideoSegment, ...]:
        parts = segments(self, result)
        if parts:
            seen.append((result.records[0].item.name, len(parts)))
        return parts

    monkeypatch.setattr(VideoSplitting, "segments", counted)
    return seen


@pytest.mark.timeout(300)
def test_worker_processes_hash_the_segments_apart_and_record_the_inline_results(
    evidence: tuple[Path, Path], reference: tuple[Case, Taken], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exhibit, db = evidence
    seen = _segments_counted(monkeypatch)
    case, taken = _triage(exhibit, db, tmp_path / "case", ExecutorKind.PROCESSES)
    assert sorted(seen) == [(name, 6) for name in LONG]  # the short clip is one segment: hashed by its worker
    expected_case, expected = reference
    assert taken == expected  # frames, hashes, counts, stops, sheets, warnings: equal
    assert _case(case) == _case(expected_case)
    assert _sheets(case) == _sheets(expected_case)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_dask_cluster_hashes_the_segments_apart_and_records_the_inline_results(
    evidence: tuple[Path, Path], reference: tuple[Case, Taken], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exhibit, db = evidence
    seen = _segments_counted(monkeypatch)
    with local_cluster() as local:
        target = ClusterTarget(local.scheduler_address)
        case, taken = _triage(exhibit, db, tmp_path / "case", ExecutorKind.DASK, cluster=target)
    assert sorted(seen) == [(name, 6) for name in LONG]
    expected_case, expected = reference
    assert taken == expected
    assert _case(case) == _case(expected_case)
    assert _sheets(case) == _sheets(expected_case)


CRASH_SEGMENT = 2  # seconds 4 to 6 of long.mp4


class _CrashingSegment(Stage):
    def run(self, batch: Sequence[Unit]) -> list[Outcome]:
        for unit in batch:
            if isinstance(unit, VideoSegment) and unit.item.name == "long.mp4" and unit.segment.index == CRASH_SEGMENT:
                os._exit(3)  # as a decoder crashing on hostile data would
        return super().run(batch)


def crashing_segment(setup: WorkerSetup) -> Stage:
    stage = open_stage(setup)
    return _CrashingSegment(stage.evidence, stage.settings)


@pytest.mark.timeout(300)
def test_a_segment_that_kills_its_worker_twice_is_a_warning_and_the_other_segments_are_kept(
    evidence: tuple[Path, Path], reference: tuple[Case, Taken], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exhibit, db = evidence
    monkeypatch.setattr(executors, "open_stage", crashing_segment)
    _, taken = _triage(exhibit, db, tmp_path / "case", ExecutorKind.PROCESSES)
    _, expected = reference
    got = {r.records[0].item.name: r for r in taken}
    want = {r.records[0].item.name: r for r in expected}
    assert {name: got[name] for name in got if name != "long.mp4"} == {n: want[n] for n in want if n != "long.mp4"}
    video, whole = got["long.mp4"].records[0].video, want["long.mp4"].records[0].video
    assert video is not None and whole is not None
    times = [f.timestamp_s for f in whole.frames]
    assert [f.timestamp_s for f in video.frames] == [t for t in times if not 4.0 <= t < 6.0]
    assert video.stop == "decode-error"
    warnings = [(w.code, w.message) for w in got["long.mp4"].warnings]
    assert warnings[0][0] == "video-incomplete" and "in 4 s to 6 s" in warnings[0][1]
    assert warnings[1][0] == CRASH_CODE and "hashing 4 s to 6 s of this video died twice" in warnings[1][1]
    assert len(warnings) == 2 and not want["long.mp4"].warnings


class _Batched(InlineExecutor):
    """In-process, but with several items a task and the videos left pending, as a worker-process pool runs."""

    batch_items = 4

    def __init__(self, stage: Stage, videos: VideoSplitting) -> None:
        super().__init__(stage)
        self.videos = videos


def test_a_pending_video_inside_a_batch_is_merged_before_the_items_after_it_are_taken(
    evidence: tuple[Path, Path],
) -> None:
    """Items after a pending video in its task wait for its segments: one result per item, in planned order."""
    exhibit, db = evidence
    matcher = HashSetStore(db).matcher(("s",))
    plan = StagePlan(Profile.STANDARD, ("md5",), perceptual=True)
    assert plan.video_segment_s == SEGMENT_S
    evidence_source = open_source(exhibit)
    found = {i.name: i for i in evidence_source.items(lambda w: None)}
    items = [found[n] for n in ("long.mp4", "picture.jpg", "damaged.mp4", "short.mp4")] * 4  # tasks of four
    inline = InlineExecutor(Stage(evidence_source, settings_for(plan, matcher)))
    expected = list(run_ordered(inline, items))
    split_plan = dataclasses.replace(plan, split_videos=True)
    batched = _Batched(Stage(evidence_source, settings_for(split_plan, matcher)), video_splitting_for(split_plan))
    submitted: list[tuple[Unit, ...]] = []
    submit = batched.submit

    def counted(batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        submitted.append(tuple(batch))
        return submit(batch, bytes_only)

    batched.submit = counted  # type: ignore[method-assign]
    got = list(run_ordered(batched, items))
    assert [len(t) for t in submitted if t and not isinstance(t[0], VideoSegment)] == [4, 4, 4, 4]
    assert sum(1 for t in submitted if t and isinstance(t[0], VideoSegment)) == 4 * 2 * 6
    assert [r.records[0].item.name for r in got] == [i.name for i in items]
    assert got == expected


class _Lazy(_Batched):
    """Runs a task only when its result is asked for, as a busy pool would: counts the tasks submitted and not
    yet run, to see how many run_ordered keeps in flight."""

    in_flight = 2

    def __init__(self, stage: Stage, videos: VideoSplitting) -> None:
        super().__init__(stage, videos)
        self.waiting = 0
        self.most = 0
        self.segments = 0

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        executor = self
        run = super().submit

        class Later(Future[list[Outcome]]):
            def result(self, timeout: float | None = None) -> list[Outcome]:
                if not self.done():
                    executor.waiting -= 1
                    self.set_result(run(batch, bytes_only).result())
                return super().result(timeout)

        self.waiting += 1
        self.most = max(self.most, self.waiting)
        self.segments += sum(isinstance(unit, VideoSegment) for unit in batch)
        return Later()


def test_a_video_s_segments_are_submitted_no_faster_than_the_window_allows(evidence: tuple[Path, Path]) -> None:
    """Six segments of a long video wait their turn: never more tasks in flight than ``in_flight`` (a ten-hour
    film has hundreds), and the results are the inline run's."""
    exhibit, db = evidence
    matcher = HashSetStore(db).matcher(("s",))
    plan = StagePlan(Profile.STANDARD, ("md5",), perceptual=True)
    evidence_source = open_source(exhibit)
    found = {i.name: i for i in evidence_source.items(lambda w: None)}
    items = [found[n] for n in ("long.mp4", "picture.jpg", "short.mp4")]
    expected = list(run_ordered(InlineExecutor(Stage(evidence_source, settings_for(plan, matcher))), items))
    split_plan = dataclasses.replace(plan, split_videos=True)
    lazy = _Lazy(Stage(evidence_source, settings_for(split_plan, matcher)), video_splitting_for(split_plan))
    assert list(run_ordered(lazy, items)) == expected
    assert lazy.segments == 6  # the long video's segments were tasks of their own, paced like the rest
    assert lazy.most <= lazy.in_flight
