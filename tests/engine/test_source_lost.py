"""A source that goes away mid-run (SourceLost): one warning, run interrupted, --resume finishes it.

A back-end made up here (no adb needed): its files vanish after a set number of opens, or while it is
listed. Before SourceLost the pipeline recorded a read error for every remaining item (and a resume then
skipped them as done); tests/evidence/phone/test_android_live.py runs the same through the real adb server.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.engine import preparing as preparing_module
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.triage import RunStatus, TriageOptions, TriageOutcome, triage
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceDescription, Item, OpenContext, SourceLost, WarningSink
from safenet.evidence.registry import DeviceAddress
from tests.builders import jpeg

FILES = {f"/DCIM/IMG_{i:03d}.jpg": jpeg(i) for i in range(40)}


class Vanishing:
    """Serves FILES; after ``opens`` opens (or while listed, with ``lost_listing``) it is gone."""

    NAME: ClassVar[str] = "vanishing"

    def __init__(self) -> None:
        self.locator = Locator.source("test://phone")
        self.opens: int | None = None
        self.lost_listing = False
        self.opened = 0

    def describe(self) -> EvidenceDescription:
        return EvidenceDescription(self.NAME, "test://phone", "a source that goes away")

    def items(self, warn: WarningSink) -> Iterator[Item]:
        for i, (path, data) in enumerate(FILES.items()):
            if self.lost_listing and i == 5:
                raise SourceLost("the test source went away while listed", "device-disconnected")
            yield Item(self.locator.child(Layer(LayerKind.PATH, path)), path.rsplit("/", 1)[1], len(data))

    def open(self, locator: Locator) -> BinaryIO:
        self.opened += 1
        if self.opens is not None and self.opened > self.opens:
            raise SourceLost("the test source went away", "device-disconnected")
        return io.BytesIO(FILES[locator.leaf.value])


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> Vanishing:
    evidence = Vanishing()

    def opener(path: object, context: OpenContext | None = None) -> Vanishing:
        return evidence

    monkeypatch.setattr(preparing_module, "open_source", opener)
    return evidence


def run(case: Case, workers: int, resume: bool = False) -> TriageOutcome:
    executor = ExecutorKind.INLINE if workers == 1 else ExecutorKind.THREADS
    options = TriageOptions(exhibit="EX1", operator="tester", workers=workers, executor=executor, resume=resume)
    return triage(DeviceAddress("test", "phone"), case, None, options)


def recorded(case: Case) -> tuple[dict[str, ItemRow], list[str]]:
    with case.sessions() as s:  # type: ignore[attr-defined]
        items = s.execute(select(ItemRow)).scalars().all()
        codes = list(s.execute(select(WarningRow.code)).scalars().all())
    by_path = {Locator.from_json(r.locator).leaf.value: r for r in items}
    assert len(by_path) == len(items)  # no item recorded twice
    return by_path, codes


@pytest.mark.parametrize("workers", [1, 2])
def test_source_lost_mid_run_stops_once_and_resume_finishes(tmp_path: Path, source: Vanishing, workers: int) -> None:
    case = Case.create_or_open(tmp_path / "case")
    source.opens = 12
    first = run(case, workers)
    assert first.status is RunStatus.INTERRUPTED
    items, codes = recorded(case)
    assert codes == ["device-disconnected"]  # one warning for the source, none per item
    assert 0 < len(items) <= 12 and all(row.status == "examined" for row in items.values())
    source.opens = None  # back again
    second = run(case, workers, resume=True)
    assert second.status is RunStatus.COMPLETED
    items, codes = recorded(case)
    assert set(items) == set(FILES) and codes == ["device-disconnected"]
    assert all(items[p].md5 == hashlib.md5(d).hexdigest() for p, d in FILES.items())
    assert case.audit.verify().ok


def test_source_lost_while_listed_plans_nothing_and_resume_finishes(tmp_path: Path, source: Vanishing) -> None:
    case = Case.create_or_open(tmp_path / "case")
    source.lost_listing = True
    assert run(case, 2).status is RunStatus.INTERRUPTED
    assert recorded(case) == ({}, ["device-disconnected"])
    source.lost_listing = False
    assert run(case, 2, resume=True).status is RunStatus.COMPLETED
    assert set(recorded(case)[0]) == set(FILES)
