"""Report writers: one registry, keyed by the --format name; all read the same report data."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safenet.case.store import Case
from safenet.evidence.model import OpenContext
from safenet.owner_only import open_owner_only_text
from safenet.report.charging import write_charging_html, write_charging_pdf
from safenet.report.data import report_data
from safenet.report.restricted import write_restricted
from safenet.report.sfr1 import write_sfr1_html, write_sfr1_pdf
from safenet.report.templating import ENV, render
from safenet.report.times import human_time

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """CSV cells from evidence must not run as spreadsheet formulas (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_json(data: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    with _private(path) as fh:
        json.dump(data, fh, indent=2, ensure_ascii=True, sort_keys=False)
        fh.write("\n")


CSV_COLUMNS = (
    "exhibit",
    "path",
    "name",
    "size",
    "filetype",
    "deleted",
    "md5",
    "sha1",
    "sha256",
    "ed2k",
    "hashset",
    "set_kind",
    "hash_kind",
    "match_kind",
    "distance",
    "orientation",
    "trimmed",
    "category",
    "category_raw",
    "scheme",
    "hashset_sha256",
    "matched_frames",
    # the item's categorisation (report.categorisation): the same on every row of one item
    "item_id",
    "media_kind",
    "carved",
    "outcome",
    "counted_category",
    "grade_provenance",
    "grade",
    "graded_by",
    "grader_role",
    "graded_at",
    "confirmed_by",
    "confirmed_at",
    "superseded_grades",
    "disagrees_with_trusted",
    # the item's times (report.times): UTC with +00:00, or without an offset when time_zone_known is false
    "modified",
    "accessed",
    "changed",
    "created",
    "time_zone_known",
)


def frame_times(frames: list[list[float | int | None]] | None) -> str:
    """A video finding's matched frames for people: "12 s -> 5.25 s (8 bits)" per frame, ";"-separated.

    Found time first, then the known video's time (none when the frames matched a picture), then the
    Hamming distance; empty for findings that are not video.
    """
    if not frames:
        return ""

    def seconds(value: float | int | None) -> str:
        return f"{round(float(value or 0), 2):g} s"

    shown = []
    for found, known, distance in frames:
        where = seconds(found) if known is None else f"{seconds(found)} -> {seconds(known)}"
        shown.append(f"{where} ({distance} bits)")
    return "; ".join(shown)


def given_grade(grade: dict[str, Any]) -> str:
    """One grade for people: "B by alice (examiner) at 2026-01-01T10:00:00Z, confirmed by bob at ..."."""
    role = f" ({grade['role']})" if grade["role"] else ""
    text = f"{grade['grade']} by {grade['examiner']}{role} at {grade['at']}"
    if grade["confirmed_by"]:
        text += f", confirmed by {grade['confirmed_by']} at {grade['confirmed_at']}"
    if grade.get("frames"):
        text += f", resting on frames {', '.join(str(f) for f in grade['frames'])}"
    if grade["undo_of"] is not None:
        text += f", when {grade['undone_by'] or 'a grader'} undid grading row {grade['undo_of']}"
    return text


def item_time(text: str | None, zone_known: bool) -> str:
    """A report item's time (``report.times.iso_time`` text) for people: UTC, or local time, zone unknown."""
    return human_time(datetime.fromisoformat(text) if text else None, zone_known)


def _grading_cells(grading: dict[str, Any] | None) -> dict[str, Any]:
    if grading is None:
        return {}
    current = grading["grade"] or {}
    return {
        "outcome": grading["outcome"],
        "counted_category": grading["category"],
        "grade_provenance": grading["provenance"],
        "grade": current.get("grade"),
        "graded_by": current.get("examiner"),
        "grader_role": current.get("role"),
        "graded_at": current.get("at"),
        "confirmed_by": current.get("confirmed_by"),
        "confirmed_at": current.get("confirmed_at"),
        "superseded_grades": "; ".join(given_grade(g) for g in grading["superseded"]),
        "disagrees_with_trusted": grading["disagrees_with_trusted"],
    }


def write_csv(data: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    """One row per finding, and one row (finding columns empty) per graded item no set matched."""
    with _private(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for item in data["items"]:
            graded = _grading_cells(item["grading"])
            for finding in item["findings"] or [{}]:
                merged = {**item, **finding, **graded, "matched_frames": frame_times(finding.get("frames"))}
                writer.writerow([csv_cell(merged.get(col)) for col in CSV_COLUMNS])


ENV.filters.update(frame_times=frame_times, given_grade=given_grade, item_time=item_time)  # the summary's filters


def render_html(data: dict[str, Any]) -> str:
    return render("summary.html", report=data)


def write_html(data: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    with _private(path) as fh:
        fh.write(render_html(data))


class _private:
    """Open a report file for writing with owner-only permissions (case data is sensitive)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        self.fh = open_owner_only_text(self.path)
        return self.fh

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


#: Each writer takes the report data, the path, and the credentials of encrypted sources (only the writers that
#: read evidence again use them: the SFR1 and the restricted output compare pictures' EXIF with seized phones).
WRITERS: dict[str, tuple[str, Callable[[dict[str, Any], Path, OpenContext | None], None]]] = {
    "json": ("json", write_json),
    "csv": ("csv", write_csv),
    "html": ("html", write_html),
    "pdf": ("pdf", write_charging_pdf),  # the charging summary (report/charging.py)
    "charging-html": ("html", write_charging_html),
    "sfr1": ("pdf", write_sfr1_pdf),  # the SFR1-grade summary (report/sfr1.py)
    "sfr1-html": ("html", write_sfr1_html),
    "restricted": ("pdf", write_restricted),  # safeguarding indicators, PDF + HTML beside it (report/restricted.py)
}


def write_report(case: Case, fmt: str, output: Path | None = None, context: OpenContext | None = None) -> Path:
    """Write one report into the case's reports/ folder (or ``output``) and audit it."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown report format '{fmt}'; choose from {', '.join(WRITERS)}")
    suffix, writer = WRITERS[fmt]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output or case.path / "reports" / f"report-{stamp}.{suffix}"
    data = report_data(case)
    writer(data, path, context)
    case.audit.append("report-written", format=fmt, path=str(path), hits=data["totals"]["hits"])
    return path
