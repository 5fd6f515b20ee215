"""Exports of graded and matched items for other systems: VICS 2.0 (CAID/Griffeye), CASE/UCO, DFXML.

Who may export: anyone who can read the case folder; each export is written owner-only and audited.
All exporters read the same ``ExportItem`` list, so they never disagree on what was graded how.
By default an item is exported when an examiner graded it or an illicit hash set matched it. Its category is its
effective grade from ``report.categorisation`` (the one the reports count) when that grade is settled: a
trusted hash-set grade or an examiner's grade (A, B, C or not indecent). An indicative hash-set grade (a
perceptual match, or a set whose category codes are unconfirmed) is a lead, not a grade: it never sends a
category back to CAID, and neither does "uncertain". DFXML, a file-listing format, can instead list every
recorded item (``--all-items``), each with its settled category where it has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from safenet.case.gradings import Grade
from safenet.case.queries import item_rows, iter_items
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.owner_only import write_owner_only
from safenet.report.categorisation import SETTLED_SOURCES, TRUSTED, ItemCategory, categorise

EXPORT_CATEGORIES = ("A", "B", "C", Grade.NON_INDECENT.value)


@dataclass(frozen=True, slots=True)
class ExportItem:
    item_id: int
    exhibit: str
    name: str
    path: str
    size: int | None
    media_kind: str
    filetype: str
    deleted: bool
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    modified: datetime | None
    accessed: datetime | None
    created: datetime | None
    changed: datetime | None
    time_zone_known: bool  # false: the four times are the device's local wall-clock time (report.times)
    category: str | None  # UK code (A, B, C, non-indecent) or None when not settled
    grade_source: str | None  # provenance of ``category``: trusted | examiner | examiner-confirmed | None
    examiner: str | None  # who gave the counted examiner grade
    confirmed_by: str | None


def _export_item(row: ItemRow, label: str, item: ItemCategory | None) -> ExportItem:
    settled = item is not None and item.provenance in SETTLED_SOURCES and item.outcome in EXPORT_CATEGORIES
    by_examiner = settled and item is not None and item.provenance != TRUSTED and item.grade is not None
    grade = item.grade if by_examiner and item is not None else None
    return ExportItem(
        item_id=row.id,
        exhibit=label,
        name=row.name,
        path=row.display,
        size=row.size,
        media_kind=row.media_kind,
        filetype=row.filetype,
        deleted=bool(row.deleted or row.carved),
        md5=row.md5,
        sha1=row.sha1,
        sha256=row.sha256,
        pdq=row.pdq,
        modified=row.modified,
        accessed=row.accessed,
        created=row.created,
        changed=row.changed,
        time_zone_known=row.time_zone_known,
        category=item.outcome if settled and item is not None else None,
        grade_source=item.provenance if settled and item is not None else None,
        examiner=grade.examiner if grade else None,
        confirmed_by=grade.confirmed_by if grade else None,
    )


def export_items(case: Case, *, every: bool = False) -> list[ExportItem]:
    """Graded or matched items (``every``: every recorded item) in a stable order (exhibit, path, id)."""
    categorised = categorise(case).items
    if every:
        items = [_export_item(row, label, categorised.get(row.id)) for row, label, _ in iter_items(case)]
    else:
        wanted = [i for i, c in categorised.items() if c.hash_set is not None or c.graded]
        items = [_export_item(row, label, categorised[row.id]) for row, label in item_rows(case, wanted)]
    items.sort(key=lambda i: (i.exhibit, i.path, i.item_id))
    return items


Exporter = Callable[[Case, list[ExportItem]], bytes]


def _exporters() -> dict[str, tuple[str, Exporter]]:
    from safenet.report.exports.caseuco import export_case_uco
    from safenet.report.exports.dfxml import export_dfxml
    from safenet.report.exports.vics import export_vics

    return {"vics": ("json", export_vics), "case-uco": ("jsonld", export_case_uco), "dfxml": ("xml", export_dfxml)}


EXPORT_FORMATS = ("vics", "case-uco", "dfxml")
#: Formats that may list every recorded item (``--all-items``): DFXML is a file-listing format; VICS goes
#: back to CAID and CASE/UCO into case management, where only graded and matched items belong.
EVERY_ITEM_FORMATS = ("dfxml",)


def write_export(case: Case, fmt: str, output: Path | None = None, *, every: bool = False) -> tuple[Path, int]:
    """Write one export (owner-only) into ``<case>/reports/`` or ``output``; audited. Returns (path, items).

    ``every``: every recorded item, not only the graded and matched ones (``EVERY_ITEM_FORMATS`` only)."""
    exporters = _exporters()
    if fmt not in exporters:
        raise ValueError(f"unknown export format '{fmt}'; choose from {', '.join(EXPORT_FORMATS)}")
    if every and fmt not in EVERY_ITEM_FORMATS:
        raise ValueError(f"only {', '.join(EVERY_ITEM_FORMATS)} can export every item")
    suffix, exporter = exporters[fmt]
    items = export_items(case, every=every)
    data = exporter(case, items)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output or case.path / "reports" / f"export-{fmt}-{stamp}.{suffix}"
    write_owner_only(path, data)
    case.audit.append("export-written", format=fmt, path=str(path), items=len(items), all_items=every)
    return path, len(items)
