"""The SFR1-grade summary (a Streamlined Forensic Report, part 1): the charging summary grown into the form
a prosecutor is served (``safenet report CASE --format sfr1`` for PDF, ``sfr1-html`` for HTML).

Every field says where it comes from: "from the case" (what the runs, the audit log and the categorisation
recorded) or "entered by the examiner" (``safenet case set``, ``case.casefields``). A required field never
entered still appears, marked NOT ENTERED, and ``missing_fields`` names it so the command can say so: the form
is never silently incomplete.

Numbers: every count is the JSON report's ``counts`` block (``report.categorisation.categorise``); this module
only lays them out. It holds no image content, ever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safenet.analysis.appmedia import MediaKind, classify_item, not_decoded
from safenet.case.casefields import CASE_FIELDS, EXHIBIT_FIELDS, EnteredValue, FieldSpec, current_fields
from safenet.case.gradings import COUNTED_GRADES, UK_GRADES
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.evidence.locator import Layer, display_safe
from safenet.evidence.mail import mailbox_of
from safenet.evidence.model import OpenContext
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.ios_fullbackup import PASSWORD_LEFT_CODE, password_left_then_removed
from safenet.evidence.phone.ufdr import MISMATCH_CODE
from safenet.hashsets.categories import most_severe
from safenet.installation import build_digest
from safenet.owner_only import write_owner_only
from safenet.report.charging import charging_data
from safenet.report.pdf import html_to_pdf
from safenet.report.restricted import production_indicators
from safenet.report.templating import render

FROM_CASE = "from the case"
ENTERED = "entered by the examiner"
NOT_ENTERED = "NOT ENTERED"
SFR_TYPE = "SFR1"
SFR_FORMATS = ("sfr1", "sfr1-html")
SUMMARY_STATEMENT = (
    "This is a summary of the examination (a Streamlined Forensic Report, SFR1) served for the charging "
    "decision and early case management. It states the results, not every step that produced them; if any "
    "part is disputed, a full statement (SFR2) with the examination record will follow."
)
# True of this code: no classifier grades, filters or orders items (grades come from hash sets and examiners);
# a release that adds one must say here how it was used.
AI_STATEMENT = (
    "No automated classifier (AI) graded, filtered or prioritised any item: every grade comes from a hash set or "
    "an examiner."
)
SECTIONS = (
    ("Case", ("urn", "force", "operation", "warrant_reference", "warrant_date")),
    ("Author", ("author", "role", "unit", "contact")),
    ("Declarations", ("accreditation_status", "accreditation", "fsr_declaration")),
)
EXHIBIT_DETAILS = ("seal", "make", "model", "serial", "imei", "capacity", "where_found", "state_at_seizure")
_SPECS = {False: {f.name: f for f in CASE_FIELDS}, True: {f.name: f for f in EXHIBIT_FIELDS}}
# the power relied on (the warrant reference), entered with `case set` or `triage --authority`
EXHIBIT_METHOD = (
    "examined_at",
    "acquisition",
    "write_blocking",
    *(("authority",) if "authority" in _SPECS[True] else ()),
)
OTHER_LABELS = {"prohibited": "Prohibited images (non-photographic)", "extreme": "Extreme pornography"}
PHONE_IDENTITY = (
    ("platform", "Platform"),
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("serial", "Serial number"),
    ("imei", "IMEI"),
    ("udid", "UDID"),
    ("os_version", "Operating system version"),
    ("name", "Device name"),
)
ACQUISITION_TEXT = {
    Acquisition.ADB_LOGICAL: "logical, live over ADB: shared storage read without writing to the phone",
    Acquisition.AFC: "logical, live over AFC: the iOS media domain",
    Acquisition.ITUNES_BACKUP: "logical: an iTunes/Finder backup",
    Acquisition.IOS_BACKUP: "logical, live: a full local backup taken by Safenet (mobilebackup2)",
    Acquisition.ANDROID_BACKUP: "logical: an Android backup file (.ab)",
    Acquisition.FFS_EXTRACTION: "full file system extraction made by another tool (imported)",
    Acquisition.UFDR: "Cellebrite UFDR extraction (imported)",
}
#: Acquisitions that see only the files the phone or its backup hands over: no deleted data.
LOGICAL = frozenset(
    {
        Acquisition.ADB_LOGICAL,
        Acquisition.AFC,
        Acquisition.ITUNES_BACKUP,
        Acquisition.IOS_BACKUP,
        Acquisition.ANDROID_BACKUP,
    }
)
UFDR_MISMATCH = MISMATCH_CODE  # the UFDR back-end's warning: a listed hash that differs from Safenet's
APP_KINDS = (MediaKind.SENT, MediaKind.RECEIVED, MediaKind.CHAT, MediaKind.CAMERA, MediaKind.VAULT)
APP_KIND_TEXT = {
    MediaKind.SENT.value: "Sent items (distribution)",
    MediaKind.RECEIVED.value: "Received media",
    MediaKind.CHAT.value: "Chat media, direction unknown",
    MediaKind.CAMERA.value: "Camera folder",
    MediaKind.VAULT.value: "Photo-vault app folder",
}


@dataclass(frozen=True, slots=True)
class Field:
    """One line of the form: its label, its value (None: not entered), and where the value comes from."""

    label: str
    value: str | None
    origin: str  # FROM_CASE | ENTERED
    required: bool = True
    entered_by: str | None = None
    entered_at: str | None = None

    @property
    def missing(self) -> bool:
        return self.value is None


def _entered(spec: FieldSpec, value: EnteredValue | None) -> Field:
    if value is None:
        return Field(spec.label, None, ENTERED, spec.required)
    at = value.at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Field(spec.label, value.value, ENTERED, spec.required, value.user, at)


def _fields(
    entered: dict[tuple[str | None, str], EnteredValue], exhibit: str | None, names: tuple[str, ...]
) -> list[Field]:
    return [_entered(_SPECS[exhibit is not None][n], entered.get((exhibit, n))) for n in names]


def missing_fields(case: Case) -> list[str]:
    """Each required examiner-entered field not yet entered, as "case: URN" or "exhibit EX1: Seal number"."""
    entered = current_fields(case)
    out = [f"case: {s.label}" for s in CASE_FIELDS if s.required and (None, s.name) not in entered]
    for ex in case.exhibits():
        out += [
            f"exhibit {ex.label}: {s.label}" for s in EXHIBIT_FIELDS if s.required and (ex.label, s.name) not in entered
        ]
    return out


def _sfr_version(case: Case) -> int:
    """This SFR1's version: one more than the SFR1s the audit log records as written for this case."""
    written = sum(
        1
        for e in case.audit.entries()
        if e.get("event") == "report-written" and (e.get("data") or {}).get("format") in SFR_FORMATS
    )
    return written + 1


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _media_row(row: dict[str, Any], category: str) -> dict[str, Any]:
    """One count row as the SFR1 lays it out: still/moving, the videos' total recorded duration, accessibility."""
    videos = row["video_live"] + row["video_deleted"]
    unknown = row["video_no_duration"]
    if videos == 0:
        duration = "no videos"
    elif unknown == videos:
        duration = "not recorded"
    else:
        duration = _duration(row["video_duration_s"])
        if unknown:
            duration += f" (not recorded for {unknown} video(s))"
    return {
        "category": category,
        "label": OTHER_LABELS.get(category, category),
        "still": row["still_live"] + row["still_deleted"],
        "moving": videos,
        "duration": duration,
        "total": row["total"],
        "min_total": row["min_total"],
        "access": [row["accessible"], row["deleted_recoverable"], row["carved_unallocated"], row["thumbnail_cache"]],
    }


def _media_rows(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Category x still/moving with the videos' total recorded duration, laid out from one counts block."""
    return [_media_row(row, row["category"]) for row in block["rows"]] + [_media_row(block["totals"], "All")]


def _other_rows(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The other material (prohibited images, extreme pornography) of one counts block, never in A/B/C."""
    return [_media_row(row, row["category"]) for row in block.get("other_material", [])]


def _phone(description: dict[str, Any]) -> list[Field] | None:
    """A phone exhibit's identity and acquisition as its source reported them, or None for other exhibits."""
    details = description.get("details") or {}
    found = from_details({str(k): str(v) for k, v in details.items()})
    if found is None:
        return None
    identity, acquisition = found
    # what the phone, its backup or an imported report says (a device name is its owner's): shown, never obeyed
    fields = [
        Field(label, display_safe(getattr(identity, name)), FROM_CASE)
        for name, label in PHONE_IDENTITY
        if getattr(identity, name)
    ]
    return [
        *fields,
        Field("Acquisition method", ACQUISITION_TEXT.get(acquisition.method, acquisition.method.value), FROM_CASE),
        Field("Acquisition tool and version", display_safe(acquisition.tool) or "not recorded", FROM_CASE),
        *([Field("Acquisition note", display_safe(acquisition.note), FROM_CASE)] if acquisition.note else []),
    ]


def _category_label(code: str) -> str:
    return f"Category {code}" if code in UK_GRADES else OTHER_LABELS.get(code, code)


def _record_category(record: dict[str, Any]) -> str | None:
    """A P2P record's category: the most severe its illicit matches give (None: not known material)."""
    codes = [k["category"] for k in record["known"] if is_hit(k["set_kind"], k["category"])]
    return most_severe(codes) if codes else None


def _torrent_line(check: dict[str, Any]) -> str:
    """One torrent's piece check as the SFR1 states it (a torrent of known material by its info-hash only)."""
    if check["name"] is not None:
        label = f'torrent "{display_safe(check["name"])}"'
    else:
        label = f"torrent with info-hash {check['info_hash'] or '(none: version 2 only)'}"
    verified = f"{check['matched']} of {check['pieces']} pieces verified"
    files = len(check["files"])
    status = check["status"]
    if status == "complete":
        return f"{label}: its files are on the exhibit, {verified}"
    if status == "partial":
        return (
            f"{label}: its files are partly on the exhibit, {verified} ({check['mismatched']} differ, "
            f"{check['unavailable']} not available; {check['files_found']} of {files} files found)"
        )
    if status == "not-present":
        return f"{label}: its files are not on the exhibit (none of its {files} files found)"
    if status == "ambiguous":
        return (
            f"{label}: not decided, {check['files_ambiguous']} of its {files} files have more than one candidate of "
            f"the same name and size on the exhibit (none was chosen); {verified} from the files placed"
        )
    return f"{label}: its pieces could not be checked ({check['problem']})"


def _torrents(report: dict[str, Any], exhibit: str) -> list[str]:
    """The exhibit's torrents, each with what its piece check found."""
    return [_torrent_line(c) for c in report.get("torrent_checks", []) if c["exhibit"] == exhibit]


def _p2p(report: dict[str, Any], exhibit: str | None) -> dict[str, Any]:
    """P2P records of known material (of one exhibit, or all) from the JSON report: counted apart from files."""
    records = []
    for record in report.get("p2p_records", []):
        category = _record_category(record)
        if category is not None and exhibit in (None, record["exhibit"]):
            records.append({**record, "category": category})
    categories = sorted({r["category"] for r in records}, key=lambda c: (c not in COUNTED_GRADES, c))
    rows = []
    for category in categories:
        mine = [r for r in records if r["category"] == category]
        rows.append(
            {
                "category": category,
                "label": _category_label(category),
                "records": len(mine),
                "shared": sum(1 for r in mine if r["shared"]),
                "uploaded": sum(1 for r in mine if (r["uploaded_bytes"] or 0) > 0 or (r["upload_requests"] or 0) > 0),
                "on_exhibit": sum(1 for r in mine if r["linked_item_id"] is not None),
            }
        )
    return {"records": records, "rows": rows}


def item_path(item: dict[str, Any]) -> str:
    """A report item's path as its source names it (the last path layer of its locator: for a phone the path
    on the phone, e.g. ``CameraRollDomain/Media/DCIM/...``), which the app media table is written against."""
    paths = [layer["value"] for layer in item["locator"] if layer["kind"] == "path" and "value" in layer]
    return str(paths[-1] if paths else item["path"])


def _app_media(report: dict[str, Any], exhibit: str | None) -> list[dict[str, Any]]:
    """Counted items (A/B/C and other material) by the app media folder they lie in, per kind: sent items first."""
    counts: dict[MediaKind, dict[str, int]] = {kind: dict.fromkeys(COUNTED_GRADES, 0) for kind in APP_KINDS}
    apps: dict[MediaKind, set[str]] = {kind: set() for kind in APP_KINDS}
    for item in report["items"]:
        outcome = (item["grading"] or {}).get("outcome")
        if outcome not in COUNTED_GRADES or exhibit not in (None, item["exhibit"]):
            continue
        found = classify_item(item_path(item), mailbox_of([Layer.from_dict(d) for d in item["locator"]]))
        if found is not None:
            counts[found.kind][outcome] += 1
            apps[found.kind].add(found.app)
    return [
        {"kind": kind.value, "counts": [counts[kind][c] for c in COUNTED_GRADES], "apps": sorted(apps[kind])}
        for kind in APP_KINDS
        if kind is MediaKind.SENT or any(counts[kind].values())
    ]


def _limitations(exhibits: list[dict[str, Any]], report: dict[str, Any], case_path: Path) -> list[str]:
    """Phone-specific limits: logical acquisitions, vault apps not decoded, UFDR hashes that disagreed."""
    out = []
    warnings = {e["label"]: e.get("warnings_by_code", {}) for e in report["exhibits"]}
    phones = [ex for ex in exhibits if ex["phone"] is not None]
    for ex in phones:
        if ex["acquisition"] in LOGICAL:
            out.append(
                f"Exhibit {ex['label']}: a logical acquisition ({ACQUISITION_TEXT[ex['acquisition']]}): deleted data "
                "is not recovered; only the files the phone or its backup gave are examined."
            )
    for ex in exhibits:
        if warnings.get(ex["label"], {}).get(PASSWORD_LEFT_CODE, 0):
            removed = password_left_then_removed(case_path, ex["label"])
            if removed is None:
                what = "the exhibit was left with backup encryption on"
            else:
                when = _removed_when(removed)
                what = f"it was turned off afterwards{when} with that password (audited)"
            out.append(
                f"Exhibit {ex['label']}: Safenet turned the phone's backup encryption on to take a full backup, under "
                "a one-time password recorded in the case's acquisition record, and could not turn it off again at "
                f"the end of its run ({PASSWORD_LEFT_CODE} warning): {what}."
            )
        mismatched = warnings.get(ex["label"], {}).get(UFDR_MISMATCH, 0)
        if mismatched:
            out.append(
                f"Exhibit {ex['label']}: {mismatched} file hash(es) recorded in the UFDR extraction disagreed with "
                f"the hash Safenet computed from the file ({UFDR_MISMATCH} warnings); those files' results rest on "
                "the bytes as read."
            )
    if phones:
        vaults = "; ".join(f"{a.name} ({a.platform}: {', '.join(a.folders)})" for a in not_decoded())
        out.append(
            "Photo-vault apps' storage is not decoded: "
            + vaults
            + ". Files in their folders are examined as found (an obscured or encrypted file is not a picture "
            "to Safenet and is not counted)."
        )
    return out


def _date_ranges(items: list[dict[str, Any]], exhibit: str | None) -> list[dict[str, Any]]:
    """First and last last-modified time of the items counted in each category (of one exhibit, or all), from
    the JSON report's items: times whose zone is known in UTC, the others apart as local time, zone unknown.
    Other material (prohibited, extreme) has rows only where some is counted."""
    rows = []
    for category in COUNTED_GRADES:
        counted = [
            i for i in items if (i["grading"] or {}).get("outcome") == category and exhibit in (None, i["exhibit"])
        ]
        if not counted and category not in UK_GRADES:
            continue
        ranges = []
        for zone_known, zone in ((True, "UTC"), (False, "local time of the device, zone unknown")):
            times = sorted(
                datetime.fromisoformat(i["modified"])
                for i in counted
                if i["modified"] and i["time_zone_known"] is zone_known
            )
            if times:
                ranges.append({"first": _when(times[0]), "last": _when(times[-1]), "zone": zone})
        no_time = sum(1 for i in counted if not i["modified"])
        row = {"category": category, "label": _category_label(category), "counted": bool(counted)}
        rows.append({**row, "ranges": ranges, "no_time": no_time})
    return rows


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def _when(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def _exhibit_method(case: Case, exhibit_id: int) -> dict[str, Any]:
    runs = [r for r in case.runs() if r.exhibit_id == exhibit_id]
    sets: dict[str, dict[str, Any]] = {}
    for run in runs:
        for hs in json.loads(run.hashsets_json):
            sets[f"{hs['name']}:{hs['sha256']}"] = hs
    return {
        "runs": [
            {
                "operator": r.operator,
                "started": _utc(r.started_at),
                "ended": _utc(r.ended_at) if r.ended_at else "not finished",
                "status": r.status,
            }
            for r in runs
        ],
        "tool_versions": sorted({r.tool_version for r in runs}),
        "profiles": sorted({r.profile for r in runs}),
        "hashsets": sorted(sets.values(), key=lambda h: (h["name"], h.get("imported_at", ""))),
    }


def sfr1_data(case: Case, report: dict[str, Any], context: OpenContext | None = None) -> dict[str, Any]:
    """Everything the SFR1 shows; ``report`` is ``report_data(case)`` (its ``counts`` are the numbers shown)."""
    base = charging_data(case, report)
    entered = current_fields(case)
    counts = report["counts"]
    rows = {ex.label: ex for ex in case.exhibits()}
    exhibits = []
    for ex in base["exhibits"]:
        row = rows[ex["label"]]
        description = json.loads(row.description_json)
        phone = _phone(description)
        exhibits.append(
            {
                **ex,
                "phone": phone,
                "acquisition": (description.get("details") or {}).get("acquisition.method"),
                "details": [
                    Field("Exhibit reference", ex["label"], FROM_CASE),
                    Field("Evidence as read", description.get("summary") or row.source, FROM_CASE),
                    *_fields(entered, ex["label"], EXHIBIT_DETAILS),
                ],
                "method": [
                    *_fields(entered, ex["label"], EXHIBIT_METHOD),
                    Field("Evidence format read", row.backend, FROM_CASE),
                ],
                "runs_method": _exhibit_method(case, row.id),
                "media_rows": _media_rows(ex),
                "other_rows": _other_rows(ex),
                "date_rows": _date_ranges(report["items"], ex["label"]),
                "p2p": _p2p(report, ex["label"]),
                "torrents": _torrents(report, ex["label"]),
                "app_media": _app_media(report, ex["label"]),
            }
        )
    indicators = production_indicators(case, context)
    build = build_digest()  # hashes every installed file: once per SFR1
    return {
        **base,
        "title": "Streamlined Forensic Report (SFR1): indecent images of children, summary of examination",
        "sfr": [
            Field("Case folder reference", base["case_reference"], FROM_CASE),
            Field("Report date (UTC)", base["generated_at"], FROM_CASE),
            Field("SFR type", SFR_TYPE, FROM_CASE),
            Field("SFR version", str(_sfr_version(case)), FROM_CASE),
        ],
        "summary_statement": SUMMARY_STATEMENT,
        "ai_statement": AI_STATEMENT,
        "validation": validation_statement(build),
        "sections": [(title, _fields(entered, None, names)) for title, names in SECTIONS],
        "exhibits": exhibits,
        "total_rows": _media_rows(counts["total"]),
        "total_date_rows": _date_ranges(report["items"], None),
        "deduplicated": counts["deduplicated"],
        "deduplicated_rows": _media_rows(counts["deduplicated"]),
        "total_other_rows": _other_rows(counts["total"]),
        "deduplicated_other_rows": _other_rows(counts["deduplicated"]),
        "counted_codes": list(COUNTED_GRADES),
        "short_labels": {c: c if c in UK_GRADES else c.capitalize() for c in COUNTED_GRADES},
        "app_kinds": APP_KIND_TEXT,
        "p2p": _p2p(report, None),
        "app_media": _app_media(report, None),
        "production_indicators": len(indicators.found),
        "production_unread": indicators.unread,
        "search_terms": int(report.get("search_terms_count", 0)),
        "phone_limitations": _limitations(exhibits, report, case.path),
        "deduplication_rule": counts["deduplication_rule"],
        "build_digest": build,
        "missing": missing_fields(case),
        "author": entered.get((None, "author")),
        "author_role": entered.get((None, "role")),
        "FROM_CASE": FROM_CASE,
        "NOT_ENTERED": NOT_ENTERED,
    }


def validation_statement(build: str) -> dict[str, Any]:
    """What the SFR1 says of method validation: the last ``safenet validate`` run recorded in this installation
    (date, version, build digest, result, the report's SHA-256), or that none is recorded; ``build``: the
    running build's digest (``build_digest``), to tell whether that run was made with it."""
    from safenet.validation.record import last_validation

    last = last_validation()
    if last is None:
        return {"recorded": False, "text": "No method validation run is recorded in this installation."}
    outcome = (
        f"all {last.requirements} requirements passed"
        if last.passed
        else f"FAILED: {', '.join(last.failed)} (of {last.requirements} requirements)"
    )
    return {
        "recorded": True,
        "passed": last.passed,
        "text": (
            f"last run {last.at.strftime('%Y-%m-%d %H:%M')} UTC with Safenet {last.tool_version} "
            f"(build {last.build_digest[:12]}): {outcome}; its report's SHA-256 is {last.report_sha256}"
        ),
        "current_build": last.build_digest == build,
    }


def render_sfr1_html(data: dict[str, Any]) -> str:
    return render("sfr1.html", doc=data)


def _open_case_data(report: dict[str, Any], context: OpenContext | None) -> dict[str, Any]:
    case = Case.open_existing(Path(report["case"]))
    try:
        return sfr1_data(case, report, context)
    finally:
        case.close()


def write_sfr1_html(report: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    write_owner_only(path, render_sfr1_html(_open_case_data(report, context)).encode("utf-8"))


def write_sfr1_pdf(report: dict[str, Any], path: Path, context: OpenContext | None = None) -> None:
    write_owner_only(path, html_to_pdf(render_sfr1_html(_open_case_data(report, context))))


def _removed_when(removed: object) -> str:
    """ ", on <date> at <time> UTC," for the removal time the acquisition record holds ("" where it holds none,
    or holds something that is not a zoned time: a record written before removal times were kept, or edited; a
    time without a zone is never shifted by the host's own zone into a time labelled UTC)."""
    try:
        at = datetime.fromisoformat(removed) if isinstance(removed, str) else None
    except ValueError:
        return ""
    if at is None or at.tzinfo is None:
        return ""
    at = at.astimezone(UTC)
    return f", on {at:%Y-%m-%d} at {at:%H:%M:%S} UTC,"
