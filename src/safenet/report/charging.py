"""The charging summary: counts per UK category for the prosecutor (SFR1 practice), HTML and PDF.

Who may produce it: anyone who can read the case folder (it holds counts and names, never image content).

Counting rules (stated in the document too, so the court reads the same definitions the code uses):
  - one item (file, archive member, carved file) is one image; a video is one moving image;
  - its category is the examiner's current grade where there is one (the examiner has looked at it),
    else the hash-set grade (trusted before indicative; the most severe);
  - still and moving images are counted apart, and so are accessible (live) and deleted or carved items
    (R v Porter: deleted, unretrievable images may not be "possessed");
  - minimum provable number = accessible items whose grade is hash-set trusted or an examiner grade
    confirmed by a second examiner. Indicative, unconfirmed and deleted items are reported but not in it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select

from safenet.case.gradings import (
    GRADABLE_MEDIA,
    UK_GRADES,
    Grade,
    GradingRecord,
    HashSetGrade,
    current_gradings,
    hash_set_grades,
)
from safenet.case.schema import Exhibit, ItemRow
from safenet.case.store import Case

TRUSTED = "trusted"
INDICATIVE = "indicative"
EXAMINER = "examiner"
CONFIRMED = "examiner-confirmed"
MIN_PROVABLE_SOURCES = frozenset({TRUSTED, CONFIRMED})
COUNT_KEYS = (
    "total",
    "still_live",
    "still_deleted",
    "video_live",
    "video_deleted",
    TRUSTED,
    INDICATIVE,
    EXAMINER,
    CONFIRMED,
    "min_still",
    "min_video",
    "min_total",
)
MIN_PROVABLE_DEFINITION = (
    "The minimum provable number for a count is the number of accessible (live, not deleted or carved) items "
    "in that category whose grade is either a trusted hash-set grade (an exact MD5/SHA-1/SHA-256 match to an "
    "illicit hash set whose category codes are confirmed) or an examiner's grade confirmed by a second "
    "examiner. Deleted or carved items, indicative hash-set grades and unconfirmed examiner grades are "
    "counted in the table but not in the minimum provable number."
)


@dataclass
class ExhibitCounts:
    label: str
    source: str
    rows: dict[str, Counter[str]] = field(default_factory=lambda: {c: Counter() for c in UK_GRADES})
    not_indecent: int = 0
    uncertain: int = 0
    matched_uncategorised: int = 0
    unreviewed: int = 0
    disagreements: int = 0  # examiner grade differs from a trusted hash-set grade
    not_examined: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "source": self.source,
            "rows": [{"category": c, **{k: self.rows[c][k] for k in COUNT_KEYS}} for c in UK_GRADES],
            "totals": {k: sum(self.rows[c][k] for c in UK_GRADES) for k in COUNT_KEYS},
            "not_indecent": self.not_indecent,
            "uncertain": self.uncertain,
            "matched_uncategorised": self.matched_uncategorised,
            "unreviewed": self.unreviewed,
            "disagreements": self.disagreements,
            "not_examined": self.not_examined,
        }


def _provenance(grading: GradingRecord | None, hs: HashSetGrade | None) -> tuple[str | None, str | None]:
    """(category, provenance) of one item; category None means it is not counted under A/B/C."""
    if grading is not None:
        if grading.grade.value in UK_GRADES:
            return grading.grade.value, CONFIRMED if grading.confirmed_by else EXAMINER
        return None, grading.grade.value
    if hs is not None:
        if hs.category in UK_GRADES:
            return hs.category, TRUSTED if hs.trusted else INDICATIVE
        return None, "matched-uncategorised"
    return None, None


def charging_data(case: Case, report: dict[str, Any]) -> dict[str, Any]:
    """Everything the charging document shows; ``report`` is ``report_data(case)`` (hash sets, notes)."""
    gradings = current_gradings(case)
    sets = hash_set_grades(case)
    exhibits: dict[int, ExhibitCounts] = {}
    total = ExhibitCounts("All exhibits", "")
    examiners: Counter[tuple[str, str, str]] = Counter()
    notes = {e["label"]: e["not_examined"] for e in report["exhibits"]}
    query = select(ItemRow.id, ItemRow.exhibit_id, ItemRow.media_kind, ItemRow.deleted, ItemRow.carved)
    with case.sessions() as s:
        for ex in s.scalars(select(Exhibit).order_by(Exhibit.label)):
            exhibits[ex.id] = ExhibitCounts(ex.label, ex.source, not_examined=list(notes.get(ex.label, [])))
        rows = s.execute(query).all()
    for item_id, exhibit_id, media_kind, deleted, carved in rows:
        grading, hs = gradings.get(item_id), sets.get(item_id)
        if grading is None and hs is None and media_kind not in GRADABLE_MEDIA:
            continue
        category, source = _provenance(grading, hs)
        if grading is not None:
            examiners[(grading.examiner, grading.confirmed_by or "", grading.grade.value)] += 1
        for counts in (exhibits[exhibit_id], total):
            _count(counts, category, source, media_kind, bool(deleted or carved))
            if grading is not None and hs is not None and hs.trusted and grading.grade.value != hs.category:
                counts.disagreements += 1
    return {
        "title": "Indecent images of children: categorisation summary for the charging decision",
        "case_reference": case.path.name,
        "case_path": report["case"],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": report["tool"],
        "audit": report["audit"],
        "operators": sorted({r["operator"] for e in report["exhibits"] for r in e["runs"]}),
        "exhibits": [e.as_dict() for e in exhibits.values()],
        "total": total.as_dict(),
        "hashsets": report["hashsets"],
        "examiners": [
            {"examiner": name, "confirmed_by": confirmer or None, "grade": grade, "items": n}
            for (name, confirmer, grade), n in sorted(examiners.items())
        ],
        "min_provable_definition": MIN_PROVABLE_DEFINITION,
    }


def _count(counts: ExhibitCounts, category: str | None, source: str | None, media_kind: str, deleted: bool) -> None:
    if category is None:
        if source == Grade.NON_INDECENT.value:
            counts.not_indecent += 1
        elif source == Grade.UNCERTAIN.value:
            counts.uncertain += 1
        elif source == "matched-uncategorised":
            counts.matched_uncategorised += 1
        else:
            counts.unreviewed += 1
        return
    row = counts.rows[category]
    moving = "video" if media_kind == "video" else "still"
    row["total"] += 1
    row[f"{moving}_{'deleted' if deleted else 'live'}"] += 1
    row[source or ""] += 1
    if not deleted and source in MIN_PROVABLE_SOURCES:
        row[f"min_{moving}"] += 1
        row["min_total"] += 1


_env = Environment(loader=PackageLoader("safenet.report", "templates"), autoescape=select_autoescape(default=True))


def render_charging_html(data: dict[str, Any]) -> str:
    return _env.get_template("charging.html").render(doc=data)


def _open_case_data(report: dict[str, Any]) -> dict[str, Any]:
    """The writers registry hands writers the report data; the charging summary also needs the gradings."""
    case = Case.open_existing(Path(report["case"]))
    try:
        return charging_data(case, report)
    finally:
        case.close()


def write_charging_html(report: dict[str, Any], path: Path) -> None:
    _write_private(path, render_charging_html(_open_case_data(report)).encode("utf-8"))


def write_charging_pdf(report: dict[str, Any], path: Path) -> None:
    from weasyprint import HTML  # heavy (Pango); loaded only when a PDF is asked for

    html = render_charging_html(_open_case_data(report))
    _write_private(path, HTML(string=html).write_pdf())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
