from __future__ import annotations

import json
from pathlib import Path

from safenet.case.audit import GENESIS, AuditLog


def test_chain_appends_and_verifies(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    hashes = [log.append("event", n=i, name="x\ny") for i in range(5)]
    check = log.verify()
    assert check.ok and check.entries == 5 and check.last_hash == hashes[-1]
    entries = log.entries()
    assert entries[0]["prev"] == GENESIS and [e["seq"] for e in entries] == list(range(5))
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

    path.write_bytes(b"".join(original) + b"not json\n")
    assert log.verify().problem == "line is not valid JSON"


def test_missing_log_is_reported(tmp_path: Path) -> None:
    assert not AuditLog(tmp_path / "none.jsonl").verify().ok
