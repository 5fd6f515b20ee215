"""Torrent checks on both case back-ends: recorded at the end of the run, read back through ``case.activity``,
audited as a batch, and a changed check row is found by ``verify`` (the exhibit: tests/engine/test_torrent_checks)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from safenet.case.activity import torrent_checks
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.triage import TriageOptions, triage
from tests.engine.test_torrent_checks import build_exhibit


def test_checks_are_recorded_audited_and_verified(tmp_path: Path) -> None:
    build_exhibit(tmp_path / "exhibit")
    case = Case.create_or_open(tmp_path / "case")
    triage(tmp_path / "exhibit", case, None, TriageOptions(exhibit="EX1", operator="tester"))
    checks = {c.name: (c.status, c.matched, c.mismatched, c.unavailable, c.pieces) for c in torrent_checks(case)}
    assert checks == {
        "album": ("complete", 4, 0, 0, 4),
        "holiday.jpg": ("complete", 3, 0, 0, 3),
        "beach.jpg": ("partial", 3, 1, 0, 4),
        "partly": ("partial", 2, 0, 2, 4),
        "dup.jpg": ("ambiguous", 0, 0, 2, 2),
    }
    assert [c.exhibit for c in torrent_checks(case, "EX1")] == ["EX1"] * 5 and torrent_checks(case, "EX2") == []
    result = verify_case(case)
    assert result.ok, result.problems
    assert any(line.startswith("torrent_checks: 5 rows in 1 batches") for line in result.lines), result.lines
    with case.sessions.begin() as s:
        s.execute(text("UPDATE torrent_checks SET matched = pieces, status = 'complete' WHERE status = 'partial'"))
    problems = verify_case(case).problems
    assert any(p.startswith("torrent_checks 1-5") and "edited" in p for p in problems), problems
