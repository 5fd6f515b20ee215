"""``safenet items``: every recorded item of a case, one line or object each, as a table, CSV or JSON.

The JSON report lists only items with a finding or a grade; this listing is the whole record: every file,
archive member, carve, cache entry, embedded picture and region the triage recorded, with its locator,
size, times (``report.times``: local time without an offset where the zone is unknown), digests and flags.
Rows are written as they are read, so a case of millions of items is listed in constant memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from safenet.case.schema import ItemRow
from safenet.evidence.locator import display_safe
from safenet.report.times import human_time, iso_time
from safenet.report.writers import csv_cell

Listed = tuple[ItemRow, str, bool]  # (row, exhibit label, matched by an illicit set)

LISTING_COLUMNS = (
    "item_id",
    "exhibit",
    "path",
    "name",
    "locator",
    "parent_id",
    "size",
    "filetype",
    "media_kind",
    "status",
    "deleted",
    "carved",
    "extension_mismatch",
    "matched",
    "modified",
    "accessed",
    "changed",
    "created",
    "time_source",
    "time_zone_known",
    "md5",
    "sha1",
    "sha256",
    "ed2k",
    "pdq",
    "note",
)


def listing_entry(row: ItemRow, label: str, matched: bool) -> dict[str, Any]:
    """One item as the JSON listing writes it (the CSV writes the locator as its JSON text)."""
    zone = row.time_zone_known
    return {
        "item_id": row.id,
        "exhibit": label,
        "path": row.display,
        "name": row.name,
        "locator": json.loads(row.locator),
        "parent_id": row.parent_id,
        "size": row.size,
        "filetype": row.filetype,
        "media_kind": row.media_kind,
        "status": row.status,
        "deleted": row.deleted,
        "carved": row.carved,
        "extension_mismatch": row.extension_mismatch,
        "matched": matched,
        "modified": iso_time(row.modified, zone),
        "accessed": iso_time(row.accessed, zone),
        "changed": iso_time(row.changed, zone),
        "created": iso_time(row.created, zone),
        "time_source": row.time_source,
        "time_zone_known": zone,
        "md5": row.md5,
        "sha1": row.sha1,
        "sha256": row.sha256,
        "ed2k": row.ed2k,
        "pdq": row.pdq,
        "note": row.note,
    }


def write_json(rows: Iterable[Listed], out: TextIO) -> int:
    """A JSON array, one object per item, written as the rows come."""
    count = 0
    out.write("[")
    for row, label, matched in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(listing_entry(row, label, matched), ensure_ascii=True))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_csv(rows: Iterable[Listed], out: TextIO) -> int:
    """A header row, then one row per item; cells a spreadsheet would run as formulas are prefixed with '."""
    writer = csv.writer(out)
    writer.writerow(LISTING_COLUMNS)
    count = 0
    for row, label, matched in rows:
        entry = listing_entry(row, label, matched)
        entry["locator"] = row.locator
        writer.writerow([csv_cell(entry[column]) for column in LISTING_COLUMNS])
        count += 1
    return count


TABLE_LEGEND = (
    "flags: D deleted, C carved, M matched by an illicit hash set, X extension does not match the content; "
    "times are UTC unless marked local time, zone unknown"
)


def _flags(row: ItemRow, matched: bool) -> str:
    flags = (("D", row.deleted), ("C", row.carved), ("M", matched), ("X", row.extension_mismatch))
    return "".join(letter for letter, on in flags if on) or "-"


def _line(*cells: str) -> str:
    item_id, exhibit, status, flags, size, modified, md5, path = cells
    return f"{item_id:>8}  {exhibit:<10} {status:<10} {flags:<5} {size:>12}  {modified:<47} {md5:<32}  {path}\n"


def write_table(rows: Iterable[Listed], out: TextIO) -> int:
    """Aligned columns for people: id, exhibit, status, flags, size, modified time, MD5, path."""
    out.write(_line("id", "exhibit", "status", "flags", "size", "modified", "md5", "path"))
    count = 0
    for row, label, matched in rows:
        size = "" if row.size is None else f"{row.size:,}"
        modified = human_time(row.modified, row.time_zone_known)
        cells = (str(row.id), display_safe(label), row.status, _flags(row, matched), size, modified)
        out.write(_line(*cells, row.md5 or "", row.display))
        count += 1
    return count


LISTING_FORMATS: dict[str, Callable[[Iterable[Listed], TextIO], int]] = {
    "table": write_table,
    "csv": write_csv,
    "json": write_json,
}
