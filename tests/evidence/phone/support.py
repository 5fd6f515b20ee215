"""What the phone back-ends' tests share: listing a source with its warnings, reading every item of a damaged
one, and a triaged phone's items and warnings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.evidence.locator import Locator
from safenet.evidence.model import Evidence, EvidenceError, EvidenceWarning, Item


def listing(evidence: Evidence) -> tuple[list[Item], list[EvidenceWarning]]:
    """The items the back-end lists and the warnings it records while listing them."""
    warnings: list[EvidenceWarning] = []
    return list(evidence.items(warnings.append)), warnings


def read_every(evidence: Evidence, items: list[Item]) -> None:
    """Open and read each item whole: damage may fail an item as an EvidenceError (the engine records it as
    that item's read error), never as anything else."""
    for item in items:
        try:
            with evidence.open(item.locator) as stream:
                stream.read()
        except EvidenceError:
            pass


def rows_by_path(case: Case) -> dict[str, ItemRow]:
    """A phone triage's top-level items by their path on the phone (the locator's third layer)."""
    with case.sessions() as s:
        rows = s.execute(select(ItemRow).where(ItemRow.parent_id.is_(None))).scalars().all()
    return {Locator.from_json(r.locator).layers[2].value: r for r in rows}


def warnings_of(case: Case) -> list[WarningRow]:
    with case.sessions() as s:
        return list(s.execute(select(WarningRow)).scalars().all())


def one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    """A refused command's error output, asserted to be one line and no traceback: that line."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def listing_threads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Filled with each listing thread the engine starts from now on (the arguments it was started with)."""
    from safenet.engine import examination

    started: list[object] = []
    real = examination.Listing
    monkeypatch.setattr(examination, "Listing", lambda *a: started.append(a) or real(*a))
    return started
