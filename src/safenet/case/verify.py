"""``safenet verify``: is the case what it was when written, and do the findings still hold?

1. The audit chain is intact from the first line to the last.
2. For each exhibit, the findings digest equals the one the last finished run wrote into the audit
   log (no finding added, removed or changed in the database since).
3. Every item with a finding is reopened from its locator and re-hashed; the digests must match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from safenet.case.integrity import findings_digest
from safenet.case.schema import Exhibit, Finding, ItemRow
from safenet.case.store import Case
from safenet.evidence.locator import Locator
from safenet.evidence.model import EvidenceError
from safenet.evidence.registry import open_locator, open_source

CHUNK = 1 << 20


@dataclass
class VerifyResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append("PROBLEM: " + text)


def _rehash(stream_digests: dict[str, str], stream: object) -> dict[str, str]:
    hashers = {k: hashlib.new(k) for k in stream_digests}
    read = stream.read  # type: ignore[attr-defined]
    while chunk := read(CHUNK):
        for h in hashers.values():
            h.update(chunk)
    return {k: h.hexdigest() for k, h in hashers.items()}


def verify_case(case: Case) -> VerifyResult:
    result = VerifyResult()
    check = case.audit.verify()
    if check.ok:
        result.lines.append(f"audit log: {check.entries} entries, chain intact")
    else:
        result.problem(f"audit log: {check.problem} (line {check.line})")
    finished = {}
    for entry in case.audit.entries():
        if entry.get("event") == "triage-finished":
            finished[entry["data"]["exhibit"]] = entry["data"].get("findings_sha256")
    with case.sessions() as s:
        exhibits = s.scalars(select(Exhibit).order_by(Exhibit.label)).all()
    for ex in exhibits:
        digest = findings_digest(case, ex.id)
        if finished.get(ex.label) != digest:
            result.problem(f"exhibit {ex.label}: findings in the database differ from those the audit log recorded")
        else:
            result.lines.append(f"exhibit {ex.label}: findings match the audit log")
        _rehash_exhibit(case, ex, result)
    case.audit.append("case-verified", ok=result.ok, problems=result.problems)
    return result


def _rehash_exhibit(case: Case, ex: Exhibit, result: VerifyResult) -> None:
    query = (
        select(ItemRow).where(ItemRow.exhibit_id == ex.id, ItemRow.id.in_(select(Finding.item_id))).order_by(ItemRow.id)
    )
    with case.sessions() as s:
        items = s.scalars(query).all()
    try:
        evidence = open_source(Path(ex.source))
    except EvidenceError as exc:
        result.problem(f"exhibit {ex.label}: evidence not available for re-hashing ({exc})")
        return
    good = 0
    for item in items:
        stored = {k: v for k, v in (("md5", item.md5), ("sha1", item.sha1), ("sha256", item.sha256)) if v}
        try:
            with open_locator(evidence, Locator.from_json(item.locator)) as stream:
                fresh = _rehash(stored, stream)
        except (OSError, EvidenceError) as exc:
            result.problem(f"{item.display}: cannot be reopened ({exc})")
            continue
        if fresh != stored:
            result.problem(f"{item.display}: digests differ from those recorded")
        else:
            good += 1
    result.lines.append(f"exhibit {ex.label}: {good} of {len(items)} matched items re-hashed identically")
