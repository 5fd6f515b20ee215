"""Commands on a case folder after triage: ``report``, ``cluster``, ``verify``, ``case set``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from safenet.case.casefields import CASE_FIELDS, EXHIBIT_FIELDS
from safenet.commands.common import Exit, Keys, Password, Recovery, fail, open_context, out, user_errors
from safenet.evidence.locator import display_safe
from safenet.hashsets.model import DEFAULT_PDQ_THRESHOLD, MAX_PDQ_THRESHOLD

case_app = typer.Typer(help="Examiner-entered facts of a case (for the SFR1).", no_args_is_help=True)


def report_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="html, json, csv, pdf (charging summary), charging-html, sfr1 (PDF), sfr1-html or restricted "
            "(safeguarding indicators: PDF and HTML, kept apart from the SFR1).",
        ),
    ] = "html",
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of <case>/reports/.")] = None,
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
) -> None:
    """Write a report of a case (the SFR1 and restricted output read pictures again: give an encrypted source's
    credential, never recorded)."""
    from safenet.case.store import Case  # each command imports what it runs: --help loads none of it
    from safenet.report.writers import WRITERS, write_report

    with user_errors(case):
        if fmt not in WRITERS:
            fail(Exit.USAGE, f"unknown report format '{fmt}'; choose from {', '.join(WRITERS)}")
        opened = Case.open_existing(case)
        path = write_report(opened, fmt, output, open_context(password, recovery, keys, None))
        out.print(Text(f"report written: {path}"))
        if fmt == "restricted":
            out.print(Text(f"and as HTML: {path.with_suffix('.html')} (restricted: keep apart from the SFR1)"))
        if fmt.startswith("sfr1"):
            from safenet.report.sfr1 import missing_fields

            for line in missing_fields(opened):
                out.print(Text(f"not entered: {display_safe(line)}", style="yellow"))


def cluster_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    threshold: Annotated[
        int, typer.Option("--threshold", min=0, max=MAX_PDQ_THRESHOLD, help="Largest PDQ distance within a cluster.")
    ] = DEFAULT_PDQ_THRESHOLD,
) -> None:
    """Group the case's unknown images into near-duplicate clusters (PDQ), for grading them together."""
    from safenet.case.clusters import build_clusters
    from safenet.case.store import Case

    with user_errors():
        outcome = build_clusters(Case.open_existing(case), threshold)
        out.print(
            Text(
                f"{outcome.clusters:,} clusters of near-duplicates ({outcome.clustered_items:,} of "
                f"{outcome.candidates:,} unknown images with a usable PDQ hash), distance ≤ {outcome.threshold}"
            )
        )


def verify_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
) -> None:
    """Check the audit chain and re-hash every finding from the evidence (encrypted sources: give their credential
    again; none is ever recorded)."""
    from safenet.case.store import Case
    from safenet.case.verify import verify_case

    with user_errors(case):
        result = verify_case(Case.open_existing(case), open_context(password, recovery, keys, None))
        for line in result.lines:
            out.print(Text(display_safe(line)))
        if not result.ok:
            fail(Exit.VERIFY_FAILED, f"verification failed: {len(result.problems)} problem(s); see above")
        notes = f" ({len(result.notes)} note(s) above)" if result.notes else ""
        out.print(
            Text(f"verified: audit chain intact, the case matches its log, findings re-hashed{notes}", style="green")
        )


_SET_HELP = (
    "Enter SFR1 fields no run can know; each value is stored and audited, and setting one again keeps the old. "
    f"Case fields: {', '.join(f.name for f in CASE_FIELDS)}. "
    f"Exhibit fields (with --exhibit): {', '.join(f.name for f in EXHIBIT_FIELDS)}."
)


@case_app.command("set", help=_SET_HELP)
def case_set_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    assignments: Annotated[list[str] | None, typer.Argument(help="field=value pairs, e.g. urn=01AB2345678.")] = None,
    exhibit: Annotated[
        str | None, typer.Option("--exhibit", help="Set fields of this exhibit (seal, make ...).")
    ] = None,
    declarations: Annotated[
        Path | None, typer.Option("--declarations", help="A force's YAML declarations file (field: text).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Who enters the values (default: login name).")] = None,
) -> None:
    from safenet.case.casefields import FieldError, parse_assignments, read_declarations, set_fields
    from safenet.case.store import Case

    with user_errors(case):
        try:
            values = read_declarations(declarations) if declarations is not None else {}
            values.update(parse_assignments(assignments or []))
            opened = Case.open_existing(case)
            rows = set_fields(opened, values, user or getpass.getuser(), exhibit=exhibit)
        except FieldError as exc:
            fail(Exit.USAGE, str(exc))
        where = f"exhibit {exhibit}" if exhibit is not None else "the case"
        out.print(Text(f"{len(rows)} field(s) of {where} set and audited: {', '.join(sorted(values))}"))


@case_app.command("undo-backup-password")
def case_undo_backup_password_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    exhibit: Annotated[str, typer.Option("--exhibit", help="The iPhone or iPad exhibit taken with --ios-backup.")],
) -> None:
    """Turn off the backup encryption Safenet turned on to back up an iPhone or iPad, where a completed run could
    not (the phone attached and unlocked; the one-time password is the one the case records); audited."""
    from safenet.case.onscene import exhibit_row
    from safenet.case.store import Case
    from safenet.evidence.phone.ios_fullbackup import undo_left_password

    with user_errors(case):
        opened = Case.open_existing(case)
        source = exhibit_row(opened, exhibit).source
        with opened.exclusive():
            done = undo_left_password(opened.path, exhibit, source)
        out.print(Text(f"{display_safe(exhibit)}: {done}"))


@case_app.command("copy")
def case_copy_cmd(
    source: Annotated[Path, typer.Argument(help="Case folder to copy.")],
    target: Annotated[Path, typer.Argument(help="New case folder to copy it into.")],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Put the copy's rows in this empty PostgreSQL database (postgresql://user@host/dbname); "
            "without it, in case.db in the new folder.",
        ),
    ] = None,
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
) -> None:
    """Copy a case between SQLite and PostgreSQL (rows, audit log, reports, caches), then verify the copy."""
    from safenet.case.copy import copy_case
    from safenet.case.store import Case
    from safenet.case.verify import verify_case

    with user_errors(target):
        result = copy_case(source, target, db)
        rows = sum(result.rows.values())
        out.print(Text(f"copied {rows:,} rows ({result.source} -> {result.target}) and {result.files} files"))
        verified = verify_case(Case.open_existing(target), open_context(password, recovery, keys, None))
        for line in verified.problems:
            out.print(Text(display_safe(line)))
        if not verified.ok:
            fail(Exit.VERIFY_FAILED, f"the copy at {target} does not verify: {len(verified.problems)} problem(s)")
        out.print(Text(f"verified: the copy at {target} matches its audit log", style="green"))
