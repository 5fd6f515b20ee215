"""Executors: the same stage inline, on threads and in worker processes gives the same case.

Worker processes re-open evidence and hash sets from plain data, take batches, survive a worker crash
(a stage that ``os._exit`` s on a chosen file name stands in for a native decoder crashing on hostile
input) and keep stop-at-first-hit, interrupt and resume as threads do.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from safenet.case.records import ItemRecord, ItemStatus, PdqRecord, WorkResult
from safenet.case.store import Case
from safenet.engine import executors
from safenet.engine.executors import (
    CRASH_CODE,
    ExecutorError,
    ExecutorKind,
    ProcessExecutor,
    Stage,
    StagePlan,
    WorkerSetup,
    batches,
    choose,
    open_stage,
    run_ordered,
)
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, TriageOutcome, triage
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import Credential, CredentialKind, EvidenceWarning, Item, OpenContext
from safenet.evidence.registry import open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from tests.builders import VicsSet, jpeg, md5, write, zip_bytes
from tests.engine.test_perceptual_triage import encode, pic
from tests.engine.test_triage import Collect

CRASH_NAMES = ("crash-1.jpg", "crash-2.jpg")
READ_CRASH_NAMES = ("crash-2.jpg",)  # here even reading the bytes alone kills the worker (a back-end crash)


class _CrashingStage(Stage):
    """A stage whose worker process dies on certain names, as a segfaulting decoder would."""

    def run(self, batch: Sequence[Item]) -> list[WorkResult]:
        if any(item.name in CRASH_NAMES for item in batch):
            os._exit(3)
        return super().run(batch)

    def run_bytes_only(self, batch: Sequence[Item]) -> list[WorkResult]:
        if any(item.name in READ_CRASH_NAMES for item in batch):
            os._exit(3)
        return super().run_bytes_only(batch)


def crashing_stage(setup: WorkerSetup) -> Stage:
    stage = open_stage(setup)
    return _CrashingStage(stage.evidence, stage.settings)


def failing_stage(setup: WorkerSetup) -> Stage:
    raise OSError("no such device")


def threshold_stage(setup: WorkerSetup) -> Stage:
    import gc

    raise OSError(f"collector threshold {gc.get_threshold()[0]}")  # said back by the pool as it starts


def _tree(root: Path, files: int, known: VicsSet, hit_every: int = 50) -> None:
    for i in range(files):
        data = jpeg(i, (16, 12))
        write(root, f"d{i % 7}/{i:04d}.jpg", data)
        if i % hit_every == 3:
            known.add(data, 1)
    write(root, "zips/pics.zip", zip_bytes({"in/a.jpg": jpeg(9000), "readme.txt": b"hi"}))
    known.add(jpeg(9000), 2)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("executors")
    known = VicsSet()
    _tree(base / "ev", 300, known)
    store = HashSetStore(base / "db")
    store.import_file(known.write(base / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return base / "ev", base / "db"


def _triage(tmp: Path, ev: Path, db: Path, name: str, **kw: Any) -> tuple[Case, TriageOutcome]:
    case = Case.create_or_open(tmp / name)
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("s",), operator="t", **kw)
    return case, triage(ev, case, HashSetStore(db), options, Collect())


def _items(case: Case) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(case.path / "case.db") as db:
        return list(db.execute("SELECT locator, status, md5 FROM items ORDER BY id"))


def _findings(case: Case) -> list[tuple[str, str]]:
    with sqlite3.connect(case.path / "case.db") as db:
        query = "SELECT i.locator, f.category FROM findings f JOIN items i ON i.id = f.item_id ORDER BY f.id"
        return list(db.execute(query))


def _warnings(case: Case) -> list[tuple[str, str | None]]:
    with sqlite3.connect(case.path / "case.db") as db:
        return list(db.execute("SELECT code, display FROM warnings ORDER BY id"))


def test_results_and_setup_are_plain_picklable_data(tmp_path: Path) -> None:
    write(tmp_path / "ev", "a.jpg", jpeg(1))
    source = open_source(tmp_path / "ev")
    item = next(iter(source.items(lambda w: None)))
    pdq = PdqRecord(b"\1" * 32, 90, None, ((False, (b"\2" * 32,) * 8),))
    filetype = open_stage(WorkerSetup(tmp_path / "ev", StagePlan(Profile.QUICK, ("md5",)))).run([item])[0]
    record = ItemRecord(item, filetype.records[0].filetype, ItemStatus.EXAMINED, {"md5": b"x"}, False)
    pdq_record = ItemRecord(item, record.filetype, ItemStatus.SKIPPED, None, True, 0, (), pdq)
    result = WorkResult((record, pdq_record), (EvidenceWarning("unreadable", "gone", item.locator),), 12)
    assert pickle.loads(pickle.dumps(result)) == result
    secret = OpenContext((Credential(CredentialKind.PASSWORD, "hunter2"),), ("p2",))
    setup = WorkerSetup(tmp_path / "ev", StagePlan(Profile.QUICK, ("md5",)), secret)
    assert pickle.loads(pickle.dumps(setup)) == setup
    assert "hunter2" not in repr(setup)


def test_choose_defaults() -> None:
    assert choose(None, 1, 10_000, True) is ExecutorKind.INLINE
    assert choose(None, 2, 10, True) is ExecutorKind.THREADS  # a pool costs more than it saves
    assert choose(None, 2, 10_000, True) is ExecutorKind.PROCESSES  # PDQ holds the GIL
    assert choose(None, 2, 10_000, False) is ExecutorKind.THREADS  # hashlib does not
    assert choose(ExecutorKind.PROCESSES, 1, 1, False) is ExecutorKind.PROCESSES
    assert choose(None, 2, 30, True, videos=30) is ExecutorKind.PROCESSES  # a video is PDQ work many times over
    assert choose(None, 2, 30, False, videos=30) is ExecutorKind.THREADS


def test_batches_bound_items_and_bytes(tmp_path: Path) -> None:
    from safenet.evidence.locator import Locator

    items = [Item(Locator.source(f"/x{i}"), f"x{i}", size) for i, size in enumerate([5, 5, 5, 20, 1, 1, 1])]
    sizes = [[i.size for i in b] for b in batches(items, 3, 10)]
    assert sizes == [[5, 5], [5], [20], [1, 1, 1]]
    assert [len(b) for b in batches(items, 2, 0)] == [2, 2, 2, 1]


def test_every_executor_records_the_same_case_in_the_same_order(tmp_path: Path, evidence: tuple[Path, Path]) -> None:
    ev, db = evidence
    local = [kind for kind in ExecutorKind if kind is not ExecutorKind.DASK]  # a cluster's: test_dask_executor
    cases = {kind: _triage(tmp_path, ev, db, kind.value, executor=kind)[0] for kind in local}
    inline = cases[ExecutorKind.INLINE]
    assert len(_items(inline)) == 303 and len(_findings(inline)) == 7
    for kind, case in cases.items():
        assert _items(case) == _items(inline), kind
        assert _findings(case) == _findings(inline), kind
        assert _warnings(case) == [], kind


def test_processes_stop_at_first_hit_then_resume(tmp_path: Path, evidence: tuple[Path, Path]) -> None:
    ev, db = evidence
    case, outcome = _triage(tmp_path, ev, db, "c", executor=ExecutorKind.PROCESSES, stop_at_first_hit=True)
    assert outcome.status is RunStatus.STOPPED
    first = len(_items(case))
    assert 0 < first < 303 and len(_findings(case)) == 1
    _, done = _triage(tmp_path, ev, db, "c", executor=ExecutorKind.PROCESSES, resume=True)
    assert done.status is RunStatus.COMPLETED
    items = _items(case)
    assert len(items) == len({locator for locator, _, _ in items}) == 303
    assert len(_findings(case)) == 7


class _InterruptAfter(Collect):
    def __init__(self, items: int) -> None:
        super().__init__()
        self.left = items

    def advanced(self, items: int, bytes_read: int) -> None:
        self.left -= items
        if self.left == 0:
            raise KeyboardInterrupt


def test_processes_interrupt_then_resume(tmp_path: Path, evidence: tuple[Path, Path]) -> None:
    ev, db = evidence
    case = Case.create_or_open(tmp_path / "c")
    options = TriageOptions(
        exhibit="EX1", profile=Profile.STANDARD, hashsets=("s",), operator="t", executor=ExecutorKind.PROCESSES
    )
    outcome = triage(ev, case, HashSetStore(db), options, _InterruptAfter(100))
    assert outcome.status is RunStatus.INTERRUPTED
    assert 0 < len(_items(case)) < 303
    _, done = _triage(tmp_path, ev, db, "c", executor=ExecutorKind.PROCESSES, resume=True)
    assert done.status is RunStatus.COMPLETED
    assert len({locator for locator, _, _ in _items(case)}) == len(_items(case)) == 303


def test_a_crashed_worker_loses_nothing_but_the_item_that_killed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = VicsSet()
    ev = tmp_path / "ev"
    _tree(ev, 300, known, hit_every=10)
    write(ev, "d1/crash-1.jpg", jpeg(5000))  # ordered among the others; the worker dies with its batch
    write(ev, "d5/crash-2.jpg", jpeg(5001))
    known.add(jpeg(5000), 1)  # a file that crashes the decoder still matches exactly
    known.add(jpeg(5001), 1)  # ... unless reading it crashes too
    store = HashSetStore(tmp_path / "db")
    store.import_file(known.write(tmp_path / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    monkeypatch.setattr(executors, "open_stage", crashing_stage)
    case, outcome = _triage(tmp_path, ev, tmp_path / "db", "case", executor=ExecutorKind.PROCESSES)
    assert outcome.status is RunStatus.COMPLETED
    items = _items(case)
    assert len(items) == 305
    crashed = sorted((w[1] or "").split(" (inode")[0].rsplit("/", 1)[-1] for w in _warnings(case))
    assert crashed == list(CRASH_NAMES)
    assert {code for code, _ in _warnings(case)} == {CRASH_CODE}
    messages = sorted(m for (m,) in sqlite3.connect(case.path / "case.db").execute("SELECT message FROM warnings"))
    assert "hashed with nothing decoded" in messages[0] and "no digests" in messages[1]
    by_name = {locator.rsplit("/", 1)[-1].split('"')[0]: (status, digest) for locator, status, digest in items}
    assert by_name["crash-1.jpg"] == (ItemStatus.EXAMINED, md5(jpeg(5000)))
    assert by_name["crash-2.jpg"] == (ItemStatus.UNREADABLE, None)
    assert sum(status == ItemStatus.EXAMINED for _, status, _ in items) == 303  # 300, crash-1, the zip, its jpg
    found = _findings(case)
    assert len(found) == 32  # every hit, including those batched with the crashing items, and crash-1
    assert sum("crash-1.jpg" in locator for locator, _ in found) == 1


def test_ordered_results_survive_crashes_in_the_pool(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    for i in range(60):
        write(root, f"{i:03d}.jpg", jpeg(i, (8, 8)))
    write(root, "crash-1.jpg", jpeg(99, (8, 8)))
    source = open_source(root)
    items = sorted(source.items(lambda w: None), key=lambda i: i.name)
    setup = WorkerSetup(root, StagePlan(Profile.QUICK, ("md5",)))
    with ProcessExecutor(setup, 2, factory=crashing_stage) as executor:
        executor.batch_items = 8
        results = list(run_ordered(executor, items))
    assert [r.records[0].item.name for r in results] == [i.name for i in items]
    assert [r.warnings[0].code for r in results if r.warnings] == [CRASH_CODE]
    assert results[-1].records[0].status is ItemStatus.EXAMINED  # decoding crashed; hashing its bytes did not
    assert results[-1].records[0].digests == {"md5": bytes.fromhex(md5(jpeg(99, (8, 8))))}


def test_a_worker_that_cannot_open_the_evidence_says_so(tmp_path: Path) -> None:
    write(tmp_path / "ev", "a.jpg", jpeg(1))
    setup = WorkerSetup(tmp_path / "ev", StagePlan(Profile.QUICK, ("md5",)))
    with pytest.raises(ExecutorError, match=r"could not open the evidence \(OSError: no such device\)"):
        ProcessExecutor(setup, 1, factory=failing_stage)  # found when the pool starts, before any item


def test_worker_processes_collect_garbage_as_the_console_does(tmp_path: Path) -> None:
    """The per-item work of a process pool runs in its workers: they collect every YOUNG_OBJECTS, not 700."""
    from safenet.collector import YOUNG_OBJECTS

    write(tmp_path / "ev", "a.jpg", jpeg(1))
    setup = WorkerSetup(tmp_path / "ev", StagePlan(Profile.QUICK, ("md5",)))
    with pytest.raises(ExecutorError, match=f"collector threshold {YOUNG_OBJECTS}"):
        ProcessExecutor(setup, 1, factory=threshold_stage)


def test_perceptual_matches_are_the_same_in_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safenet.cli import main

    for seed in range(3):
        write(tmp_path / "ref", f"{seed}.jpg", encode(pic(seed)))
    build = ["hashset", "build", str(tmp_path / "ref"), "--name", "p", "--kind", "illicit", "--category", "A"]
    assert main([*build, "--scheme", "uk", "--hashdb", str(tmp_path / "db")]) == 0
    capsys.readouterr()
    ev = tmp_path / "ev"
    write(ev, "resized.jpg", encode(pic(0).resize((320, 240)), quality=50))
    write(ev, "rotated.jpg", encode(pic(1).transpose(Image.Transpose.ROTATE_90)))
    write(ev, "exact.jpg", encode(pic(2)))
    write(ev, "other.jpg", encode(pic(30)))
    found = {}
    for kind in (ExecutorKind.THREADS, ExecutorKind.PROCESSES):
        case = Case.create_or_open(tmp_path / kind.value)
        options = TriageOptions(exhibit="EX1", hashsets=("p",), operator="t", executor=kind)
        triage(ev, case, HashSetStore(tmp_path / "db"), options, Collect())
        found[kind] = {item["name"]: item["findings"] for item in report_data(case)["items"]}
    assert found[ExecutorKind.PROCESSES] == found[ExecutorKind.THREADS]
    kinds = {name: [f["match_kind"] for f in fs] for name, fs in found[ExecutorKind.PROCESSES].items() if fs}
    assert kinds == {"resized.jpg": ["perceptual"], "rotated.jpg": ["perceptual"], "exact.jpg": ["exact"]}


def test_bytes_only_hashes_an_item_without_opening_what_is_inside(tmp_path: Path) -> None:
    """What a crashed item gets: its own digests, no members, no decoding (even in the standard profile)."""
    data = zip_bytes({"in/a.jpg": jpeg(1)})
    write(tmp_path / "ev", "pics.zip", data)
    stage = open_stage(WorkerSetup(tmp_path / "ev", StagePlan(Profile.STANDARD, ("md5",))))
    [item] = list(stage.evidence.items(lambda w: None))
    [result] = stage.run_bytes_only([item])
    assert [(r.item.name, r.status, r.digests) for r in result.records] == [
        ("pics.zip", ItemStatus.EXAMINED, {"md5": bytes.fromhex(md5(data))})
    ]
    assert result.warnings == () and result.bytes_read == len(data)


class _Made(executors.InlineExecutor):
    closed = 0

    def close(self) -> None:
        _Made.closed += 1


def _listing_waits_for_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> tuple[Path, Case, TriageOptions]:
    """Evidence listed in one go (as a disk image is) whose listing ends only once the executor is being made,
    and the case and options of a run asking for worker processes."""
    from safenet.engine import examination as examination_module
    from safenet.evidence.directory import DirectoryEvidence

    root = tmp_path / "ev"
    for i in range(3):
        write(root, f"DCIM/{i}.jpg", jpeg(i))
    started = threading.Event()

    def make(kind: ExecutorKind, workers: int, evidence: Any, matcher: Any, setup: WorkerSetup, cluster: Any) -> Any:
        assert kind is ExecutorKind.PROCESSES and threading.current_thread().name == "executor-start"
        started.set()
        return _Made(Stage(evidence, executors.settings_for(setup.plan, matcher)))

    listing = DirectoryEvidence.items

    def items(self: DirectoryEvidence, warn: Any) -> Any:
        assert started.wait(10), "the executor was not started while the evidence was listed"
        if fail:
            raise RuntimeError("the listing broke")
        yield from listing(self, warn)

    monkeypatch.setattr(examination_module, "make_executor", make)
    monkeypatch.setattr(examination_module, "streams", lambda evidence: False)
    monkeypatch.setattr(DirectoryEvidence, "items", items)
    _Made.closed = 0
    options = TriageOptions(
        exhibit="EX1", profile=Profile.QUICK, operator="t", executor=ExecutorKind.PROCESSES, workers=2
    )
    return root, Case.create_or_open(tmp_path / "case"), options


def test_a_pool_or_cluster_is_started_while_the_evidence_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, case, options = _listing_waits_for_the_executor(tmp_path, monkeypatch, fail=False)
    outcome = triage(root, case, None, options, Collect())
    assert outcome.status is RunStatus.COMPLETED and outcome.items_recorded == 3 and _Made.closed == 1


def test_an_executor_started_for_a_listing_that_fails_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, case, options = _listing_waits_for_the_executor(tmp_path, monkeypatch, fail=True)
    with pytest.raises(RuntimeError, match="the listing broke"):
        triage(root, case, None, options, Collect())
    for _ in range(200):  # closed once made, by the thread that made it: the run does not wait for it
        if _Made.closed:
            break
        time.sleep(0.05)
    assert _Made.closed == 1


DISCARDED = """
import sys, time
from pathlib import Path
from safenet.engine.executors import Starting

class Slow:
    def close(self):
        Path(sys.argv[1]).write_text("closed")

def make():
    time.sleep(0.5)  # a cluster that answers late
    return Slow()

Starting(make).discard()  # the listing failed at once: the run ends before the executor is made
"""


def test_an_executor_discarded_while_being_made_is_closed_before_the_process_ends(tmp_path: Path) -> None:
    """A Dask client's worker plugin holds the run's credentials: the process must not end (its start thread a
    daemon) before the client it discarded has been made and closed."""
    marker = tmp_path / "closed"
    done = subprocess.run([sys.executable, "-c", DISCARDED, str(marker)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "closed"


def test_reading_hints_name_each_item_once() -> None:
    """Several segments or ranges of one item carry its hint once (a long run list is pickled once a task)."""
    from safenet.evidence.locator import Locator

    asked: list[Locator] = []

    class Hinting:
        def reading_hint(self, locator: Locator) -> object | None:
            asked.append(locator)
            return ("extent", (10, ((0, 1),)))

        def take_reading_hint(self, locator: Locator, hint: object) -> None:  # pragma: no cover - not asked here
            pass

    item = Item(Locator.source("/img").child(Layer(LayerKind.PATH, "/v.mp4", inode=4)), "v.mp4", 10)
    other = Item(Locator.source("/img").child(Layer(LayerKind.PATH, "/w.jpg", inode=5)), "w.jpg", 10)
    hints = executors.reading_hints(Hinting(), [item, item, other])  # type: ignore[arg-type]
    assert [locator for locator, _ in hints] == [item.locator, other.locator] == asked
