"""Several exhibits triaged at once (engine.multi): each exactly as if triaged alone, one failing never stops the
others, the audit log verifies, and one exhibit lost mid-run is resumed alone."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import pytest
from sqlalchemy import select

from safenet.case.schema import Exhibit, ItemRow, Run, WarningRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine import preparing as preparing_module
from safenet.engine.events import NoEvents, TriageEvents
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.multi import Failure, triage_many
from safenet.engine.triage import RunStatus, triage
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceDescription, Item, OpenContext, SourceLost, WarningSink
from safenet.evidence.registry import DeviceAddress, Source, open_source
from tests.builders import jpeg
from tests.engine.multicases import Events, Exhibits, options, per_exhibit

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def exhibits(tmp_path: Path) -> Exhibits:
    return Exhibits(tmp_path)


def test_three_at_once_record_what_three_runs_alone_record(tmp_path: Path, exhibits: Exhibits) -> None:
    together = Case.create_or_open(tmp_path / "together")
    events = Events()
    outcomes = triage_many(exhibits.sources, together, exhibits.store, options(), events)
    assert [o.label for o in outcomes] == ["EX1", "EX2", "EX3"]
    assert all(o.completed and o.failure is None for o in outcomes)
    assert sorted(o.label for o in events.done) == ["EX1", "EX2", "EX3"]  # a verdict each, as each finished
    alone = Case.create_or_open(tmp_path / "alone")
    for label, source in exhibits.sources:
        triage(source, alone, exhibits.store, options(exhibit=label))
    expected = per_exhibit(alone)
    assert per_exhibit(together) == expected
    assert all(expected[label][1] for label in ("EX1", "EX2", "EX3"))  # every exhibit has findings to compare
    hits = {o.label: o.outcome.hits for o in outcomes if o.outcome}
    assert hits == {label: len(found) for label, (_, found) in expected.items()}
    assert sum(hits.values()) == len(events.hits)
    assert {o.label: sum(o.categories.values()) for o in outcomes} == hits
    assert all(o.first_hit_s is not None and o.seize for o in outcomes)
    result = verify_case(together)
    assert result.ok, result.problems
    with together.sessions() as s:
        runs = s.scalars(select(Run)).all()
    assert len(runs) == 3 and {r.status for r in runs} == {"completed"}  # each exhibit its own run
    events_by_run: dict[str, list[str]] = {}
    for entry in together.audit.entries():
        if entry.get("event") in ("triage-started", "triage-finished"):
            events_by_run.setdefault(entry["data"]["exhibit"], []).append(entry["event"])
    assert events_by_run == {label: ["triage-started", "triage-finished"] for label in ("EX1", "EX2", "EX3")}


def test_a_missing_source_fails_alone_and_the_others_complete(tmp_path: Path, exhibits: Exhibits) -> None:
    case = Case.create_or_open(tmp_path / "case")
    sources = [exhibits.sources[0], ("EX9", tmp_path / "unplugged.E01"), exhibits.sources[1]]
    outcomes = triage_many(sources, case, exhibits.store, options(), Events())
    failed = outcomes[1]
    assert failed.failure is Failure.EVIDENCE and failed.outcome is None and failed.seize
    assert "does not exist" in (failed.reason or "")
    assert [o.completed for o in outcomes] == [True, False, True]
    assert sorted(per_exhibit(case)) == ["EX1", "EX2"]  # nothing recorded for the missing one
    assert verify_case(case).ok


def test_an_exhibit_already_triaged_is_refused_alone(tmp_path: Path, exhibits: Exhibits) -> None:
    case = Case.create_or_open(tmp_path / "case")
    triage(exhibits.sources[0][1], case, exhibits.store, options(exhibit="EX1"))
    outcomes = triage_many(exhibits.sources[:2], case, exhibits.store, options(), Events())
    assert outcomes[0].failure is Failure.CASE and "already triaged" in (outcomes[0].reason or "")
    assert outcomes[1].completed


# --- a phone that goes away mid-run (a made-up back-end, as in test_source_lost) -------------------------

PHONE = {f"/DCIM/IMG_{i:03d}.jpg": jpeg(500 + i) for i in range(30)}


class Vanishing:
    """Serves PHONE; after ``opens`` opens it is gone (unplugged)."""

    NAME: ClassVar[str] = "vanishing"

    def __init__(self) -> None:
        self.locator = Locator.source("test://phone")
        self.opens: int | None = None
        self.opened = 0

    def describe(self) -> EvidenceDescription:
        return EvidenceDescription(self.NAME, "test://phone", "a source that goes away")

    def items(self, warn: WarningSink) -> Iterator[Item]:
        for path, data in PHONE.items():
            yield Item(self.locator.child(Layer(LayerKind.PATH, path)), path.rsplit("/", 1)[1], len(data))

    def open(self, locator: Locator) -> BinaryIO:
        self.opened += 1
        if self.opens is not None and self.opened > self.opens:
            raise SourceLost("the test phone went away", "device-disconnected")
        return io.BytesIO(PHONE[locator.leaf.value])


@pytest.fixture
def phone(monkeypatch: pytest.MonkeyPatch) -> Vanishing:
    evidence = Vanishing()

    def opener(source: Source, context: OpenContext | None = None) -> object:
        return (
            evidence if isinstance(source, DeviceAddress) and source.scheme == "test" else open_source(source, context)
        )

    monkeypatch.setattr(preparing_module, "open_source", opener)
    return evidence


def test_a_phone_lost_mid_run_ends_alone_and_is_resumed_alone(
    tmp_path: Path, exhibits: Exhibits, phone: Vanishing
) -> None:
    case = Case.create_or_open(tmp_path / "case")
    phone.opens = 10
    sources = [exhibits.sources[0], ("PH1", DeviceAddress("test", "phone")), exhibits.sources[1]]
    threads = options(executor=ExecutorKind.THREADS)
    outcomes = triage_many(sources, case, exhibits.store, threads, Events())
    lost = outcomes[1]
    assert lost.failure is Failure.LOST and lost.outcome is not None
    assert lost.outcome.status is RunStatus.INTERRUPTED and lost.seize and not lost.completed
    assert outcomes[0].completed and outcomes[2].completed
    assert case.audit.verify().ok  # (verify_case would re-hash the made-up phone, which is not a device)
    phone.opens = None  # plugged in again: resume that exhibit alone
    again = triage_many([("PH1", DeviceAddress("test", "phone"))], case, exhibits.store, options(resume=True), Events())
    assert again[0].completed and again[0].outcome is not None
    assert again[0].outcome.status is RunStatus.COMPLETED
    with case.sessions() as s:
        ph1 = s.scalar(select(Exhibit.id).where(Exhibit.label == "PH1"))
        rows = s.scalars(select(ItemRow).where(ItemRow.exhibit_id == ph1)).all()
        codes = s.scalars(select(WarningRow.code).where(WarningRow.exhibit_id == ph1)).all()
    by_path = {Locator.from_json(r.locator).leaf.value: r for r in rows}
    assert len(by_path) == len(rows) == len(PHONE)  # none twice, none missing
    assert all(by_path[p].md5 == hashlib.md5(d).hexdigest() for p, d in PHONE.items())
    assert list(codes) == ["device-disconnected"]
    assert case.audit.verify().ok
    # the other exhibits were not touched by the resume
    assert sorted(per_exhibit(case)) == ["EX1", "EX2", "PH1"]


class Slow(Vanishing):
    """Serves PHONE slowly (a USB 2 phone): a run of it is still going when Ctrl-C comes."""

    def open(self, locator: Locator) -> BinaryIO:
        time.sleep(0.05)
        return super().open(locator)


class PressCtrlC(Events):
    """Presses Ctrl-C (SIGINT to the command's process alone) when the first exhibit says what it plans."""

    def exhibit(self, label: str) -> TriageEvents:
        class One(NoEvents):
            def planned(self, items: int, total_bytes: int) -> None:
                os.kill(os.getpid(), signal.SIGINT)

        return One()


def test_ctrl_c_closes_every_run_and_is_raised_again(
    tmp_path: Path, exhibits: Exhibits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C sent to the command's process reaches every exhibit's: each run ends (interrupted, or completed if it
    was done), none is left running, the log verifies, and the interrupt is raised again once all have ended."""
    evidence = Slow()
    monkeypatch.setattr(preparing_module, "open_source", lambda source, context=None: evidence)
    case = Case.create_or_open(tmp_path / "case")
    sources = [("PH1", DeviceAddress("test", "one")), ("PH2", DeviceAddress("test", "two"))]
    with pytest.raises(KeyboardInterrupt):
        triage_many(sources, case, exhibits.store, options(), PressCtrlC())
    with case.sessions() as s:
        statuses = s.scalars(select(Run.status)).all()
    assert sorted(statuses) == ["interrupted", "interrupted"]  # 30 slow opens each: neither was done
    assert case.audit.verify().ok
    again = triage_many(sources, case, exhibits.store, options(resume=True), Events())
    assert [o.outcome.status if o.outcome else None for o in again] == [RunStatus.COMPLETED, RunStatus.COMPLETED]


class Crashing(Vanishing):
    """A back-end whose native code kills its process on the fifth file (as a crashing decoder would)."""

    def open(self, locator: Locator) -> BinaryIO:
        self.opened += 1
        if self.opened == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return io.BytesIO(PHONE[locator.leaf.value])


def test_an_exhibit_whose_process_dies_fails_alone(
    tmp_path: Path, exhibits: Exhibits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its outcome says so (and that --resume finishes it); the others complete and the log verifies."""
    crashing = Crashing()

    def opener(source: Source, context: OpenContext | None = None) -> object:
        return crashing if isinstance(source, DeviceAddress) else open_source(source, context)

    monkeypatch.setattr(preparing_module, "open_source", opener)
    case = Case.create_or_open(tmp_path / "case")
    sources = [exhibits.sources[0], ("PH1", DeviceAddress("test", "phone")), exhibits.sources[1]]
    events = Events()
    outcomes = triage_many(sources, case, exhibits.store, options(executor=ExecutorKind.INLINE), events)
    died = outcomes[1]
    assert died.failure is Failure.INTERNAL and died.outcome is None and died.seize
    assert died.reason == "its process was killed by signal 9 before the exhibit was finished; --resume finishes it"
    assert outcomes[0].completed and outcomes[2].completed
    assert sorted(o.label for o in events.done) == ["EX1", "EX2", "PH1"]
    assert case.audit.verify().ok
