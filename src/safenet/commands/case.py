"""Commands on a case folder after triage: ``report``, ``cluster``, ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from safenet.case.store import Case
from safenet.commands.common import Exit, fail, out, user_errors
from safenet.evidence.locator import display_safe
from safenet.hashsets.catalog import DEFAULT_PDQ_THRESHOLD, MAX_PDQ_THRESHOLD


def report_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[
        str, typer.Option("--format", help="html, json, csv, pdf (charging summary) or charging-html.")
    ] = "html",
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of <case>/reports/.")] = None,
) -> None:
    """Write a report of a case."""
    from safenet.report.writers import WRITERS, write_report  # Jinja2 and WeasyPrint: imported when reporting

    with user_errors(case):
        if fmt not in WRITERS:
            fail(Exit.USAGE, f"unknown report format '{fmt}'; choose from {', '.join(WRITERS)}")
        path = write_report(Case.open_existing(case), fmt, output)
        out.print(Text(f"report written: {path}"))


def cluster_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    threshold: Annotated[
        int, typer.Option("--threshold", min=0, max=MAX_PDQ_THRESHOLD, help="Largest PDQ distance within a cluster.")
    ] = DEFAULT_PDQ_THRESHOLD,
) -> None:
    """Group the case's unknown images into near-duplicate clusters (PDQ), for grading them together."""
    from safenet.engine.clusters import build_clusters

    with user_errors():
        outcome = build_clusters(Case.open_existing(case), threshold)
        out.print(
            Text(
                f"{outcome.clusters:,} clusters of near-duplicates ({outcome.clustered_items:,} of "
                f"{outcome.candidates:,} unknown images with a usable PDQ hash), distance ≤ {outcome.threshold}"
            )
        )


def verify_cmd(case: Annotated[Path, typer.Argument(help="Case folder.")]) -> None:
    """Check the audit chain and re-hash every finding from the evidence."""
    from safenet.case.verify import verify_case

    with user_errors(case):
        result = verify_case(Case.open_existing(case))
        for line in result.lines:
            out.print(Text(display_safe(line)))
        if not result.ok:
            fail(Exit.VERIFY_FAILED, f"verification failed: {len(result.problems)} problem(s); see above")
        notes = f" ({len(result.notes)} note(s) above)" if result.notes else ""
        out.print(
            Text(f"verified: audit chain intact, the case matches its log, findings re-hashed{notes}", style="green")
        )
