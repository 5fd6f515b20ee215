"""The charging summary: counts per UK category for the prosecutor (SFR1 practice), HTML and PDF.

Who may produce it: anyone who can read the case folder (it holds counts and names, never image content).

Counting rules: ``report.categorisation`` (one function for every report; its precedence and the minimum
provable number are stated in the document too, so the court reads the same definitions the code uses).
The document takes its numbers from the report data's ``counts``, so it shows exactly what the JSON holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safenet.case.store import Case
from safenet.evidence.model import OpenContext
from safenet.owner_only import write_owner_only
from safenet.report.pdf import html_to_pdf
from safenet.report.templating import render


def charging_data(case: Case, report: dict[str, Any]) -> dict[str, Any]:
    """Everything the charging document shows; ``report`` is ``report_data(case)`` (counts, hash sets, notes)."""
    counts = report["counts"]
    notes = {e["label"]: e["not_examined"] for e in report["exhibits"]}
    return {
        "title": "Indecent images of children: categorisation summary for the charging decision",
        "case_reference": case.path.name,
        "case_path": report["case"],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": report["tool"],
        "audit": report["audit"],
        "operators": sorted({r["operator"] for e in report["exhibits"] for r in e["runs"]}),
        "exhibits": [{**e, "not_examined": list(notes.get(e["label"], []))} for e in counts["exhibits"]],
        "total": {**counts["total"], "not_examined": []},
        "hashsets": report["hashsets"],
        "examiners": counts["examiners"],
        "precedence": counts["precedence"],
        "min_provable_definition": counts["min_provable_definition"],
    }


def render_charging_html(data: dict[str, Any]) -> str:
    return render("charging.html", doc=data)


def _open_case_data(report: dict[str, Any]) -> dict[str, Any]:
    """The writers registry hands writers the report data; the charging summary also needs the gradings."""
    case = Case.open_existing(Path(report["case"]))
    try:
        return charging_data(case, report)
    finally:
        case.close()


def write_charging_html(report: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    write_owner_only(path, render_charging_html(_open_case_data(report)).encode("utf-8"))


def write_charging_pdf(report: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    write_owner_only(path, html_to_pdf(render_charging_html(_open_case_data(report))))
