"""A crash (SIGKILL, power cut) at any moment of an audit write leaves no line without a signature: the head of
new lines is signed and on disk before the lines are written, so a cut between the lines and the head's
replacement is finished by the next writer or by verify, and a cut before the lines is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.case.audit import AuditLog
from safenet.case.store import Case
from safenet.case.verify import verify_case


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs."""


def _case(tmp_path: Path) -> Case:
    case = Case.create_or_open(tmp_path / "case")
    case.audit.append("test-event", n=1)
    return case


def test_a_cut_after_the_lines_is_finished_by_the_next_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(tmp_path)
    real = AuditLog._promote

    def die(self: AuditLog, head: object) -> None:
        raise Killed

    monkeypatch.setattr(AuditLog, "_promote", die)
    with pytest.raises(Killed):
        case.audit.append("test-event", n=2)  # its line is written; the head still names the line before
    monkeypatch.setattr(AuditLog, "_promote", real)
    assert case.audit.next_head_path.exists()
    case.audit.append("test-event", n=3)  # the next writer finishes the cut write, no gap named
    result = verify_case(case)
    assert result.ok, result.problems
    assert not case.audit.next_head_path.exists()
    events = [e["event"] for e in case.audit.read().entries]
    assert "unsigned-lines" not in events and events.count("test-event") == 3


def test_a_cut_after_the_lines_is_finished_by_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(tmp_path)
    monkeypatch.setattr(AuditLog, "_promote", lambda self, head: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        case.audit.append("test-event", n=2)
    monkeypatch.undo()
    result = verify_case(case)
    assert result.ok, result.problems


def test_a_cut_before_the_lines_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(tmp_path)
    before = case.audit.path.read_bytes()
    import os

    real_write = os.write

    def die_on_log(fd: int, data: bytes | memoryview) -> int:
        if os.path.realpath(f"/proc/self/fd/{fd}") == str(case.audit.path.resolve()):
            raise Killed
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", die_on_log)
    with pytest.raises(Killed):
        case.audit.append("test-event", n=2)  # the pending head is on disk; no line was written
    monkeypatch.undo()
    assert case.audit.next_head_path.exists() and case.audit.path.read_bytes() == before
    result = verify_case(case)
    assert result.ok, result.problems
    assert not case.audit.next_head_path.exists()
