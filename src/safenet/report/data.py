"""The complete, machine-readable report (JSON; schema in report/report.schema.json).

Everything the HTML, CSV and charging reports show comes from here, so they never disagree: ``counts`` and
each item's ``grading`` come from ``report.categorisation``; ``totals`` and the exhibits' ``categories`` are
what the hash sets matched before any examiner grading (the triage verdict).
"""

from __future__ import annotations

import json
from typing import Any

from safenet.case.activity import P2PRecordView, TorrentCheckView, p2p_records, search_term_count, torrent_checks
from safenet.case.clusters import cluster_report
from safenet.case.queries import item_rows, items_with_findings, warnings_with_labels
from safenet.case.schema import Finding, ItemRow
from safenet.case.store import Case
from safenet.report.categorisation import Categorisation, ItemCategory, categorise
from safenet.report.summary import CaseSummary, ExhibitSummary, summarise
from safenet.report.times import iso_time

SCHEMA_ID = "https://safenet.invalid/schemas/report-8.json"
REPORT_VERSION = 8  # 2: perceptual findings (distance, orientation, trimmed), item PDQ, clusters; 3: video;
# 4: each item's provenance note (recoverability of a deleted file, carve validation, cache URL, embedding);
# 5: examiner grades: ``counts`` (the categorisation every report shows), items graded without a finding,
# each item's id and ``grading`` (counted category, provenance, current and superseded grades); 6: an item's
# times whose zone is unknown (time_zone_known false) are local time without an offset, no longer "+00:00";
# 7: each count row's accessibility split and video duration, ``counts.deduplicated`` and its rule; 8: P2P
# clients' file records (``p2p_records``, with their hash-set matches and the item each is linked to), how many
# search terms were recovered (``search_terms_count``; the terms are restricted output), each .torrent's pieces
# checked against its files on the exhibit (``torrent_checks``), an exhibit's authority


def _exhibit(summary: ExhibitSummary) -> dict[str, Any]:
    return {
        "label": summary.label,
        "source": summary.source,
        "backend": summary.backend,
        "runs": summary.runs,
        "hits": summary.hits,
        "categories": [row.as_dict() for row in summary.rows.values()],
        "items_by_status": dict(sorted(summary.items.items())),
        "known_good_items": summary.known_good,
        "warnings_by_code": dict(sorted(summary.warnings.items())),
        "not_examined": summary.not_examined,
        "authority": summary.authority,
    }


def _p2p_record(view: P2PRecordView) -> dict[str, Any]:
    """A record for the JSON report. A record of known material keeps its name and save path out: they are
    restricted output (``--format restricted``), like search terms; its hashes, counters and matches stay."""
    known = view.known_material
    return {
        "record_id": view.record_id,
        "exhibit": view.exhibit,
        "client": view.client,
        "artefact": view.artefact,
        "artefact_item_id": view.artefact_item_id,
        "artefact_path": view.artefact_display,
        "index": view.index,
        "name": None if known else view.name,
        "size": view.size,
        "hashes": view.hashes,
        "shared": view.shared,
        "completed": view.completed,
        "uploaded_bytes": view.uploaded_bytes,
        "upload_requests": view.upload_requests,
        "accepted_requests": view.accepted_requests,
        "added": iso_time(view.added, view.zone_known),
        "completed_at": iso_time(view.completed_at, view.zone_known),
        "last_shared": iso_time(view.last_shared, view.zone_known),
        "zone_known": view.zone_known,
        "save_path": None if known else view.save_path,
        "linked_item_id": view.linked_item_id,
        "known_material": known,
        "known": [
            {
                "hashset": m.hashset,
                "set_kind": m.set_kind,
                "hash_kind": m.hash_kind,
                "category": m.category,
                "category_raw": m.category_raw,
                "scheme": m.scheme,
            }
            for m in view.known
        ],
    }


def _torrent_check(view: TorrentCheckView, restricted: bool) -> dict[str, Any]:
    """A torrent's piece check for the JSON report. ``restricted``: its torrent record is of known material, so
    the torrent's name and its files' paths are kept out, as the record's name is (``_p2p_record``); its hashes,
    counts and the items read stay."""
    return {
        "check_id": view.check_id,
        "exhibit": view.exhibit,
        "record_id": view.record_id,
        "torrent_item_id": view.torrent_item_id,
        "torrent_path": view.torrent_display,  # the item's path, as the report's items list gives it
        "name": None if restricted else view.name,
        "info_hash": view.info_hash,
        "status": view.status,
        "pieces": view.pieces,
        "matched": view.matched,
        "mismatched": view.mismatched,
        "unavailable": view.unavailable,
        "files_found": view.files_found,
        "files_missing": view.files_missing,
        "files_ambiguous": view.files_ambiguous,
        "problem": view.problem,
        "files": [{**f, "path": None if restricted else f.get("path")} for f in view.files],
    }


def _item_entry(item: ItemRow, label: str, categorised: ItemCategory | None) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "exhibit": label,
        "locator": json.loads(item.locator),
        "path": item.display,
        "name": item.name,
        "size": item.size,
        "filetype": item.filetype,
        "media_kind": item.media_kind,
        "extension_mismatch": item.extension_mismatch,
        "deleted": item.deleted,
        "carved": item.carved,
        "note": item.note,
        "modified": iso_time(item.modified, item.time_zone_known),
        "accessed": iso_time(item.accessed, item.time_zone_known),
        "changed": iso_time(item.changed, item.time_zone_known),
        "created": iso_time(item.created, item.time_zone_known),
        "time_source": item.time_source,
        "time_zone_known": item.time_zone_known,
        "md5": item.md5,
        "sha1": item.sha1,
        "sha256": item.sha256,
        "ed2k": item.ed2k,
        "pdq": item.pdq,
        "pdq_quality": item.pdq_quality,
        "pdq_low_quality": item.pdq_low_quality,
        "video_duration_s": item.video_duration_s,
        "video_codec": item.video_codec,
        "video_width": item.video_width,
        "video_height": item.video_height,
        "grading": categorised.as_dict() if categorised is not None else None,
        "findings": [],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "hashset": finding.hashset,
        "hashset_sha256": finding.hashset_sha256,
        "set_kind": finding.set_kind,
        "hash_kind": finding.hash_kind,
        "match_kind": finding.match_kind,
        "category": finding.category,
        "category_raw": finding.category_raw,
        "scheme": finding.scheme,
        "entry": finding.entry,
        "distance": finding.distance,
        "orientation": finding.orientation,
        "trimmed": finding.trimmed,
        "frames": json.loads(finding.frames) if finding.frames else None,
    }


def _items(case: Case, categorised: Categorisation) -> list[dict[str, Any]]:
    """Every item with a finding or an examiner grade (current or superseded), by exhibit, path and id."""
    out: dict[int, dict[str, Any]] = {}
    graded = sorted(i for i, c in categorised.items.items() if c.graded)
    for item, finding, label in items_with_findings(case):
        entry = out.get(item.id)
        if entry is None:
            entry = out[item.id] = _item_entry(item, label, categorised.items.get(item.id))
        entry["findings"].append(_finding(finding))
    for item, label in item_rows(case, (i for i in graded if i not in out)):  # graded, no set matched
        out[item.id] = _item_entry(item, label, categorised.items.get(item.id))
    return sorted(out.values(), key=lambda e: (e["exhibit"], e["path"], e["item_id"]))


def _warnings(case: Case) -> list[dict[str, Any]]:
    return [
        {
            "exhibit": label,
            "run": w.run_id,
            "code": w.code,
            "message": w.message,
            "locator": json.loads(w.locator) if w.locator else None,
            "path": w.display,
            "at": w.at.isoformat(),
        }
        for w, label in warnings_with_labels(case)
    ]


def report_data(case: Case, summary: CaseSummary | None = None) -> dict[str, Any]:
    summary = summary or summarise(case)
    categorised = categorise(case)
    audit = case.audit.verify()
    records = p2p_records(case)
    known = {view.record_id for view in records if view.known_material}
    return {
        "$schema": SCHEMA_ID,
        "report_version": REPORT_VERSION,
        "generated_at": summary.generated_at.isoformat(),
        "tool": {"name": "safenet", "version": summary.tool_version},
        "case": str(case.path.resolve()),
        "audit": {
            "intact": audit.ok,
            "entries": audit.entries,
            "last_sha256": audit.last_hash,
            "problem": audit.problem,
        },
        "hashsets": summary.hashsets,
        "totals": {"hits": summary.hits, "categories": [row.as_dict() for row in summary.total.values()]},
        "counts": categorised.as_dict(),
        "exhibits": [_exhibit(e) for e in summary.exhibits],
        "items": _items(case, categorised),
        "warnings": _warnings(case),
        "clusters": cluster_report(case),
        "p2p_records": [_p2p_record(view) for view in records],
        "search_terms_count": search_term_count(case),
        "torrent_checks": [_torrent_check(view, view.record_id in known) for view in torrent_checks(case)],
    }
