"""The tamper catalogue: ways to change a triaged and graded case folder that ``safenet verify`` must catch.

Each entry changes a copy of a case folder in place and names what verify's problem must mention. Used by
``tests/case/test_verify_tamper.py`` and ``bench/bench_hostile.py``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Tampering:
    name: str
    apply: Callable[[Path], None]
    expect: str  # a fragment of the problem verify must report


def _sql(case: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(case / "case.db") as conn:
        changed = conn.execute(statement, args).rowcount
    if changed < 1:
        raise AssertionError(f"tampering changed nothing: {statement}")


def _lines(case: Path) -> list[bytes]:
    return (case / "audit.jsonl").read_bytes().splitlines(keepends=True)


def _cut_last_lines(case: Path) -> None:
    lines = _lines(case)
    (case / "audit.jsonl").write_bytes(b"".join(lines[:-3]))


def _cut_and_drop_head(case: Path) -> None:
    _cut_last_lines(case)
    (case / "audit.head").unlink()


def _rechain(lines: list[bytes], start: int) -> list[bytes]:
    """Re-compute every 'prev' from line ``start`` on, as someone hiding an edit would."""
    out = list(lines[:start])
    prev = hashlib.sha256(out[-1].rstrip(b"\n")).hexdigest() if out else "0" * 64
    for raw in lines[start:]:
        record = json.loads(raw)
        record["prev"] = prev
        line = json.dumps(record, ensure_ascii=True, sort_keys=True, default=str).encode()
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    return out


def _edit_and_rechain(case: Path) -> None:
    """Change a grade in the database and in its audit line, then re-chain the log after it."""
    lines = _lines(case)
    at = next(i for i, raw in enumerate(lines) if json.loads(raw)["event"] == "item-graded")
    record = json.loads(lines[at])
    record["data"]["grade"] = "C" if record["data"]["grade"] != "C" else "B"
    lines[at] = json.dumps(record, ensure_ascii=True, sort_keys=True).encode() + b"\n"
    (case / "audit.jsonl").write_bytes(b"".join(_rechain(lines, at + 1) if at + 1 < len(lines) else lines))
    _sql(case, "UPDATE gradings SET grade = ? WHERE id = ?", record["data"]["grade"], record["data"]["row"])


def _rollback(case: Path) -> None:
    """Put back the head saved after the triage and cut the log to it (the grades after it disappear)."""
    head = json.loads((case / "audit.head.after-triage").read_text())
    lines = _lines(case)
    (case / "audit.jsonl").write_bytes(b"".join(lines[: head["seq"] + 1]))
    shutil.copy(case / "audit.head.after-triage", case / "audit.head")
    _sql(case, "DELETE FROM gradings")
    _sql(case, "UPDATE meta SET value = ? WHERE key = 'audit_head'", f"{head['seq']}:{head['sha256']}")


def _append_forged_grade(case: Path) -> None:
    """Add a grade to the database and a well-chained line for it to the end of the log (no signing key)."""
    lines = _lines(case)
    last = json.loads(lines[-1])
    with sqlite3.connect(case / "case.db") as conn:
        item = conn.execute("SELECT min(id) FROM items WHERE media_kind = 'image'").fetchone()[0]
        row = conn.execute(
            "INSERT INTO gradings (item_id, grade, examiner, at) "
            "VALUES (?, 'A', 'mallory', '2026-01-01 00:00:00.000000')",
            (item,),
        ).lastrowid
    record = {
        "seq": last["seq"] + 1,
        "ts": last["ts"],
        "tz": last["tz"],
        "event": "item-graded",
        "data": {"row": row, "item": item, "grade": "A", "examiner": "mallory", "at": "2026-01-01T00:00:00+00:00"},
        "prev": hashlib.sha256(lines[-1].rstrip(b"\n")).hexdigest(),
    }
    line = json.dumps(record, ensure_ascii=True, sort_keys=True).encode() + b"\n"
    (case / "audit.jsonl").write_bytes(b"".join(lines) + line)


def _forge_head(case: Path) -> None:
    head = json.loads((case / "audit.head").read_text())
    head["seq"] -= 2
    (case / "audit.head").write_text(json.dumps(head))


CATALOGUE: tuple[Tampering, ...] = (
    Tampering("cut the last audit lines", _cut_last_lines, "lines were removed from its end"),
    Tampering("cut the last audit lines and delete the head", _cut_and_drop_head, "head (audit.head) is missing"),
    Tampering("edit a line and re-chain the log", _edit_and_rechain, "re-chained"),
    Tampering("roll back the log and its head to an earlier copy", _rollback, "rolled back"),
    Tampering("edit the signed head", _forge_head, "signature of its head"),
    Tampering("add a grade with a well-chained log line", _append_forged_grade, "after its signed head"),
    Tampering("change a grade", lambda c: _sql(c, "UPDATE gradings SET grade = 'A' WHERE grade != 'A'"), "grade is A"),
    Tampering("change an examiner", lambda c: _sql(c, "UPDATE gradings SET examiner = 'mallory'"), "examiner is"),
    Tampering(
        "change who confirmed",
        lambda c: _sql(c, "UPDATE gradings SET confirmed_by = 'mallory' WHERE confirmed_by IS NOT NULL"),
        "confirmed_by is mallory",
    ),
    Tampering(
        "delete a grade", lambda c: _sql(c, "DELETE FROM gradings WHERE id = (SELECT max(id) FROM gradings)"), "deleted"
    ),
    Tampering("delete warnings", lambda c: _sql(c, "DELETE FROM warnings"), "warnings"),
    Tampering(
        "edit a non-finding item's digest",
        lambda c: _sql(
            c,
            "UPDATE items SET md5 = '00000000000000000000000000000000' WHERE id = "
            "(SELECT min(id) FROM items WHERE md5 IS NOT NULL AND id NOT IN (SELECT item_id FROM findings))",
        ),
        "items",
    ),
    Tampering("edit a run's status", lambda c: _sql(c, "UPDATE runs SET status = 'stopped-at-first-hit'"), "status is"),
    Tampering("edit an exhibit's source", lambda c: _sql(c, "UPDATE exhibits SET source = '/elsewhere'"), "exhibit"),
    Tampering(
        "delete a finding",
        lambda c: _sql(c, "DELETE FROM findings WHERE id = (SELECT max(id) FROM findings)"),
        "findings",
    ),
    Tampering("change a finding's category", lambda c: _sql(c, "UPDATE findings SET category = 'C'"), "findings"),
    Tampering(
        "add an item",
        lambda c: _sql(
            c,
            "INSERT INTO items (exhibit_id, run_id, locator, display, name, filetype, media_kind, status, "
            "time_zone_known, deleted, carved, extension_mismatch) "
            "SELECT exhibit_id, run_id, locator || ' ', display, name, filetype, media_kind, status, 1, 0, 0, 0 "
            "FROM items LIMIT 1",
        ),
        "not in the audit log",
    ),
    Tampering(
        "add a P2P record of known material",
        lambda c: _sql(
            c,
            "INSERT INTO p2p_records (exhibit_id, run_id, item_id, parser, client, artefact, entry_index, name, "
            "name_raw, hashes, zone_known, save_path, extra) "
            "SELECT exhibit_id, run_id, id, 'emule-known-met', 'emule', 'known.met', 0, 'x.jpg', '\"x.jpg\"', "
            "'{}', 1, '', '{}' FROM items LIMIT 1",
        ),
        "p2p_records rows of run",
    ),
)
