"""What the operation reads from a case about one exhibit: the on-scene verdict, and where a hash is.

The operation database stores only a link (case folder + exhibit label); these answers are read from the
case each time, so they are always what the case itself says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from safenet.case.activity import p2p_records
from safenet.case.integrity import BATCH_EVENT
from safenet.case.queries import hit_findings
from safenet.case.schema import Exhibit, ItemRow
from safenet.case.store import Case, CaseError
from safenet.case.verdict import is_hit

SEVERITY = ("A", "B", "C")  # an item matched in several categories counts once, in its most severe
ITEM_HASHES = {"md5": ItemRow.md5, "sha1": ItemRow.sha1, "sha256": ItemRow.sha256, "ed2k": ItemRow.ed2k}


@dataclass(frozen=True, slots=True)
class ExhibitVerdict:
    """What the triage of one exhibit found, read from its case (the on-scene verdict a visit shows)."""

    hits: bool
    counts: dict[str, int]  # hit items by category (A, B, C, uncategorised ...)
    time_to_first_hit: timedelta | None  # the run's start to the recording of the first hit (batch time)
    runs: int
    status: str  # the last run's status (completed, stopped ...; "unreadable" with ``problem``)
    problem: str | None = None  # the case could not be read: one sentence (the visit is shown all the same)


@dataclass(frozen=True, slots=True)
class HashFound:
    kind: str  # "file" | "p2p-record"
    locator_display: str


def exhibit_row(case: Case, label: str) -> Exhibit:
    with case.sessions() as s:
        row = s.scalar(select(Exhibit).where(Exhibit.label == label))
    if row is None:
        raise CaseError(f"case {case.path} has no exhibit {label}")
    return row


def exhibit_verdict(case: Case, label: str) -> ExhibitVerdict:
    exhibit = exhibit_row(case, label)
    runs = [run for run in case.runs() if run.exhibit_id == exhibit.id]
    per_item: dict[int, set[str]] = {}
    for item_id, _deleted, _carved, _media, set_kind, category, _match in hit_findings(case, exhibit.id):
        if is_hit(set_kind, category):
            per_item.setdefault(item_id, set()).add(category)
    counts: dict[str, int] = {}
    for categories in per_item.values():
        worst = next((c for c in SEVERITY if c in categories), sorted(categories)[0])
        counts[worst] = counts.get(worst, 0) + 1
    return ExhibitVerdict(
        hits=bool(per_item),
        counts=dict(sorted(counts.items())),
        time_to_first_hit=_time_to_first_hit(case, exhibit.id, set(per_item), runs[0].started_at if runs else None),
        runs=len(runs),
        status=runs[-1].status if runs else "not triaged",
    )


def _time_to_first_hit(case: Case, exhibit_id: int, hit_items: set[int], started: datetime | None) -> timedelta | None:
    """From the first run's start to the audit line of the batch that recorded the first hit item."""
    if not hit_items or started is None:
        return None
    first = min(hit_items)
    for entry in case.audit.entries():
        data = entry.get("data", {})
        if entry.get("event") != BATCH_EVENT or data.get("exhibit") != exhibit_id:
            continue
        span = data.get("items")
        if span and int(span[0]) < first <= int(span[1]):
            return max(datetime.fromisoformat(str(entry["ts"])) - started, timedelta())
    return None


def find_hash(case: Case, label: str, kind: str, hex_digest: str) -> list[HashFound]:
    """Items of the exhibit whose content has this digest, and P2P records naming it."""
    exhibit = exhibit_row(case, label)
    found: list[HashFound] = []
    column = ITEM_HASHES.get(kind)
    if column is not None:
        with case.sessions() as s:
            displays = s.scalars(
                select(ItemRow.display)
                .where(ItemRow.exhibit_id == exhibit.id, column == hex_digest)
                .order_by(ItemRow.id)
            ).all()
        found += [HashFound("file", display) for display in displays]
    for record in p2p_records(case, label):
        if record.hashes.get(kind) == hex_digest:
            found.append(HashFound("p2p-record", f"{record.artefact_display}, record {record.index} ({record.name})"))
    return found
