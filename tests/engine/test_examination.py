"""A triage begun before its case is open (engine.examination.Early): the case records what a run begun after it
records, in the same order; nothing is recorded or kept for a run that is refused; the case database is loaded
only once examining has begun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow, Run, WarningRow
from safenet.case.store import Case
from safenet.engine import examination
from safenet.engine.examination import begin_early
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageError, TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, write, zip_bytes
from tests.engine.test_triage import Collect


@pytest.fixture
def exhibit(tmp_path: Path) -> tuple[Path, HashSetStore]:
    root = tmp_path / "exhibit"
    known = VicsSet()
    for i in range(40):
        data = jpeg(i) if i % 3 else png(i)
        write(root, f"Users/bob/Pictures/{i:02}/p{i}.{'jpg' if i % 3 else 'png'}", data)
        if i % 7 == 0:
            known.add(data, 1 + i % 3)
    write(root, "Users/bob/Downloads/a.zip", zip_bytes({"in.jpg": jpeg(90)}))
    write(root, "notes.txt", b"hello")
    os.mkfifo(root / "pipe")  # a special file: the listing warns about it, at its end
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return root, store


def recorded(case: Case) -> dict[str, object]:
    """What the case holds of its one run: items in recorded order, warnings, the run's counts."""
    with case.sessions() as s:
        items = s.execute(select(ItemRow.locator, ItemRow.md5, ItemRow.status, ItemRow.filetype).order_by(ItemRow.id))
        warnings = s.execute(select(WarningRow.code, WarningRow.locator).order_by(WarningRow.id))
        run = s.execute(select(Run.items_planned, Run.status)).one()
        return {"items": [tuple(r) for r in items], "warnings": [tuple(r) for r in warnings], "run": tuple(run)}


def early_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "safenet-early" and t.is_alive()]


def options(**kw: object) -> TriageOptions:
    return TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("caid-test",), operator="t", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefetch", [3, examination.PREFETCH])
def test_a_run_begun_early_records_what_a_run_begun_late_does(
    tmp_path: Path, exhibit: tuple[Path, HashSetStore], prefetch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3: the early thread stops at three results and the run takes the rest; PREFETCH: it takes all of them (and
    the listing's report, with the special file's warning) before the case is even opened."""
    root, store = exhibit
    everything = prefetch > 100
    monkeypatch.setattr(examination, "PREFETCH", prefetch)
    late_case = Case.create_or_open(tmp_path / "late")
    late = triage(root, late_case, store, options(), Collect())
    early = begin_early(root, tmp_path / "early", store, options())
    assert early.examination is not None  # a folder, on threads: begun
    assert early._pump is not None
    early._pump.join(30)  # as much as it may take is examined and kept before the case exists
    assert not (tmp_path / "early").exists() and len(early._kept) == (42 if everything else 3)
    events = Collect()
    early_case = Case.create_or_open(tmp_path / "early")
    try:
        done = triage(root, early_case, store, options(), events, early)
    finally:
        early.discard()
    assert done.status is late.status is RunStatus.COMPLETED
    assert (done.items_recorded, done.hits) == (late.items_recorded, late.hits) == (43, 6)
    assert events.planned_items == 42  # the top-level files (the zip member is not planned; the pipe is skipped)
    early_rows, late_rows = recorded(early_case), recorded(late_case)
    assert early_rows == late_rows
    code, locator = early_rows["warnings"][0]  # type: ignore[index]
    assert code == "special-file" and json.loads(locator)[-1] == {"kind": "path", "value": "/pipe"}
    assert early_rows["run"] == (42, "completed")
    assert early_case.audit.verify().ok


def test_a_run_refused_by_its_case_keeps_nothing(tmp_path: Path, exhibit: tuple[Path, HashSetStore]) -> None:
    """The exhibit label is taken: the run is refused after the examination began; its workers stop and the
    matcher is closed; the case holds only the first run."""
    root, store = exhibit
    case = Case.create_or_open(tmp_path / "case")
    triage(root, case, store, options(), Collect())
    before = recorded(case)
    early = begin_early(root, tmp_path / "case", store, options())
    workers, matcher = early.examination, early.matcher
    assert workers is not None and matcher is not None
    closed: list[bool] = []
    real_close = matcher.close
    matcher.close = lambda: closed.append(True) or real_close()  # type: ignore[method-assign]
    with pytest.raises(TriageError, match="already triaged"):
        try:
            triage(root, case, store, options(), Collect(), early)
        finally:
            early.discard()
    assert recorded(case) == before
    assert closed == [True] and not early_threads()  # the matcher closed once, by the run or by discard
    assert list(workers.results) == []  # closed: nothing more comes
    assert workers.listing is not None
    workers.listing._thread.join(10)  # told to stop: it lists no further
    assert not workers.listing._thread.is_alive()


def test_an_interrupt_while_the_run_takes_over_ends_it_interrupted(
    tmp_path: Path, exhibit: tuple[Path, HashSetStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the run waits for the early thread: the run is closed as interrupted (resumable), its audit
    line written, and the early thread and the workers are stopped."""
    root, store = exhibit

    def interrupted(self: examination.Early, listed: object) -> None:
        self._stop()
        raise KeyboardInterrupt

    monkeypatch.setattr(examination.Early, "attach", interrupted)
    case = Case.create_or_open(tmp_path / "case")
    early = begin_early(root, tmp_path / "case", store, options())
    workers = early.examination
    try:
        outcome = triage(root, case, store, options(), Collect(), early)
    finally:
        early.discard()
    assert outcome.status is RunStatus.INTERRUPTED and outcome.items_recorded == 0
    assert [e["event"] for e in case.audit.entries()][-1] == "triage-finished"
    assert workers is not None and list(workers.results) == []
    assert not early_threads()


def test_what_may_not_begin_early_does_not(tmp_path: Path, exhibit: tuple[Path, HashSetStore]) -> None:
    """A resume reads the case first; worker processes are chosen with the count listed: both begin late. A live
    phone is never read before its run and authority are recorded."""
    root, store = exhibit
    for asked in (options(resume=True), options(executor=examination.ExecutorKind.PROCESSES)):
        early = begin_early(root, tmp_path / "case", store, asked)
        try:
            assert early.examination is None and early.prepared.evidence is not None
        finally:
            early.discard()
    folder = begin_early(root, tmp_path / "case", None, TriageOptions(exhibit="EX1", operator="t"))
    try:
        phone = examination.DeviceAddress("android", "SERIAL")
        streams = folder.prepared.evidence  # listed while read, as a live Android phone is
        assert examination._may_begin(root, streams, None, folder.options)
        assert not examination._may_begin(phone, streams, None, folder.options)
    finally:
        folder.discard()


PROBE = """
import contextlib, io, json, sys
from safenet.engine import examination
real = examination.Early.begin
seen = []
def begin(self, work):
    seen.append("sqlalchemy" in sys.modules)
    return real(self, work)
examination.Early.begin = begin
from safenet.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps([code, seen, "sqlalchemy" in sys.modules]))
"""


def test_the_command_begins_examining_before_it_loads_the_case_database(
    tmp_path: Path, exhibit: tuple[Path, HashSetStore]
) -> None:
    root, store = exhibit
    argv = ["triage", str(root), "--case", str(tmp_path / "c"), "--exhibit", "EX1", "--hashdb", str(store.root)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv, "--hashset", "caid-test"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, [False], True]


def test_the_early_modules_load_no_case_database() -> None:
    code = "import sys\nimport safenet.engine.examination, safenet.console, safenet.commands.common\n"
    code += "print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False"]
