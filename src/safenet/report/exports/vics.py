"""VICS 2.0 ``#Cases`` export, UK profile (docs/formats.md, exports): what goes back to CAID and Griffeye.

One Media per distinct MD5 with every instance in ``MediaFiles[]``; ``Category`` is the vics-uk code of the
item's settled grade as every report counts it (``report.categorisation``: a trusted hash-set grade or an
examiner's grade; the code comes from the scheme file, so a force that corrects the codes corrects the export
too) and absent when there is none (ungraded, uncertain, or only an indicative hash-set grade, which is a
lead). Counting files per ``Category`` gives the reports' settled counts (trusted + examiner + confirmed per
category, and "not indecent"), except where copies of one MD5 were graded differently: VICS keys on the MD5,
so all its files take the most severe of their grades. Booleans are JSON booleans; ``MediaID`` is an integer.
Items without an MD5 cannot be expressed in VICS (MD5 is its key) and are left out. Safenet's own importer
reads the result back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from safenet import __version__
from safenet.case.store import Case
from safenet.hashsets.categories import get_scheme
from safenet.hashsets.categories import severity as uk_severity
from safenet.report.exports import ExportItem
from safenet.report.times import utc_text

VICS_UK_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases"
SCHEME = "vics-uk"


def _uk_to_code() -> dict[str, int]:
    """Inverse of the vics-uk scheme's mapping (first code wins), e.g. {"A": 1, ...}."""
    out: dict[str, int] = {}
    for code, uk in get_scheme(SCHEME).to_uk.items():
        if code.isdigit():
            out.setdefault(uk, int(code))
    return out


def case_guid(case: Case) -> str:
    """Stable per case folder, so re-exports of one case carry one CaseID."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, case.path.resolve().as_uri())).upper() + "}"


def export_vics(case: Case, items: list[ExportItem]) -> bytes:
    codes = _uk_to_code()
    media: dict[str, dict[str, Any]] = {}
    categories: dict[str, list[str]] = {}
    for item in items:
        if not item.md5:
            continue
        md5 = item.md5.upper()
        entry = media.get(md5)
        if entry is None:
            entry = media[md5] = {"MediaID": len(media) + 1, "MD5": md5}
            if item.sha1:
                entry["SHA1"] = item.sha1.upper()
            if item.size is not None:
                entry["MediaSize"] = item.size
            entry["MediaFiles"] = []
        if item.pdq and "PDQ" not in entry:
            entry["PDQ"] = item.pdq
        if item.category:
            categories.setdefault(md5, []).append(item.category)
        instance: dict[str, Any] = {
            "MD5": md5,
            "FileName": item.name,
            "FilePath": item.path,
            "Deleted": item.deleted,
            "SourceID": item.exhibit,
        }
        for key, value in (("Created", item.created), ("Written", item.modified), ("Accessed", item.accessed)):
            if value is not None:
                instance[key] = utc_text(value, item.time_zone_known)
        entry["MediaFiles"].append(instance)
    for md5, found in categories.items():
        best = max(found, key=uk_severity)  # two instances graded differently: the more severe grade
        if best in codes:
            media[md5]["Category"] = codes[best]
            media[md5]["IsPrecategorized"] = True
    document = {
        "@odata.context": VICS_UK_CONTEXT,
        "value": [
            {
                "CaseID": case_guid(case),
                "CaseNumber": case.path.name,
                "SourceApplicationName": "Safenet",
                "SourceApplicationVersion": __version__,
                "TotalMediaFiles": sum(len(m["MediaFiles"]) for m in media.values()),
                "Media": list(media.values()),
            }
        ],
    }
    return (json.dumps(document, indent=1, ensure_ascii=True) + "\n").encode("ascii")
