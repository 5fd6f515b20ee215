"""The disclosure export: everything the operation database holds about one lead or one subject, as JSON.

For the disclosure officer (and a subject access request): the leads, the subject and its risk assessment,
the visits with their devices, and, where the requester's role may see them, the people and safeguarding
records, with their retention review dates and every audit line that names them. The export is audited once it
has been handed over (``disclosed``): what it was about, where it went and the SHA-256 of the file, so that the
file disclosed can later be shown to be the one audited. Building an export that is never handed over (an
unwritable ``--output``) audits nothing: nothing left the system.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from safenet.evidence.locator import json_display_safe
from safenet.ops.access import LEADS, PEOPLE, SAFEGUARDING, Actor, allowed, require
from safenet.ops.errors import OpsError
from safenet.ops.ids import LEAD, VISIT, parse, show
from safenet.ops.leads import lead as lead_view
from safenet.ops.leads import list_leads
from safenet.ops.people import people, safeguarding_records
from safenet.ops.schema import LeadRow, VisitLeadRow, VisitRow
from safenet.ops.store import OpsStore
from safenet.ops.subjects import subject as subject_view
from safenet.ops.visits import visit


def disclosure(
    store: OpsStore, actor: Actor, *, lead_id: str | None = None, subject_id: str | None = None
) -> dict[str, Any]:
    require(actor, LEADS, "view")
    if (lead_id is None) == (subject_id is None):
        raise OpsError("a disclosure export is about exactly one lead or one subject")
    if lead_id is not None:
        leads = [lead_view(store, actor, lead_id)]
        subject_id = leads[0].subject_id
    if subject_id is not None:
        leads = [view for view in list_leads(store, actor, order="time") if view.subject_id == subject_id]
    lead_rows = [parse(LEAD, view.id) for view in leads]
    with store.session() as s:
        visit_ids = sorted(
            {
                row.id
                for row in s.scalars(select(VisitRow).join(VisitLeadRow).where(VisitLeadRow.lead_id.in_(lead_rows)))
            }
        )
        origins = {row.id: row.origin for row in s.scalars(select(LeadRow).where(LeadRow.id.in_(lead_rows)))}
    names = {view.id for view in leads} | {show(VISIT, v) for v in visit_ids} | ({subject_id} if subject_id else set())
    out: dict[str, Any] = {
        "about": lead_id or subject_id,
        "exported_by": actor.name,
        "exported_at": datetime.now().astimezone().isoformat(),
        "leads": [asdict(view) | {"origin": origins.get(parse(LEAD, view.id))} for view in leads],
        "subject": asdict(subject_view(store, actor, subject_id)) if subject_id else None,
        "visits": [asdict(visit(store, actor, show(VISIT, v))) for v in visit_ids],
    }
    if allowed(actor, PEOPLE, "view"):
        found = [p for v in visit_ids for p in people(store, actor, show(VISIT, v))]
        out["people"] = [asdict(p) for p in found]
        names |= {p.id for p in found}
    else:
        out["people"] = "not shown: the exporter's role may not see people records"
    if allowed(actor, SAFEGUARDING, "view"):
        records = safeguarding_records(store, actor, [show(VISIT, v) for v in visit_ids])
        out["safeguarding"] = [asdict(r) for r in records if r is not None]
    else:
        out["safeguarding"] = "not shown: the exporter's role may not see safeguarding records"
    out["audit"] = [entry for entry in store.audit.entries() if _names(entry, names)]
    return out


def disclosure_file(store: OpsStore, actor: Actor, *, lead_id: str | None = None, subject_id: str | None = None) -> str:
    """The export as its file holds it (JSON and a final newline); audit it with ``disclosed`` once handed over."""
    data = disclosure(store, actor, lead_id=lead_id, subject_id=subject_id)
    # escaped as the terminal shows it: the file and standard output are the same bytes, and the audited digest is
    # of both
    return json_display_safe(json.dumps(data, indent=2, default=_json, ensure_ascii=False)) + "\n"


def disclosed(store: OpsStore, actor: Actor, about: str, export: str, to: str) -> None:
    """Audit an export that has been handed over: about whom, where to (a file, or standard output) and the
    SHA-256 of the file's bytes (``export`` as ``disclosure_file`` made it, UTF-8)."""
    digest = hashlib.sha256(export.encode("utf-8")).hexdigest()
    store.log(actor, "disclosure-exported", about=about, to=to, sha256=digest)


def _names(entry: dict[str, Any], names: set[str]) -> bool:
    """Whether an audit line names one of the records (a value, or a value in a list)."""
    for value in entry.get("data", {}).values():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and v in names for v in values):
            return True
    return False


def _json(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)
