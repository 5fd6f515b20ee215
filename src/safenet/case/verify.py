"""``safenet verify``: is the case what it was when written, and do the findings still hold?

The audit log is the record; the database must be what the log says it is.

1. The audit chain is intact from the first line to the last; a line torn by a power cut is named.
2. The log's end matches its signed head (``audit.head``, Ed25519, this or another installation's key) and
   the copy of the head in the database: lines cut from the end, or a log edited and re-chained, show here.
3. Every row a report prints is re-derived from the log and compared with the database: exhibits and runs
   (each change writes the row into the log), items, findings and warnings, and P2P records, their findings
   and search terms (each recorded batch's rows are digested into one log line, ``integrity.BATCHED_TABLES``),
   gradings (each grade and confirmation is one log line), examiner-entered case fields (each is one log line
   holding the row).
4. For each exhibit, the findings digest equals the one its last finished run wrote into the log.
5. Every item with a finding, and every P2P artefact holding a record with one, is reopened from its locator
   and re-hashed; the digests must match.

An interrupted or still-running run, and an item that cannot be re-read through a container the triage
already recorded as damaged, are notes, not problems: neither is a sign of tampering.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy import text as sql

from safenet.case.audit import GAP_EVENT, KEY_EVENT, AuditRead
from safenet.case.casefields import FIELD_EVENT, field_rows
from safenet.case.integrity import BATCH_EVENT, BATCHED_TABLES, findings_digest, max_id, rows_digest
from safenet.case.migrations import UPGRADE_EVENT
from safenet.case.schema import Exhibit, Finding, GradingRow, ItemRow, P2PFindingRow, P2PRecordRow, WarningRow
from safenet.case.signing import Signer, SigningKeyError, fingerprint
from safenet.case.store import Case, row_facts
from safenet.evidence.locator import Locator
from safenet.evidence.model import EvidenceError, OpenContext
from safenet.evidence.phone.ios_fullbackup import reopen_context
from safenet.evidence.registry import as_source, open_locator, open_source

CHUNK = 1 << 20
UNFINISHED = ("running", "interrupted")


@dataclass
class VerifyResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append("PROBLEM: " + text)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.lines.append("note: " + text)


@dataclass(frozen=True, slots=True)
class _Span:
    table: str
    after: int
    upto: int
    count: int
    sha256: str
    line: int
    run: int | None
    recovered: bool
    without: frozenset[str] = frozenset()  # columns an upgrade added after this batch was digested


@dataclass
class _Log:
    """What the audit log says the database holds."""

    exhibits: dict[int, tuple[dict[str, Any], int]] = field(default_factory=dict)  # id -> (row, line)
    runs: dict[int, tuple[dict[str, Any], int]] = field(default_factory=dict)
    case_fields: dict[int, tuple[dict[str, Any], int]] = field(default_factory=dict)
    spans: list[_Span] = field(default_factory=list)
    gradings: dict[int, dict[str, Any]] = field(default_factory=dict)  # row id -> fields
    ungraded_lines: int = 0  # grading lines written before they carried row ids
    finished: dict[str, str | None] = field(default_factory=dict)  # exhibit label -> findings digest
    finished_runs: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, read: AuditRead) -> _Log:
        log = cls()
        for entry, line in zip(read.entries, read.lines, strict=True):
            event, data = entry.get("event"), entry.get("data") or {}
            if event == "exhibit-row":
                log.exhibits[int(data["row"]["id"])] = (data["row"], line)
            elif event == "run-row":
                log.runs[int(data["row"]["id"])] = (data["row"], line)
            elif event == FIELD_EVENT:
                log.case_fields[int(data["row"]["id"])] = (data["row"], line)
            elif event == BATCH_EVENT:
                for table in BATCHED_TABLES:
                    if span := data.get(table):
                        after, upto, count, sha = span
                        run = data.get("run")
                        recovered = bool(data.get("recovered"))
                        log.spans.append(_Span(table, after, upto, count, sha, line, run, recovered))
            elif event == UPGRADE_EVENT:  # batches digested before it lacked the columns it added
                added = {table: frozenset(names) for table, names in (data.get("columns_added") or {}).items()}
                log.spans = [
                    replace(span, without=span.without | added.get(span.table, frozenset())) for span in log.spans
                ]
            elif event == "triage-finished":
                log.finished[data["exhibit"]] = data.get("findings_sha256")
                log.finished_runs.add(int(data["run"]))
            elif event in ("item-graded", "grading-confirmed"):
                log._grading(event, data)
        return log

    def _grading(self, event: str, data: dict[str, Any]) -> None:
        if "row" not in data:
            self.ungraded_lines += 1
            return
        if event == "item-graded":
            self.gradings[int(data["row"])] = {
                "item_id": data["item"],
                "grade": data["grade"],
                "examiner": data["examiner"],
                "at": data.get("at"),
                "confirmed_by": data.get("confirmed_by"),
                "confirmed_at": data.get("confirmed_at"),
            }
        else:
            row = self.gradings.setdefault(int(data["row"]), {"item_id": data["item"]})
            row["confirmed_by"] = data.get("confirmed_by")
            row["confirmed_at"] = data.get("confirmed_at")


def verify_case(case: Case, context: OpenContext | None = None) -> VerifyResult:
    """Check the audit chain, the case against its log, and re-hash every finding from the evidence
    (``context``: the credentials of encrypted sources, which are never recorded, so verify must be given them)."""
    result = VerifyResult()
    case.audit.settle()  # a write cut short after its lines, before its head: finish it (its head was signed first)
    read = case.audit.read()
    _check_chain(read, result)
    _check_head(case, read, result)
    log = _Log.of(read)
    unfinished = _check_runs(case, log, result)
    _check_rows(case.exhibits(), log.exhibits, "exhibit", result)
    _check_rows(field_rows(case), log.case_fields, "case field", result)
    if log.case_fields:
        result.lines.append(f"case fields: {len(log.case_fields)} entered values checked against the audit log")
    _check_batches(case, log, unfinished, result)
    _check_gradings(case, log, result)
    with case.sessions() as s:
        exhibits = s.scalars(select(Exhibit).order_by(Exhibit.label)).all()
    for ex in exhibits:
        last = case.last_run(ex.id)
        digest = findings_digest(case, ex.id)
        if last is not None and last.status in UNFINISHED:
            pass  # its batches were checked above; the run's closing digest is not written yet
        elif last is not None and last.id not in log.finished_runs:
            result.note(
                f"exhibit {ex.label}: the closing audit line of run {last.id} is missing (stopped as it ended); "
                "its recorded batches were checked above"
            )
        elif log.finished.get(ex.label) != digest:
            result.problem(f"exhibit {ex.label}: findings in the database differ from those the audit log recorded")
        else:
            result.lines.append(f"exhibit {ex.label}: findings match the audit log")
        _rehash_exhibit(case, ex, result, context)
    if read.torn is None:
        case.audit.append("case-verified", ok=result.ok, problems=result.problems)
    else:
        result.note("this verification is not written into the audit log until its torn tail is repaired")
    return result


# -- the log itself --------------------------------------------------------------------------------------
def _check_chain(read: AuditRead, result: VerifyResult) -> None:
    for line, text in read.problems:
        result.problem(f"audit log: {text}" + (f" (line {line})" if line else ""))
    for text in read.notes:
        result.note(f"audit log: {text}")
    if read.torn is not None:
        result.note(
            f"audit log: line {read.torn.line} is torn ({read.torn.size} bytes of an interrupted write, e.g. a "
            "power cut); `safenet triage --resume` repairs it by appending"
        )
    if not read.problems:
        result.lines.append(f"audit log: {len(read.entries)} entries, chain intact")


def _check_head(case: Case, read: AuditRead, result: VerifyResult) -> None:
    if not read.entries:
        return
    by_seq = {int(e["seq"]): i for i, e in enumerate(read.entries) if isinstance(e.get("seq"), int)}
    last_seq = int(read.entries[-1].get("seq", -1))
    head = case.audit.read_head()
    if head is None:
        result.problem("audit log: its signed head (audit.head) is missing or unreadable: lines may have been cut")
        return
    if not head.valid():
        result.problem("audit log: the signature of its head (audit.head) does not verify: the head was edited")
    if head.genesis != read.first_hash:
        result.problem("audit log: its first line is not the one the signed head names: the log was replaced")
    if head.seq > last_seq:
        result.problem(
            f"audit log: the signed head names record {head.seq} but the log ends at record {last_seq}: "
            "lines were removed from its end"
        )
    elif head.seq not in by_seq or read.hashes[by_seq[head.seq]] != head.sha256:
        result.problem(
            f"audit log: record {head.seq} is not the one its head signed: the log was edited and re-chained"
        )
    else:
        _check_unsigned(read, by_seq[head.seq], result)
    introduced = {
        e["data"].get("public_key") for e in read.entries[: by_seq.get(head.seq, 0) + 1] if e.get("event") == KEY_EVENT
    }
    if head.key not in introduced:
        result.problem("audit log: the key that signed its head is not recorded in the log")
    try:
        mine = Signer.for_installation().public_hex == head.key
    except SigningKeyError:
        mine = False
    whose = "this installation's key" if mine else "another installation's key: compare it with that installation's"
    result.lines.append(f"audit log: head signed by key {fingerprint(head.key)} ({whose})")
    remembered = case.audit.registered_head(read.first_hash)
    if remembered is None:
        result.lines.append("audit log: this installation has not written to this case")
    elif (
        remembered.seq > last_seq
        or remembered.seq not in by_seq
        or read.hashes[by_seq[remembered.seq]] != remembered.sha256
    ):
        result.problem(
            f"audit log: record {remembered.seq}, as this installation last signed it, is not in the log: the log "
            "was cut, rolled back or re-chained since"
        )
    kept = case.db_head()
    if kept is not None:
        seq, sha = kept
        if seq > last_seq or seq not in by_seq or read.hashes[by_seq[seq]] != sha:
            result.problem(
                f"audit log: the database's copy of the head names record {seq}, which the log does not hold as "
                "written: lines were removed or the log was rewritten"
            )


def _check_unsigned(read: AuditRead, head_index: int, result: VerifyResult) -> None:
    """Lines no head ever signed: after the signed head, or named by a later ``unsigned-lines`` line.

    Always a problem: a write interrupted between the line and its head is possible but takes a crash in a
    window of microseconds, while lines added by hand look exactly like this. A later writer naming the gap
    does not make it acceptable (that writer only saw it).
    """
    named: list[tuple[int, int, int]] = []  # (from, to, line)
    for entry, line in zip(read.entries, read.lines, strict=True):
        if entry.get("event") == GAP_EVENT:
            named.append((int(entry["data"]["from"]), int(entry["data"]["to"]), line))
    for first, last, line in named:
        result.problem(
            f"audit log: records {first}-{last} were never signed (named at line {line}): added by hand, or a "
            "write interrupted between a line and its signature"
        )
    tail = read.entries[head_index + 1 :]
    if tail:
        events = ", ".join(sorted({str(e.get("event")) for e in tail}))
        result.problem(
            f"audit log: {len(tail)} line(s) from line {read.lines[head_index + 1]} ({events}) come after its "
            "signed head: added after the last signed write"
        )


# -- the database against the log -------------------------------------------------------------------------
def _check_rows(
    rows: Iterable[Any], recorded: dict[int, tuple[dict[str, Any], int]], kind: str, result: VerifyResult
) -> None:
    seen: set[int] = set()
    for row in rows:
        seen.add(row.id)
        facts = json.loads(json.dumps(row_facts(row), default=str))
        logged = recorded.get(row.id)
        if logged is None:
            result.problem(f"{kind} {row.id}: in the database but not in the audit log (added afterwards)")
            continue
        diff = [
            f"{k} is {facts.get(k)!r}, the log says {logged[0].get(k)!r}"
            for k in sorted(set(facts) | set(logged[0]))
            if facts.get(k) != logged[0].get(k)
        ]
        if diff:
            result.problem(f"{kind} {row.id} (audit line {logged[1]}): " + "; ".join(diff))
    for missing in sorted(set(recorded) - seen):
        result.problem(
            f"{kind} {missing}: recorded in the audit log (line {recorded[missing][1]}) but not in the database"
        )


def _check_runs(case: Case, log: _Log, result: VerifyResult) -> set[int]:
    runs = case.runs()
    _check_rows(runs, log.runs, "run", result)
    unfinished = {run.id for run in runs if run.status in UNFINISHED}
    busy = bool(unfinished) and case.lock_held()
    for run in runs:
        if run.id not in unfinished:
            continue
        if busy and run.status == "running":
            result.note(f"run {run.id} is still running (the case is in use); verify again when it ends")
        else:
            result.note(
                f"run {run.id} was interrupted and not finished; `safenet triage --resume` finishes it "
                "(what it recorded is checked here)"
            )
    if runs:
        result.lines.append(f"runs: {len(runs)} checked against the audit log")
    return unfinished


def _check_batches(case: Case, log: _Log, unfinished: set[int], result: VerifyResult) -> None:
    with case.sessions() as s:
        conn = s.connection()
        for table in BATCHED_TABLES:
            spans = [span for span in log.spans if span.table == table]
            matched = 0
            for span in spans:
                read = rows_digest(conn, table, span.after, span.upto, span.without)
                count = read.count
                if read.changed is not None or (count, read.sha256) != (span.count, span.sha256):
                    what = read.changed or (
                        f"one or more of its {count} rows were edited"
                        if count == span.count
                        else f"the database holds {count} rows where the log recorded {span.count} (deleted or added)"
                    )
                    result.problem(
                        f"{table} {span.after + 1}-{span.upto} (run {span.run}, audit line {span.line}) differ from "
                        f"what the audit log recorded: {what}"
                    )
                else:
                    matched += count
                if span.recovered:
                    result.note(
                        f"{table} {span.after + 1}-{span.upto} were recorded by an interrupted run and audited "
                        f"later (line {span.line})"
                    )
            top = max((span.upto for span in spans), default=0)
            _check_beyond(conn, table, top, unfinished, result)
            total = int(conn.execute(sql(f"SELECT count(*) FROM {table} WHERE id <= :top"), {"top": top}).scalar_one())
            if total != sum(span.count for span in spans):
                result.problem(
                    f"{table}: rows among the recorded ones are not in any recorded batch (added afterwards)"
                )
            result.lines.append(f"{table}: {matched:,} rows in {len(spans):,} batches match the audit log")
            if max_id(conn, table) < top:
                result.problem(f"{table}: the last rows the audit log recorded are missing from the database")


def _check_beyond(conn: Any, table: str, top: int, unfinished: set[int], result: VerifyResult) -> None:
    rows = conn.execute(
        sql(f"SELECT run_id, count(*) FROM {table} WHERE id > :top GROUP BY run_id ORDER BY run_id"), {"top": top}
    ).all()
    for run_id, count in rows:
        if run_id in unfinished:
            result.note(
                f"{count} {table} rows of interrupted run {run_id} were committed just before it stopped and are not "
                "in the audit log yet; `safenet triage --resume` audits them"
            )
        else:
            result.problem(f"{count} {table} rows of run {run_id} are not in the audit log (added afterwards)")


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _check_gradings(case: Case, log: _Log, result: VerifyResult) -> None:
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).order_by(GradingRow.id)).all()
    seen: set[int] = set()
    for row in rows:
        seen.add(row.id)
        logged = log.gradings.get(row.id)
        if logged is None:
            result.problem(f"grading {row.id} (item {row.item_id}): in the database but not in the audit log")
            continue
        actual = {
            "item_id": row.item_id,
            "grade": row.grade,
            "examiner": row.examiner,
            "at": row.at,
            "confirmed_by": row.confirmed_by,
            "confirmed_at": row.confirmed_at,
        }
        diff = []
        for key, value in actual.items():
            said = logged.get(key)
            same = _time(value) == _time(said) if key in ("at", "confirmed_at") else value == said
            if not same:
                diff.append(f"{key} is {value!s}, the log says {said!s}")
        if diff:
            result.problem(f"grading {row.id} (item {row.item_id}): " + "; ".join(diff))
    for missing in sorted(set(log.gradings) - seen):
        result.problem(f"grading {missing}: recorded in the audit log but not in the database (deleted)")
    if log.ungraded_lines:
        result.note(f"{log.ungraded_lines} grading line(s) predate row ids in the log and cannot be re-derived")
    if rows or log.gradings:
        result.lines.append(f"gradings: {len(rows):,} rows checked against the audit log")


# -- the evidence -------------------------------------------------------------------------------------------
def _rehash(stream_digests: dict[str, str], stream: object, size: int | None) -> tuple[dict[str, str], bool]:
    """Digests of the item's recorded ``size`` bytes (all of it when no size was recorded), and whether the
    stream holds more: a live file that grew since triage is read to its recorded size, never without end
    (a triage that saw a file grow recorded the digests of its listed size, so they still compare)."""
    hashers = {k: hashlib.new(k) for k in stream_digests}
    read = stream.read  # type: ignore[attr-defined]
    left = size
    while left is None or left > 0:
        chunk = read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            break
        for h in hashers.values():
            h.update(chunk)
        if left is not None:
            left -= len(chunk)
    grew = size is not None and left == 0 and bool(read(1))
    return {k: h.hexdigest() for k, h in hashers.items()}, grew


def _damaged_containers(case: Case, exhibit_id: int) -> dict[str, str]:
    """Locators (JSON) the triage recorded a warning for, with the warning's code."""
    with case.sessions() as s:
        rows = s.execute(
            select(WarningRow.locator, WarningRow.code).where(
                WarningRow.exhibit_id == exhibit_id, WarningRow.locator.is_not(None)
            )
        ).all()
    return {str(loc): code for loc, code in rows}


def _warned_ancestor(case: Case, item: ItemRow, warned: dict[str, str]) -> str | None:
    """The code of a warning recorded at triage for the item or a container above it, else None."""
    current: ItemRow | None = item
    with case.sessions() as s:
        while current is not None:
            if current.locator in warned:
                return warned[current.locator]
            current = s.get(ItemRow, current.parent_id) if current.parent_id is not None else None
    return None


def _rehash_exhibit(case: Case, ex: Exhibit, result: VerifyResult, context: OpenContext | None = None) -> None:
    # the P2P artefacts holding records of a hash set's material are evidence of their own: re-hashed too
    artefacts = select(P2PRecordRow.item_id).join(P2PFindingRow, P2PFindingRow.record_id == P2PRecordRow.id)
    matched = or_(ItemRow.id.in_(select(Finding.item_id)), ItemRow.id.in_(artefacts))
    query = select(ItemRow).where(ItemRow.exhibit_id == ex.id, matched).order_by(ItemRow.id)
    with case.sessions() as s:
        items = s.scalars(query).all()
    try:
        evidence = open_source(as_source(ex.source), reopen_context(case.path, ex.label, ex.source, context))
    except EvidenceError as exc:
        result.problem(f"exhibit {ex.label}: evidence not available for re-hashing ({exc})")
        return
    warned = _damaged_containers(case, ex.id)
    good = limited = 0
    for item in items:
        stored = {k: v for k, v in (("md5", item.md5), ("sha1", item.sha1), ("sha256", item.sha256)) if v}
        try:
            with open_locator(evidence, Locator.from_json(item.locator)) as stream:
                fresh, grew = _rehash(stored, stream, item.size)
        except (OSError, EvidenceError) as exc:
            code = _warned_ancestor(case, item, warned)
            if code is None:
                result.problem(f"{item.display}: cannot be reopened ({exc})")
            else:
                limited += 1
                result.note(
                    f"{item.display}: cannot be re-read through a container the triage recorded as damaged "
                    f"({code}); a stated limit of re-hashing, not a sign of tampering"
                )
            continue
        if fresh != stored:
            result.problem(f"{item.display}: digests differ from those recorded")
            continue
        good += 1
        if grew:
            result.note(
                f"{item.display}: the file is now longer than the {item.size} bytes recorded (the evidence is a live "
                "source that changed after triage); those bytes re-hash identically, the rest was not read"
            )
    extra = f" ({limited} could not be re-read through damaged containers)" if limited else ""
    result.lines.append(f"exhibit {ex.label}: {good} of {len(items)} matched items re-hashed identically{extra}")
