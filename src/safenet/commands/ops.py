"""``safenet ops``: the operation around the examination (leads, visits, people, safeguarding, public figures).

Every command acts as a user of this installation (``--as``, default: the login name), whose role in the users
file decides what he may view and change (``safenet.ops.access``). Mistakes (a bad file, a wrong id, a role
that may not) are one sentence and exit 2; a database that cannot be opened is exit 5.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from safenet.commands.common import HashDb

if TYPE_CHECKING:
    from safenet.ops.access import Actor
    from safenet.ops.store import OpsStore

ops_app = typer.Typer(help="The operation: leads, warrants and visits, outcomes, public figures.", no_args_is_help=True)
leads_app = typer.Typer(help="Intelligence leads.", no_args_is_help=True)
subjects_app = typer.Typer(help="Subjects (leads grouped by subscriber address) and their risk assessment.")
visit_app = typer.Typer(help="Warrants and visits, devices found, on-scene results.", no_args_is_help=True)
person_app = typer.Typer(help="People and outcomes (restricted).", no_args_is_help=True)
safeguarding_app = typer.Typer(help="Safeguarding records (restricted).", no_args_is_help=True)
ops_app.add_typer(leads_app, name="leads")
ops_app.add_typer(subjects_app, name="subjects")
ops_app.add_typer(visit_app, name="visit")
ops_app.add_typer(person_app, name="person")
ops_app.add_typer(safeguarding_app, name="safeguarding")

OpsDb = Annotated[
    str | None,
    typer.Option(
        "--ops-db",
        envvar="SAFENET_OPS_DB",
        help="Operation database: a file path or a database URL (default: ~/.local/share/safenet/ops/ops.sqlite).",
    ),
]
As = Annotated[
    str | None,
    typer.Option("--as", envvar="SAFENET_OPS_USER", help="Act as this Safenet user (default: the login name)."),
]
VisitId = Annotated[str, typer.Argument(help="Visit, e.g. V-7.")]
PersonId = Annotated[str, typer.Argument(help="Person, e.g. P-2.")]


@contextmanager
def _errors() -> Iterator[None]:
    from safenet.commands.common import Exit, fail, user_errors
    from safenet.ops.errors import OpsError
    from safenet.users import UserError

    with user_errors():
        try:
            yield
        except (OpsError, UserError) as exc:
            from safenet.ops.errors import StoreUnavailable

            fail(Exit.CASE if isinstance(exc, StoreUnavailable) else Exit.USAGE, str(exc))


@contextmanager
def _session(db: str | None, as_user: str | None, *, create: bool = False) -> Iterator[tuple[OpsStore, Actor]]:
    """The operation database and the acting user, with errors mapped to one sentence and an exit code."""
    from safenet.ops.access import actor_for
    from safenet.ops.store import OpsStore, default_ops_path

    with _errors():
        actor = actor_for(as_user)
        store = OpsStore.open(db or default_ops_path(), create=create)
        try:
            yield store, actor
        finally:
            store.close()


def _say(message: str) -> None:
    """Lead files are hostile: their text is printed as data (no markup, control characters escaped)."""
    from safenet.commands.common import out
    from safenet.console import plain

    out.print(plain(message))


def _say_json(text: str) -> None:
    """JSON for the terminal, every character ``display_safe`` would escape written as a JSON escape."""
    from safenet.commands.common import out
    from safenet.evidence.locator import json_display_safe

    out.print(Text(json_display_safe(text)))


@contextmanager
def _writing(output: Path | None) -> Iterator[None]:
    """A file the user named that cannot be written (no such folder, no permission) is his mistake: one sentence."""
    from safenet.case.store import is_disk_full
    from safenet.ops.errors import OpsError

    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):  # a full disk keeps its own exit code (user_errors)
            raise
        raise OpsError(f"cannot write {output}: {exc.strerror or exc}") from exc


def _date(text: str | None, option: str) -> date | None:
    from safenet.ops.errors import OpsError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise OpsError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD") from exc


@ops_app.command("init")
def ops_init(db: OpsDb = None, as_user: As = None) -> None:
    """Create the operation database (or bring its schema up to date)."""
    with _session(db, as_user, create=True) as (store, _actor):
        _say(f"operation database ready: {store.where}")


# -- leads -----------------------------------------------------------------------------------------------
@leads_app.command("import")
def leads_import(
    path: Annotated[Path, typer.Argument(help="CyberTipline XML report, or a CSV file with --map.")],
    source: Annotated[str, typer.Option("--source", help="cybertip, or a name for CSV leads (p2p, nca ...).")],
    mapping: Annotated[Path | None, typer.Option("--map", help="YAML column mapping of a CSV file.")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Import leads; duplicates are merged (observation counts summed)."""
    from safenet.ops.errors import ImportFailed
    from safenet.ops.leads import import_csv, import_cybertip

    with _session(db, as_user) as (store, actor):
        if source == "cybertip":
            if mapping is not None:
                raise ImportFailed("--map is for CSV files; a CyberTipline report needs no mapping")
            result = import_cybertip(store, actor, path)
        else:
            if mapping is None:
                raise ImportFailed(f"a CSV file of {source} leads needs --map MAPPING.yaml (see docs/operation.md)")
            result = import_csv(store, actor, path, mapping, source)
        for warning in result.warnings:
            _say(f"warning: {warning}")
        _say(f"{len(result.added)} lead(s) added; duplicates merged into {len(result.merged)} lead(s)")


@leads_app.command("list")
def leads_list(
    order: Annotated[str, typer.Option("--order", help="priority or time.")] = "priority",
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """The leads queue."""
    from safenet.ops.leads import list_leads

    with _session(db, as_user) as (store, actor):
        for lead in list_leads(store, actor, order=order):
            subject = lead.subject_id or "-"
            _say(
                f"{lead.id}  {subject}  {lead.observed_utc.isoformat()}  {lead.ip}:{lead.port or ''}  "
                f"{lead.hash_kind}:{lead.hash_hex}  x{lead.observations}  {lead.source} {lead.source_ref}"
            )


@leads_app.command("subscriber")
def leads_subscriber(
    lead_id: Annotated[str, typer.Argument(help="Lead, e.g. L-12.")],
    address: Annotated[str, typer.Argument(help="Subscriber address from the communications data returned.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Enter a lead's subscriber address: the lead joins the subject of that address."""
    from safenet.ops.leads import set_subscriber

    with _session(db, as_user) as (store, actor):
        _say(f"{lead_id} is now in subject {set_subscriber(store, actor, lead_id, address)}")


# -- subjects --------------------------------------------------------------------------------------------
@subjects_app.command("list")
def subjects_list(db: OpsDb = None, as_user: As = None, hashdb: HashDb = None) -> None:
    """Subjects by priority: the force's risk level entered, then Safenet's signals."""
    from safenet.commands.common import default_hashdb
    from safenet.ops.subjects import subjects

    with _session(db, as_user) as (store, actor):
        for s in subjects(store, actor, hashdb=hashdb or default_hashdb()):
            sig = s.signals
            _say(
                f"{s.id}  risk {s.risk_level or 'not entered'}  leads {len(s.leads)}  observations "
                f"{sig.observations}  categories {','.join(sig.categories) or '-'}  last "
                f"{sig.last_observed_utc.isoformat() if sig.last_observed_utc else '-'}  {s.address}"
            )


@subjects_app.command("risk")
def subjects_risk(
    subject_id: Annotated[str, typer.Argument(help="Subject, e.g. S-3.")],
    level: Annotated[str, typer.Option("--level", help="The force's risk level, e.g. high.")],
    reasons: Annotated[str, typer.Option("--reasons", help="The reasons, as assessed.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Enter the force's risk assessment of a subject."""
    from safenet.ops.subjects import set_risk

    with _session(db, as_user) as (store, actor):
        set_risk(store, actor, subject_id, level, reasons)
        _say(f"{subject_id}: risk {level} entered")


# -- visits ----------------------------------------------------------------------------------------------
@visit_app.command("add")
def visit_add(
    lead: Annotated[list[str], typer.Option("--lead", help="Lead the warrant was obtained on (repeatable).")],
    warrant: Annotated[str, typer.Option("--warrant", help='Warrant: power and reference, e.g. "S8 PACE 2026/431".')],
    planned: Annotated[str, typer.Option("--date", help="Planned date of the visit, YYYY-MM-DD.")],
    power: Annotated[
        str | None, typer.Option("--power", help="The power (default: --warrant less its last word).")
    ] = None,
    court: Annotated[str, typer.Option("--court", help="Issuing court.")] = "",
    warrant_date: Annotated[str | None, typer.Option("--warrant-date", help="Date issued, YYYY-MM-DD.")] = None,
    team: Annotated[str, typer.Option("--team", help="Team.")] = "",
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Plan a visit on a warrant; a supervisor approves it."""
    from safenet.ops.visits import add_visit, split_warrant

    with _session(db, as_user) as (store, actor):
        warrant_power, warrant_ref = split_warrant(warrant, power)
        visit_id = add_visit(
            store,
            actor,
            lead_ids=lead,
            warrant_power=warrant_power,
            warrant_ref=warrant_ref,
            issuing_court=court,
            warrant_date=_date(warrant_date, "--warrant-date"),
            planned_date=_date(planned, "--date") or date.min,
            team=team,
        )
        _say(f"visit {visit_id} planned; it needs a supervisor's approval (`safenet ops visit approve {visit_id}`)")


@visit_app.command("approve")
def visit_approve(visit_id: VisitId, db: OpsDb = None, as_user: As = None) -> None:
    """Approve a planned visit (supervisor)."""
    from safenet.ops.visits import approve_visit

    with _session(db, as_user) as (store, actor):
        approve_visit(store, actor, visit_id)
        _say(f"visit {visit_id} approved by {actor.name}")


@visit_app.command("executed")
def visit_executed(
    visit_id: VisitId,
    on: Annotated[str, typer.Option("--date", help="Date the warrant was executed, YYYY-MM-DD.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Record that the warrant was executed."""
    from safenet.ops.visits import mark_executed

    with _session(db, as_user) as (store, actor):
        mark_executed(store, actor, visit_id, _date(on, "--date") or date.min)
        _say(f"visit {visit_id} executed on {on}")


@visit_app.command("device")
def visit_device(
    visit_id: VisitId,
    seized: Annotated[bool, typer.Option("--seized", help="The device was seized.")] = False,
    previewed: Annotated[bool, typer.Option("--previewed", help="The device was previewed on scene.")] = False,
    left: Annotated[bool, typer.Option("--left", help="The device was left (give --reason).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (needed for --left).")] = None,
    description: Annotated[str, typer.Option("--description", help="What the device is.")] = "",
    case: Annotated[Path | None, typer.Option("--case", help="Case folder of its exhibit.")] = None,
    exhibit: Annotated[str | None, typer.Option("--exhibit", help="Exhibit label in that case.")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Record a device found on the visit."""
    from safenet.ops.errors import OpsError
    from safenet.ops.visits import add_device

    with _session(db, as_user) as (store, actor):
        chosen = [name for name, on in (("seized", seized), ("previewed", previewed), ("left", left)) if on]
        if len(chosen) != 1:
            raise OpsError("give exactly one of --seized, --previewed or --left")
        device_id = add_device(store, actor, visit_id, description, chosen[0], reason, case, exhibit)
        _say(f"device {device_id} recorded on {visit_id} ({chosen[0]})")


@visit_app.command("show")
def visit_show(visit_id: VisitId, db: OpsDb = None, as_user: As = None) -> None:
    """A visit: warrant, devices with their on-scene verdicts, and the lead-to-evidence links."""
    from safenet.ops.render import visit_lines
    from safenet.ops.visits import visit

    with _session(db, as_user) as (store, actor):
        for line in visit_lines(visit(store, actor, visit_id)):
            _say(line)


@visit_app.command("list")
def visit_list(
    week: Annotated[str | None, typer.Option("--week", help="ISO week, e.g. 2026-W50.")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Visits (of a week, or all)."""
    from safenet.ops.visits import visits

    with _session(db, as_user) as (store, actor):
        for v in visits(store, actor, week=week):
            _say(f"{v.id}  {v.status}  {v.planned_date.isoformat()}  {v.warrant_power} {v.warrant_ref}  {v.address}")


# -- people and safeguarding -------------------------------------------------------------------------------
@person_app.command("add")
def person_add(
    visit_id: VisitId,
    name: Annotated[str, typer.Option("--name", help="The suspect's name.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Record a suspect found on a visit."""
    from safenet.ops.people import add_person

    with _session(db, as_user) as (store, actor):
        _say(f"person {add_person(store, actor, visit_id, name)} recorded on {visit_id}")


@person_app.command("outcome")
def person_outcome(
    person_id: PersonId,
    arrested: Annotated[str | None, typer.Option("--arrested", help="Date arrested.")] = None,
    interviewed: Annotated[str | None, typer.Option("--interviewed", help="Date interviewed.")] = None,
    charged: Annotated[str | None, typer.Option("--charged", help="Date charged.")] = None,
    offence: Annotated[
        list[str] | None, typer.Option("--offence", help='Offence charged and counts, "OFFENCE=COUNTS" (repeatable).')
    ] = None,
    bail: Annotated[str | None, typer.Option("--bail", help="Bail and conditions.")] = None,
    court: Annotated[str | None, typer.Option("--court-date", help="First court date.")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Record arrest, interview, charge, bail and first court date (only the options given change)."""
    from safenet.ops.people import parse_offence, record_outcome

    with _session(db, as_user) as (store, actor):
        record_outcome(
            store,
            actor,
            person_id,
            arrested_on=_date(arrested, "--arrested"),
            interviewed_on=_date(interviewed, "--interviewed"),
            charged_on=_date(charged, "--charged"),
            offences=[parse_offence(text) for text in offence] if offence else None,
            bail=bail,
            first_court_on=_date(court, "--court-date"),
        )
        _say(f"{person_id}: outcome recorded")


@person_app.command("show")
def person_show(person_id: PersonId, db: OpsDb = None, as_user: As = None) -> None:
    """A person's outcomes and measures (the view is audited)."""
    from safenet.ops.people import person
    from safenet.ops.render import person_lines

    with _session(db, as_user) as (store, actor):
        for line in person_lines(person(store, actor, person_id)):
            _say(line)


@person_app.command("retention")
def person_retention(
    person_id: PersonId,
    on: Annotated[str, typer.Option("--date", help="Next retention review date, YYYY-MM-DD.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Set when a person's record is next reviewed for retention."""
    from safenet.ops.people import set_retention_review

    with _session(db, as_user) as (store, actor):
        set_retention_review(store, actor, person_id, _date(on, "--date") or date.min)
        _say(f"{person_id}: retention review on {on}")


@ops_app.command("retention")
def ops_retention(
    on: Annotated[str | None, typer.Option("--due", help="List records due by this date (default today).")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Person and safeguarding records due for a retention review (ids and dates only)."""
    from safenet.ops.people import due_for_review

    with _session(db, as_user) as (store, actor):
        due = due_for_review(store, actor, _date(on, "--due") or date.today())
        for kind, record, when in due:
            _say(f"{when.isoformat()}  {kind} {record}")
        _say(f"{len(due)} record(s) due for a retention review")


@safeguarding_app.command("set")
def safeguarding_set(
    visit_id: VisitId,
    children: Annotated[int, typer.Option("--children", min=0, help="Children at the address.")],
    referral_to: Annotated[str | None, typer.Option("--referral-to", help="Who the referral went to.")] = None,
    referral_on: Annotated[str | None, typer.Option("--referral-date", help="Date of the referral.")] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Record the children at a visit's address and the referral made."""
    from safenet.ops.people import record_safeguarding

    with _session(db, as_user) as (store, actor):
        record_safeguarding(
            store,
            actor,
            visit_id,
            children=children,
            referral_to=referral_to,
            referral_on=_date(referral_on, "--referral-date"),
        )
        _say(f"{visit_id}: safeguarding recorded")


# -- figures, report, export, serve -------------------------------------------------------------------------
@ops_app.command("figures")
def ops_figures(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W50.")],
    fmt: Annotated[str, typer.Option("--format", help="json, html or pdf.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (json: default standard output).")
    ] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """The public figures of a week: aggregate only, counts of 1-4 shown as "fewer than 5"."""
    from safenet.ops.figures import public_figures, write_figures

    with _session(db, as_user) as (store, _actor):
        figures = public_figures(store, week=week)
        with _writing(output):
            text = write_figures(figures, fmt, output)
        if text is not None:
            (_say_json if output is None else _say)(text)


@ops_app.command("advice")
def ops_advice(
    text: Annotated[str, typer.Option("--text", help="The safety advice printed with the public figures.")],
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Set the unit's safety-advice text for the public figures (default: ops/figures_default.yaml)."""
    from safenet.ops.figures import set_safety_advice

    with _session(db, as_user) as (store, actor):
        set_safety_advice(store, actor, text)
        _say("safety advice set")


@ops_app.command("report")
def ops_report(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W50.")], db: OpsDb = None, as_user: As = None
) -> None:
    """The supervisor's weekly operation report (not public)."""
    from safenet.ops.figures import weekly_report
    from safenet.ops.render import report_lines

    with _session(db, as_user) as (store, actor):
        for line in report_lines(weekly_report(store, actor, week)):
            _say(line)


@ops_app.command("export")
def ops_export(
    disclosure: Annotated[bool, typer.Option("--disclosure", help="What is held about a lead or subject.")] = False,
    lead: Annotated[str | None, typer.Option("--lead", help="Lead, e.g. L-12.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Subject, e.g. S-3.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="JSON file to write (default: standard output).")
    ] = None,
    db: OpsDb = None,
    as_user: As = None,
) -> None:
    """Export, for disclosure, everything held about a lead or a subject (JSON; the export is audited)."""
    from safenet.ops.disclosure import disclosed, disclosure_file
    from safenet.ops.errors import OpsError

    with _session(db, as_user) as (store, actor):
        if not disclosure or (lead is None) == (subject is None):
            raise OpsError("give --disclosure and exactly one of --lead or --subject")
        export = disclosure_file(store, actor, lead_id=lead, subject_id=subject)
        about = lead or subject or ""
        if output is None:
            _say_json(export.removesuffix("\n"))
            disclosed(store, actor, about, export, "standard output")
        else:
            with _writing(output):
                output.write_text(export, encoding="utf-8")
            disclosed(store, actor, about, export, str(output.resolve()))
            _say(f"disclosure export written to {output}")


@ops_app.command("verify")
def ops_verify(db: OpsDb = None, as_user: As = None) -> None:
    """Check the operation's audit log: hash chain and signed head (supervisor or admin; exit 6 when broken)."""
    from safenet.commands.common import Exit
    from safenet.ops.access import AUDITORS
    from safenet.ops.errors import AccessDenied

    with _session(db, as_user) as (store, actor):
        if actor.role not in AUDITORS:
            raise AccessDenied(f"{actor.name} ({actor.role.value}) may not check the operation's audit log")
        problems = store.audit_problems()
        for problem in problems:
            _say(f"PROBLEM: operation audit log: {problem}")
        if problems:
            raise typer.Exit(Exit.VERIFY_FAILED)
        _say(f"operation audit log: {len(store.audit.entries())} lines, hash chain and signed head intact")


@ops_app.command("serve")
def ops_serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8766,
    db: OpsDb = None,
    hashdb: HashDb = None,
) -> None:
    """The operation dashboard in a browser (login with a Safenet user)."""
    from safenet.commands.common import default_hashdb
    from safenet.ops.store import default_ops_path

    with _errors():
        # the dashboard is its own package (ops/web); looked up by name so the CLI does not import it early
        web = importlib.import_module("safenet.ops.web")
        web.serve(db or str(default_ops_path()), host=host, port=port, hashdb=hashdb or default_hashdb())


# -- what `safenet triage --visit V-7` calls ---------------------------------------------------------------
def _triage_store() -> tuple[OpsStore, Actor]:
    import os

    from safenet.ops.access import actor_for
    from safenet.ops.store import OpsStore, default_ops_path

    actor = actor_for(os.environ.get("SAFENET_OPS_USER"))
    return OpsStore.open(os.environ.get("SAFENET_OPS_DB") or default_ops_path()), actor


def check_visit(visit_id: str) -> None:
    """Before a triage with ``--visit``: the visit exists and the user may link devices to it (else exit 2,
    before any evidence is read)."""
    from safenet.ops.access import DEVICES, require
    from safenet.ops.visits import visit

    with _errors():
        store, actor = _triage_store()
        try:
            require(actor, DEVICES, "change")
            visit(store, actor, visit_id, read_cases=False)  # it exists and may be seen; its cases are not needed
        finally:
            store.close()


def link_triaged(visit_id: str, case: Path, labels: list[str]) -> None:
    """After a triage with ``--visit``: each exhibit is linked to the visit, which then shows its verdict."""
    from safenet.ops.visits import link_exhibit

    with _errors():
        store, actor = _triage_store()
        try:
            for label in labels:
                device = link_exhibit(store, actor, visit_id, case, label)
                _say(f"exhibit {label} linked to visit {visit_id} as device {device}")
        finally:
            store.close()
