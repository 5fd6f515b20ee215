"""``lab.runner``: a coordinator working through many entries leaves no case open behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.lab.queue import LabQueue, State, Submission
from safenet.lab.runner import work_through
from tests.builders import write


def test_each_entrys_case_is_closed_when_it_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Case] = []
    closed: list[Case] = []
    create_or_open, close = Case.create_or_open, Case.close

    def tracked_open(path: Path, db: str | None = None) -> Case:
        case = create_or_open(path, db)
        opened.append(case)
        return case

    def tracked_close(self: Case) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Case, "create_or_open", staticmethod(tracked_open))
    monkeypatch.setattr(Case, "close", tracked_close)
    source = tmp_path / "exhibit"
    write(source, "notes.txt", b"hello")
    queue = LabQueue(tmp_path / "lab.db")
    entry = Submission(tmp_path / "case", "EX1", source, "standard")
    queue.submit([entry, entry])  # the second finds the exhibit already triaged
    ended = []
    assert work_through(queue, "tester", ended.append) == 2
    assert [(e.state, e.message.startswith("already triaged")) for e in ended] == [
        (State.DONE, False),
        (State.DONE, True),
    ]
    assert len(opened) == 2 and closed == opened
