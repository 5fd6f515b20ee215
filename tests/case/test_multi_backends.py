"""Several exhibits at once, each in a process of its own, into a case on SQLite and on PostgreSQL (conftest):
each process opens its own connections (none crosses the fork), and the case holds what runs one at a time hold."""

from __future__ import annotations

from pathlib import Path

from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.multi import triage_many
from safenet.engine.triage import triage
from tests.engine.multicases import Events, Exhibits, options, per_exhibit


def test_three_at_once_on_either_database(tmp_path: Path) -> None:
    exhibits = Exhibits(tmp_path)
    together = Case.create_or_open(tmp_path / "together")
    outcomes = triage_many(exhibits.sources, together, exhibits.store, options(), Events())
    assert [o.completed for o in outcomes] == [True, True, True]
    alone = Case.create_or_open(tmp_path / "alone")
    for label, source in exhibits.sources:
        triage(source, alone, exhibits.store, options(exhibit=label))
    assert per_exhibit(together) == per_exhibit(alone)
    result = verify_case(together)
    assert result.ok, result.problems
