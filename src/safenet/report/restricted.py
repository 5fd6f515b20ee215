"""The restricted output: safeguarding indicators that must never appear in the SFR1 or the public reports
(``safenet report CASE --format restricted`` writes a PDF and the same document as HTML beside it).

What it holds:
  - production indicators: a still picture (matched by a hash set, graded, or not yet graded) whose EXIF camera
    (make, model, body serial) is one of the phones seized in the case, as its exhibit record identifies it.
    Such a match is "possible first-generation material": the picture may have been taken with that phone. The
    EXIF is read on demand from the evidence (``analysis.camera``: header bytes only, no pixel decoded), as the
    review's side panel does; the case does not keep it.
  - the search terms the P2P clients recorded (``case.activity.search_terms``);
  - the names of P2P records of known material (a file name can itself describe abuse).
The SFR1 says only that these exist ("see restricted output").

Who may produce it: reports are written from the command line by whoever can read the case folder; the
restricted output is a separate file, written owner-only (``owner_only``), and its creation is audited like
every report ("report-written", format "restricted") and by a line of its own (``RESTRICTED_EVENT``: both files
and how many indicators of each kind, never the indicators). It holds no image content.

Matching rule (stated in the document too): the picture's EXIF model equals the phone's model (letters compared
without case or repeated spaces; an iPhone's product type such as "iPhone12,1", which is what its backups and
lockdown report, is first translated to the name its camera writes, "iPhone 11", by ``APPLE_MODELS``); when both
give a make, the makes are equal too; and when the picture carries a body serial number and the phone's serial
is known, they are equal ("model and body serial"), else the match is on the model alone ("model").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from safenet.analysis.camera import HEADER_BYTES, Camera, camera_of
from safenet.case.activity import P2PRecordView, SearchTermView
from safenet.case.gradings import COUNTED_GRADES, Grade
from safenet.case.schema import Exhibit, ItemRow
from safenet.case.store import Case
from safenet.evidence.model import Evidence, EvidenceError, OpenContext
from safenet.evidence.phone.identity import DeviceIdentity, from_details
from safenet.evidence.phone.ios_fullbackup import reopen_context
from safenet.owner_only import write_owner_only
from safenet.report.categorisation import MATCHED_UNCATEGORISED, UNGRADED, categorise
from safenet.report.pdf import html_to_pdf
from safenet.report.templating import render

RESTRICTED_EVENT = "restricted-output-written"
#: Outcomes whose pictures are compared: counted, matched, or not yet settled ("matched or unknown pictures").
COMPARED_OUTCOMES = frozenset({*COUNTED_GRADES, MATCHED_UNCATEGORISED, UNGRADED, Grade.UNCERTAIN.value})
MATCH_RULE = (
    "A picture's EXIF camera matches a seized phone when its model equals the phone's model (case and repeated "
    "spaces ignored; an iPhone's product type is first translated to the model name its camera writes); when "
    "both give a make, the makes are equal; and when the picture carries a body serial number and the phone's "
    "serial is known, they are equal ('model and body serial'), otherwise the match rests on the model alone "
    "('model'). A match says the picture may have been taken with a phone of that model (possible "
    "first-generation material); a model match alone does not say it was this phone."
)
#: iPhone product types (what backups and lockdown report) -> the model name the camera writes in EXIF.
APPLE_MODELS = {
    "iPhone10,1": "iPhone 8",
    "iPhone10,4": "iPhone 8",
    "iPhone10,2": "iPhone 8 Plus",
    "iPhone10,5": "iPhone 8 Plus",
    "iPhone10,3": "iPhone X",
    "iPhone10,6": "iPhone X",
    "iPhone11,2": "iPhone XS",
    "iPhone11,4": "iPhone XS Max",
    "iPhone11,6": "iPhone XS Max",
    "iPhone11,8": "iPhone XR",
    "iPhone12,1": "iPhone 11",
    "iPhone12,3": "iPhone 11 Pro",
    "iPhone12,5": "iPhone 11 Pro Max",
    "iPhone12,8": "iPhone SE (2nd generation)",
    "iPhone13,1": "iPhone 12 mini",
    "iPhone13,2": "iPhone 12",
    "iPhone13,3": "iPhone 12 Pro",
    "iPhone13,4": "iPhone 12 Pro Max",
    "iPhone14,4": "iPhone 13 mini",
    "iPhone14,5": "iPhone 13",
    "iPhone14,2": "iPhone 13 Pro",
    "iPhone14,3": "iPhone 13 Pro Max",
    "iPhone14,6": "iPhone SE (3rd generation)",
    "iPhone14,7": "iPhone 14",
    "iPhone14,8": "iPhone 14 Plus",
    "iPhone15,2": "iPhone 14 Pro",
    "iPhone15,3": "iPhone 14 Pro Max",
    "iPhone15,4": "iPhone 15",
    "iPhone15,5": "iPhone 15 Plus",
    "iPhone16,1": "iPhone 15 Pro",
    "iPhone16,2": "iPhone 15 Pro Max",
}


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone exhibit's identity, as its exhibit record gives it."""

    exhibit: str
    identity: DeviceIdentity


@dataclass(frozen=True, slots=True)
class ProductionIndicator:
    """A picture whose EXIF camera matches a seized phone: possible first-generation material."""

    item_id: int
    exhibit: str
    name: str
    display: str  # the item's locator as people read it
    outcome: str  # how the categorisation counts the item
    camera: Camera
    phone_exhibit: str
    phone: str  # the phone's identity label
    matched_on: str  # "model" | "model and body serial"


@dataclass(frozen=True, slots=True)
class Indicators:
    """The production indicators of a case and how many pictures could not be compared."""

    phones: list[Phone]
    found: list[ProductionIndicator]
    compared: int  # pictures whose EXIF was read
    unread: int  # pictures whose evidence or EXIF could not be read


def phones(case: Case) -> list[Phone]:
    """The case's phone exhibits that name a model (the ones a picture's EXIF can be compared with)."""
    out = []
    for ex in case.exhibits():
        details = json.loads(ex.description_json).get("details") or {}
        found = from_details({str(k): str(v) for k, v in details.items()})
        if found is not None and found[0].model:
            out.append(Phone(ex.label, found[0]))
    return out


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def camera_matches(camera: Camera, identity: DeviceIdentity) -> str | None:
    """How the camera matches the phone ("model" or "model and body serial"), or None (MATCH_RULE)."""
    model = APPLE_MODELS.get(identity.model.strip(), identity.model)
    if not camera.model or _norm(camera.model) != _norm(model):
        return None
    if camera.make and identity.manufacturer and _norm(camera.make) != _norm(identity.manufacturer):
        return None
    if camera.serial and identity.serial:
        return "model and body serial" if _norm(camera.serial) == _norm(identity.serial) else None
    return "model"


def production_indicators(case: Case, context: OpenContext | None = None) -> Indicators:
    """Compare the EXIF camera of every compared still picture with the case's phones (none: nothing read);
    ``context``: the credentials of encrypted sources (backups), given again for the report, never recorded."""
    seized = phones(case)
    if not seized:
        return Indicators([], [], 0, 0)
    from safenet.evidence.locator import Locator
    from safenet.evidence.registry import as_source, open_locator, open_source

    outcomes = {
        i.item_id: i.outcome
        for i in categorise(case, roles=False, deduplicate=False).items.values()
        if i.media_kind == "image" and i.outcome in COMPARED_OUTCOMES
    }
    query = (
        select(ItemRow.id, ItemRow.name, ItemRow.locator, ItemRow.display, Exhibit.label, Exhibit.source)
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .where(ItemRow.id.in_(outcomes))
        .order_by(Exhibit.label, ItemRow.display, ItemRow.id)
    )
    with case.sessions() as s:
        rows = s.execute(query).all()
    found: list[ProductionIndicator] = []
    opened: dict[tuple[str, str], Evidence | None] = {}  # None: could not be opened (moved, or needs a password)
    compared = unread = 0
    for item_id, name, locator, display, label, source in rows:
        if (label, source) not in opened:
            try:
                again = reopen_context(case.path, label, source, context)  # a phone backup taken into the case
                opened[label, source] = open_source(as_source(source), again)
            except (OSError, EvidenceError, ValueError):
                opened[label, source] = None
        evidence = opened[label, source]
        try:
            if evidence is None:
                raise EvidenceError("evidence not available")
            with open_locator(evidence, Locator.from_json(locator)) as stream:
                head = stream.read(HEADER_BYTES)
        except (OSError, EvidenceError, ValueError):
            unread += 1
            continue
        camera = camera_of(head)
        if isinstance(camera, str):
            unread += 1
            continue
        compared += 1
        for phone in seized:
            how = camera_matches(camera, phone.identity)
            if how is not None:
                found.append(
                    ProductionIndicator(
                        item_id,
                        label,
                        name,
                        display,
                        outcomes[item_id],
                        camera,
                        phone.exhibit,
                        phone.identity.label(),
                        how,
                    )
                )
    return Indicators(seized, found, compared, unread)


def known_records(records: list[P2PRecordView]) -> list[P2PRecordView]:
    """The P2P records with a match in an illicit hash set (records of known material)."""
    return [r for r in records if r.known_material]


def restricted_data(case: Case, report: dict[str, Any], context: OpenContext | None = None) -> dict[str, Any]:
    """Everything the restricted output shows; ``report`` is ``report_data(case)``."""
    from safenet.case.activity import p2p_records, search_terms

    terms: list[SearchTermView] = search_terms(case)
    return {
        "title": "RESTRICTED: safeguarding indicators (not for service with the SFR1)",
        "marking": "OFFICIAL-SENSITIVE: RESTRICTED OUTPUT",
        "case_reference": case.path.name,
        "case_path": report["case"],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": report["tool"],
        "audit": report["audit"],
        "indicators": production_indicators(case, context),
        "match_rule": MATCH_RULE,
        "search_terms": terms,
        "known_records": known_records(p2p_records(case)),
    }


def render_restricted_html(data: dict[str, Any]) -> str:
    return render("restricted.html", doc=data)


def write_restricted(report: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    """The restricted output as a PDF at ``path`` and as HTML beside it (same name, ``.html``), both owner-only.

    Besides the "report-written" line every report gets, the audit log names both files and how many
    indicators of each kind they hold (counts only: the indicators themselves stay in the restricted files)."""
    case = Case.open_existing(Path(report["case"]))
    try:
        data = restricted_data(case, report, context)
        html = render_restricted_html(data)
        html_path = path.with_suffix(".html")
        if html_path == path:  # asked for x.html: the PDF goes beside it as x.pdf
            path = path.with_suffix(".pdf")
        write_owner_only(html_path, html.encode("utf-8"))
        write_owner_only(path, html_to_pdf(html))
        case.audit.append(
            RESTRICTED_EVENT,
            pdf=str(path),
            html=str(html_path),
            production_indicators=len(data["indicators"].found),
            search_terms=len(data["search_terms"]),
            known_records=len(data["known_records"]),
        )
    finally:
        case.close()
