"""Leads: what intelligence observed (an IP address sharing or uploading a file with a known hash, at a time).

Imported from NCMEC CyberTipline reports (``ops.cybertip``) or from CSV with a YAML column mapping
(``ops.csvimport``). Duplicate leads are merged, their observation counts summed: the same source reference
from the same source, or the same hash, IP address and observation time. Leads are grouped into subjects by
subscriber address only (entered by an analyst once communications data is returned): an IP address is
shared and reassigned, so leads about the same IP address are not assumed to be about the same household.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore

HASH_KINDS = ("md5", "sha1", "sha256", "ed2k", "btih", "pdq")
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "ed2k": 32, "btih": 40, "pdq": 64}


@dataclass(frozen=True, slots=True)
class LeadView:
    id: str  # "L-12"
    source: str
    source_ref: str
    observed_utc: datetime
    observed_text: str
    observed_zone: str
    ip: str
    port: int | None
    isp: str
    hash_hex: str
    hash_kind: str
    file_name: str
    client_id: str
    observations: int
    subscriber_address: str | None
    subject_id: str | None  # "S-3"


@dataclass(frozen=True, slots=True)
class LeadIn:
    """One lead as a parser read it, before it is stored (``origin``: the file and line or element)."""

    source: str
    source_ref: str
    observed_utc: datetime
    observed_text: str
    observed_zone: str
    ip: str
    port: int | None
    hash_hex: str
    hash_kind: str
    origin: str
    isp: str = ""
    file_name: str = ""
    client_id: str = ""
    observations: int = 1


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[str] = field(default_factory=list)  # lead ids
    merged: list[str] = field(default_factory=list)  # existing lead ids whose observations grew
    warnings: list[str] = field(default_factory=list)  # one sentence each, with the element or line


def import_cybertip(store: OpsStore, actor: Actor, path: Path) -> ImportResult:
    """Import an NCMEC CyberTipline report file (XML); see ``ops.cybertip`` for the elements read."""
    raise NotImplementedError


def import_csv(store: OpsStore, actor: Actor, path: Path, mapping_yaml: Path, source: str) -> ImportResult:
    """Import a CSV with a YAML column mapping; an error is one sentence naming the line (``ImportFailed``)."""
    raise NotImplementedError


def store_leads(store: OpsStore, actor: Actor, leads: list[LeadIn]) -> ImportResult:
    """Add parsed leads, merging duplicates (same source and reference, or same hash + IP + time)."""
    raise NotImplementedError


def list_leads(store: OpsStore, actor: Actor, *, order: str = "priority") -> list[LeadView]:
    """Every lead; ``priority``: by subject risk level, then observations, then newest; ``time``: newest first."""
    raise NotImplementedError


def lead(store: OpsStore, actor: Actor, lead_id: str) -> LeadView:
    raise NotImplementedError


def set_subscriber(store: OpsStore, actor: Actor, lead_id: str, address: str) -> str:
    """Enter the subscriber address returned for a lead; groups it into the subject of that address
    (made on first use). Returns the subject id ("S-3")."""
    raise NotImplementedError
