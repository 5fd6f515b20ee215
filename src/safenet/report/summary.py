"""The case summary every report shows: hits per UK category per exhibit and in total.

Counting unit: one item (file, archive member ...) is one image or video; each counts once, in the
most severe category any illicit hash set gives it. Columns split live vs deleted (R v Porter),
still vs video (SFR practice) and exact vs perceptual matches.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from safenet import __version__
from safenet.case.casefields import current_fields
from safenet.case.gradings import OTHER_GRADES
from safenet.case.migrations import pre_upgrade_notes
from safenet.case.queries import exhibit_facts, hit_findings
from safenet.case.schema import Run
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.engine.profiles import Profile
from safenet.evidence.locator import LayerKind, Locator
from safenet.hashsets.categories import most_severe, uk_scheme

#: Warning codes that mean part of an exhibit was not examined; each is counted in "not examined".
NOT_EXAMINED_CODES = (
    "archive-bomb",
    "archive-corrupt",
    "archive-depth",
    "encrypted-member",
    "unsupported-archive",
    "unsupported-member",
    "special-member",
    "other-filesystem",
    "special-file",
    "symlink-outside",
    "encrypted-volume",
    "volume-unreadable",
    "image-unrecognised",
    "deleted-unrecoverable",
    "deleted-not-listed",
    "fs-corrupt",
    "carve-not-supported",
    "carve-limit",
    "carve-failed",
    "image-hash-mismatch",
    "perceptual-skipped",
    "mail-corrupt",
    "mail-limit",
    "mail-unsupported",
)
COLUMNS = ("total", "live", "deleted", "still", "video", "exact", "perceptual")


@dataclass
class CategoryRow:
    category: str
    label: str
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "label": self.label, **{c: self.counts[c] for c in COLUMNS}}


@dataclass
class ExhibitSummary:
    label: str
    source: str
    backend: str
    rows: dict[str, CategoryRow]
    items: Counter[str]  # by item status
    known_good: int
    warnings: Counter[str]  # by warning code
    runs: list[dict[str, Any]]
    not_examined: list[str]
    authority: str | None = None  # the power relied on (e.g. the warrant reference), as entered

    @property
    def hits(self) -> int:
        return sum(row.counts["total"] for row in self.rows.values())


@dataclass
class CaseSummary:
    generated_at: datetime
    tool_version: str
    exhibits: list[ExhibitSummary]
    total: dict[str, CategoryRow]
    hashsets: list[dict[str, Any]]

    @property
    def hits(self) -> int:
        return sum(e.hits for e in self.exhibits)


def _empty_rows() -> dict[str, CategoryRow]:
    # other material (prohibited, extreme) gets a row only when a set gives it, like a code not in the scheme
    skip = {"non-indecent", *OTHER_GRADES}
    return {c.code: CategoryRow(c.code, c.label) for c in uk_scheme().categories if c.code not in skip}


def _row(rows: dict[str, CategoryRow], code: str) -> CategoryRow:
    if code not in rows:
        known = uk_scheme().lookup(code)
        label = known.label if known else f"code not in the UK scheme ({code.removeprefix('unknown:')})"
        rows[code] = CategoryRow(code, label)
    return rows[code]


def _hit_items(case: Case, exhibit_id: int) -> dict[int, dict[str, Any]]:
    """Items with at least one hit: their most severe category and how they matched."""
    found: dict[int, dict[str, Any]] = {}
    for item_id, deleted, carved, media_kind, set_kind, category, match_kind in hit_findings(case, exhibit_id):
        if not is_hit(set_kind, category):
            continue
        entry = found.setdefault(
            item_id, {"deleted": deleted or carved, "media": media_kind, "categories": [], "exact": False}
        )
        entry["categories"].append(category)
        entry["exact"] = entry["exact"] or match_kind == "exact"
    return found


def _add(rows: dict[str, CategoryRow], code: str, hit: dict[str, Any]) -> None:
    counts = _row(rows, code).counts
    counts["total"] += 1
    counts["deleted" if hit["deleted"] else "live"] += 1
    if hit["media"] == "video":
        counts["video"] += 1
    elif hit["media"] == "image":
        counts["still"] += 1
    counts["exact" if hit["exact"] else "perceptual"] += 1


def _not_examined(
    runs: list[Run], items: Counter[str], regions: int, warnings: Counter[str], gone: list[str]
) -> list[str]:
    """``items`` leaves out regions to carve (unallocated space, slack): they are never hashed whole, so
    'typed but not hashed' would be wrong for them; the full profile carves them (its carving limits and
    failures are warnings below), and a run in another profile that listed one did not carve it."""
    notes: list[str] = []
    profiles = sorted({Profile(r.profile) for r in runs})
    for profile in profiles:
        if profile.not_examined_note:
            notes.append(profile.not_examined_note)
    if items["skipped"]:
        notes.append(f"{items['skipped']} items were typed but not hashed by the profile")
    if regions and Profile.FULL not in profiles:
        notes.append(f"{regions} regions of unallocated space or slack were not carved (the full profile carves)")
    if items["unreadable"] or items["partial"]:
        notes.append(
            f"{items['unreadable']} items could not be read and {items['partial']} were read only in part "
            "(see warnings)"
        )
    not_reached = sum(r.items_not_reached for r in runs[-1:])
    if not_reached:
        notes.append(
            f"{not_reached} items were not reached: the triage stopped at the first hit or was "
            "interrupted (resume it with --resume)"
        )
    for code in NOT_EXAMINED_CODES:
        if warnings[code]:
            notes.append(f"{warnings[code]} × {code} (see warnings)")
    if names := _gone_names(gone):
        more = warnings["deleted-unrecoverable"] - len(names)
        notes.append(
            "deleted names whose content is gone (carving may find it): "
            + "; ".join(names)
            + (f"; and {more} more (see warnings)" if more > 0 else "")
        )
    if not runs or runs[-1].status != "completed":
        notes.append("the last triage run of this exhibit did not complete")
    return notes


def _gone_names(gone: list[str]) -> list[str]:
    """Each deleted name's path and metadata address ("/DCIM/a.jpg (inode 13)"), from its warning's locator
    (``Layer.render`` already shows it through ``display_safe``)."""
    leaves = (Locator.from_json(text).leaf for text in gone)
    return [leaf.render() for leaf in leaves if leaf.kind is LayerKind.PATH]


def summarise(case: Case) -> CaseSummary:
    exhibits: list[ExhibitSummary] = []
    total = _empty_rows()
    hashsets: dict[str, dict[str, Any]] = {}
    entered = current_fields(case)
    for facts in exhibit_facts(case):
        ex, runs = facts.exhibit, facts.runs
        for run in runs:
            for hs in json.loads(run.hashsets_json):
                hashsets[f"{hs['name']}:{hs['sha256']}"] = hs
        rows = _empty_rows()
        for hit in _hit_items(case, ex.id).values():
            code = most_severe(hit["categories"])
            _add(rows, code, hit)
            _add(total, code, hit)
        exhibits.append(
            ExhibitSummary(
                label=ex.label,
                source=ex.source,
                backend=ex.backend,
                rows=rows,
                items=facts.items,
                known_good=facts.known_good,
                warnings=facts.warnings,
                not_examined=_not_examined(runs, facts.items, facts.regions, facts.warnings, facts.gone)
                + pre_upgrade_notes(case, list(runs)),  # runs an older schema recorded: what they never did
                authority=entered[(ex.label, "authority")].value if (ex.label, "authority") in entered else None,
                runs=[
                    {
                        "id": r.id,
                        "status": r.status,
                        "profile": r.profile,
                        "operator": r.operator,
                        "started_at": r.started_at.isoformat(),
                        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                        "tool_version": r.tool_version,
                        "resumed_from": r.resumed_from,
                        "digests": json.loads(r.config_json).get("algorithms", []),
                    }
                    for r in runs
                ],
            )
        )
    return CaseSummary(
        datetime.now(UTC), __version__, exhibits, total, sorted(hashsets.values(), key=lambda h: h["name"])
    )
