"""Examiner-entered fields of a case and of its exhibits: what an SFR1 needs that no run can know (the URN,
the warrant, the author, each exhibit's seal and where it was found).

Each field is one row of ``case_fields`` and one audited ``case-field-set`` line (the row as stored), so
``verify`` re-derives the table from the log. A value is never changed in place: setting a field again adds a
row, and the newest row per (exhibit, field) is current. Values are checked here, before anything is written;
a bad one is refused with one sentence naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the field specs are read by `safenet case set --help`: YAML and the store load on use
    from safenet.case.schema import CaseFieldRow
    from safenet.case.store import Case

FIELD_EVENT = "case-field-set"
MAX_VALUE = 4000  # a declaration is a paragraph, not a document


class FieldError(ValueError):
    """A field name or value the examiner gave is not acceptable; the message is one sentence."""


def _text(value: str) -> str | None:
    return None


def _date(value: str) -> str | None:
    try:
        date.fromisoformat(value)
    except ValueError:
        return "a date written YYYY-MM-DD"
    return None


def _imei(value: str) -> str | None:
    digits = value.replace(" ", "").replace("-", "")
    if not (digits.isdigit() and len(digits) in (14, 15, 16)):
        return "14 to 16 digits (an IMEI, or IMEISV)"
    return None


def _choice(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)

    return check


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One examiner-entered field: its stored name (never rename), how the SFR1 labels it, whether an SFR1
    is incomplete without it, and its check (None, or what the value must be)."""

    name: str
    label: str
    required: bool = True
    check: Callable[[str], str | None] = _text


CASE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("urn", "URN (case reference)"),
    FieldSpec("force", "Force"),
    FieldSpec("operation", "Operation", required=False),
    FieldSpec("warrant_reference", "Warrant reference"),
    FieldSpec("warrant_date", "Warrant date", check=_date),
    FieldSpec("author", "Author"),
    FieldSpec("role", "Role"),
    FieldSpec("unit", "Unit"),
    FieldSpec("contact", "Contact"),
    FieldSpec("accreditation_status", "Accreditation status", check=_choice("accredited", "not-accredited")),
    FieldSpec("accreditation", "Accreditation declaration (ISO/IEC 17025 scope or non-compliance)"),
    FieldSpec("fsr_declaration", "Forensic Science Regulator Code declaration"),
)
EXHIBIT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("seal", "Seal number"),
    FieldSpec("make", "Make"),
    FieldSpec("model", "Model"),
    FieldSpec("serial", "Serial number"),
    FieldSpec("imei", "IMEI", required=False, check=_imei),
    FieldSpec("capacity", "Capacity"),
    FieldSpec("where_found", "Where found"),
    FieldSpec("state_at_seizure", "State at seizure"),
    FieldSpec("examined_at", "Examined", check=_choice("on-scene", "lab")),
    FieldSpec("acquisition", "Acquisition type"),
    FieldSpec("write_blocking", "Write-blocking"),
    # the power relied on to examine it (e.g. the warrant reference); also `safenet triage --authority`
    FieldSpec("authority", "Authority (power relied on)", required=False),
)
_BY_SCOPE = {False: {f.name: f for f in CASE_FIELDS}, True: {f.name: f for f in EXHIBIT_FIELDS}}
_NAME = re.compile(r"[a-z_]{1,60}")


def spec(name: str, *, exhibit: bool) -> FieldSpec:
    """The field ``name`` of a case (``exhibit`` False) or of an exhibit; an unknown name is refused."""
    found = _BY_SCOPE[exhibit].get(name)
    if found is None:
        scope = "an exhibit" if exhibit else "the case"
        if name in _BY_SCOPE[not exhibit]:
            where = "of the case (leave out --exhibit)" if exhibit else "of an exhibit (add --exhibit LABEL)"
            raise FieldError(f"'{name}' is not a field of {scope} but {where}")
        raise FieldError(f"'{name}' is not a field of {scope}; known fields: {', '.join(_BY_SCOPE[exhibit])}")
    return found


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``field=value`` arguments as a mapping; a malformed one is refused."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise FieldError(f"'{pair}' is not field=value (field names are lower-case words joined by _)")
        if name in values:
            raise FieldError(f"{name} is given twice; give each field once")
        values[name] = value
    return values


def read_declarations(path: Path) -> dict[str, str]:
    """A force's declarations file (YAML: field name -> text), e.g. its accreditation and FSR Code wording."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FieldError(f"{path} cannot be read as a YAML declarations file ({exc.__class__.__name__})") from exc
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
        raise FieldError(f"{path} must be a YAML mapping of field names to texts (e.g. fsr_declaration: ...)")
    return dict(loaded)


def _checked(values: Mapping[str, str], *, exhibit: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in values.items():
        field = spec(name, exhibit=exhibit)
        value = raw.strip()
        if not value:
            raise FieldError(f"{name} is empty; give a value (a field cannot be unset, only set again)")
        if len(value) > MAX_VALUE:
            raise FieldError(f"{name} is {len(value):,} characters long; at most {MAX_VALUE:,} are kept")
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise FieldError(f"{name} contains control characters; type it as plain text")
        if (wanted := field.check(value)) is not None:
            raise FieldError(f"{name} '{value}' is not {wanted}")
        out[name] = value
    return out


def check_fields(values: Mapping[str, str], *, exhibit: bool) -> dict[str, str]:
    """The values as they would be stored (stripped), or FieldError naming the first bad one; writes nothing."""
    return _checked(values, exhibit=exhibit)


def set_fields(case: Case, values: Mapping[str, str], user: str, *, exhibit: str | None = None) -> list[int]:
    """Store examiner-entered fields (all or none) and audit each; returns the new rows' ids."""
    from sqlalchemy import select

    from safenet.case.schema import CaseFieldRow, Exhibit
    from safenet.case.store import row_facts

    if not values:
        raise FieldError("no field given; write field=value (for example urn=01AB2345678)")
    checked = _checked(values, exhibit=exhibit is not None)
    if exhibit is not None:
        with case.sessions() as s:
            labels = list(s.scalars(select(Exhibit.label).order_by(Exhibit.label)))
        if exhibit not in labels:
            raise FieldError(f"exhibit '{exhibit}' is not in this case (its exhibits: {', '.join(labels) or 'none'})")
    CaseFieldRow.metadata.tables[CaseFieldRow.__tablename__].create(
        case.engine, checkfirst=True
    )  # a version-6 case made before the table
    now = datetime.now(UTC)
    with case.writing() as s:
        rows = [CaseFieldRow(exhibit=exhibit, field=k, value=v, user=user, at=now) for k, v in checked.items()]
        s.add_all(rows)
        s.flush()
    case.audit.append_many([(FIELD_EVENT, {"row": row_facts(row)}) for row in rows])
    return [row.id for row in rows]


def field_rows(case: Case) -> list[CaseFieldRow]:
    """Every stored field row, oldest first (none when the table was never created)."""
    from sqlalchemy import inspect, select

    from safenet.case.schema import CaseFieldRow

    if not inspect(case.engine).has_table(CaseFieldRow.__tablename__):
        return []
    with case.sessions() as s:
        return list(s.scalars(select(CaseFieldRow).order_by(CaseFieldRow.id)))


@dataclass(frozen=True, slots=True)
class EnteredValue:
    value: str
    user: str
    at: datetime


def current_fields(case: Case) -> dict[tuple[str | None, str], EnteredValue]:
    """(exhibit label or None for the case, field) -> its current value, who entered it and when."""
    return {(r.exhibit, r.field): EnteredValue(r.value, r.user, r.at) for r in field_rows(case)}
