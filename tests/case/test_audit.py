from __future__ import annotations

import json
from pathlib import Path

import pytest

from safenet.case.audit import GAP_EVENT, GENESIS, TORN_EVENT, AuditLog, AuditTornError, Head


def test_chain_appends_and_verifies(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    hashes = [log.append("event", n=i, name="x\ny") for i in range(5)]
    check = log.verify()
    assert check.ok and check.entries == 6 and check.last_hash == hashes[-1]  # the key line, then 5 events
    entries = log.entries()
    assert entries[0]["event"] == "audit-key" and entries[1]["data"] == {"n": 0, "name": "x\ny"}
    assert entries[0]["prev"] == GENESIS and [e["seq"] for e in entries] == list(range(6))
    assert entries[0]["ts"].endswith("+00:00")


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    AuditLog(tmp_path / "a.jsonl").append("one")
    AuditLog(tmp_path / "a.jsonl").append("two")
    assert AuditLog(tmp_path / "a.jsonl").verify().ok


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_edit_remove_and_reorder_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(4):
        log.append("e", n=i)
    original = _lines(path)

    record = json.loads(original[1])
    record["data"]["n"] = 99
    path.write_bytes(original[0] + json.dumps(record, sort_keys=True).encode() + b"\n" + b"".join(original[2:]))
    check = log.verify()
    assert not check.ok and check.line == 3  # the line after the edited one no longer links

    path.write_bytes(b"".join(original[:1] + original[2:]))
    assert not log.verify().ok

    path.write_bytes(b"".join([original[0], original[2], original[1], original[3]]))
    assert not log.verify().ok

    path.write_bytes(b"".join(original[:2]) + b"not json\n" + b"".join(original[2:]))
    assert log.verify().problem == "line is not a valid record"


def test_missing_log_is_reported(tmp_path: Path) -> None:
    assert not AuditLog(tmp_path / "none.jsonl").verify().ok


def test_the_head_is_signed_and_names_the_last_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    last = [log.append("e", n=i) for i in range(3)][-1]
    head = log.read_head()
    assert head is not None and head.valid() and head.seq == 3 and head.sha256 == last
    assert head.genesis == log.read().first_hash
    assert (tmp_path / "audit.head").stat().st_mode & 0o077 == 0
    assert (tmp_path / "audit-key.pem").stat().st_mode & 0o077 == 0  # SAFENET_AUDIT_KEY (conftest)
    assert not Head(head.seq, GENESIS, head.genesis, head.key, head.signature).valid()
    assert not Head(head.seq - 1, head.sha256, head.genesis, head.key, head.signature).valid()


def test_a_torn_tail_is_reported_refused_and_repaired_by_appending(tmp_path: Path) -> None:
    """Issue 19.9: a power cut mid-line made every reader fail with JSONDecodeError."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(3):
        log.append("e", n=i)
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"data": {"n": 3}, "ev')  # the write of a fourth line was cut short
    read = log.read()
    assert not read.problems and read.torn is not None and read.torn.line == 5 and len(read.entries) == 4
    assert log.verify().ok
    with pytest.raises(AuditTornError, match=r"incomplete line.*--resume"):
        log.append("later")
    with pytest.raises(AuditTornError):
        log.check_writable()
    assert log.repair() and not log.repair()
    assert path.read_bytes().startswith(intact + b'{"data": {"n": 3}, "ev\n')  # never rewritten
    log.append("later")
    read = log.read()
    assert read.torn is None and not read.problems and "torn by an interrupted write" in read.notes[0]
    assert [e["event"] for e in read.entries][-3:] == [TORN_EVENT, "audit-repaired", "later"]
    head = log.read_head()
    assert head is not None and head.sha256 == read.last_hash


def test_a_complete_last_line_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("one")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    log.append("two")
    assert log.verify().ok and [e["event"] for e in log.entries()] == ["audit-key", "one", "two"]


def test_lines_after_the_signed_head_are_named_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("one")
    saved = (tmp_path / "audit.head").read_bytes()
    log.append("two")
    (tmp_path / "audit.head").write_bytes(saved)  # as if the process died before signing "two"
    log.append("three")
    gap = [e for e in log.entries() if e["event"] == GAP_EVENT]
    assert gap and gap[0]["data"] == {"from": 2, "to": 2}
