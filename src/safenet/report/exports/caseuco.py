"""CASE/UCO 1.5 JSON-LD export (docs/formats.md, CASE/UCO), validated in the tests with ``case_validate``.

Each item is a ``uco-observable:File`` with a ``FileFacet`` (name, path, size, times) and a
``ContentDataFacet`` holding its hashes (``hashMethod`` as a plain string, as UCO 1.4+ requires). The
grade goes in a ``uco-core:Annotation`` that names the file, its category and who graded it. Node ids are
UUIDv5 from the case and item, so a re-export of the same case gives the same graph.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from safenet import __version__
from safenet.case.store import Case
from safenet.report.exports import ExportItem
from safenet.report.times import utc_text

CONTEXT = {
    "kb": "http://example.org/kb/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_HASHES = (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"))


def export_case_uco(case: Case, items: list[ExportItem]) -> bytes:
    root = case.path.resolve().as_uri()

    def node(kind: str, *key: object) -> str:
        return f"kb:{kind}-{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join([root, kind, *map(str, key)]))}"

    tool = {
        "@id": node("Tool"),
        "@type": "uco-tool:Tool",
        "uco-core:name": "Safenet",
        "uco-tool:version": __version__,
    }
    graph: list[dict[str, Any]] = [tool]
    for item in items:
        file_id = node("File", item.item_id)
        facet: dict[str, Any] = {
            "@id": node("FileFacet", item.item_id),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": item.name,
            "uco-observable:filePath": item.path,
            "uco-observable:isDirectory": False,
        }
        if item.size is not None:
            facet["uco-observable:sizeInBytes"] = {"@type": "xsd:integer", "@value": str(item.size)}
        for key, value in (
            ("modifiedTime", item.modified),
            ("accessedTime", item.accessed),
            ("observableCreatedTime", item.created),
        ):
            if value is not None:
                text = utc_text(value, item.time_zone_known)
                facet[f"uco-observable:{key}"] = {"@type": "xsd:dateTime", "@value": text}
        facets: list[dict[str, Any]] = [facet]
        hashes = [
            {
                "@id": node("Hash", item.item_id, method),
                "@type": "uco-types:Hash",
                "uco-types:hashMethod": method,
                "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value.lower()},
            }
            for method, attr in _HASHES
            if (value := getattr(item, attr))
        ]
        if hashes:
            content: dict[str, Any] = {
                "@id": node("ContentDataFacet", item.item_id),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:hash": hashes,
            }
            if item.size is not None:
                content["uco-observable:sizeInBytes"] = {"@type": "xsd:integer", "@value": str(item.size)}
            facets.append(content)
        graph.append(
            {
                "@id": file_id,
                "@type": "uco-observable:File",
                "uco-core:description": f"exhibit {item.exhibit}; {'deleted or carved' if item.deleted else 'live'}",
                "uco-core:hasFacet": facets,
            }
        )
        if item.category:
            by = "trusted hash-set grade"
            if item.examiner:
                by = f"examiner {item.examiner}" + (f", confirmed by {item.confirmed_by}" if item.confirmed_by else "")
            graph.append(
                {
                    "@id": node("Annotation", item.item_id),
                    "@type": "uco-core:Annotation",
                    "uco-core:object": [{"@id": file_id}],
                    "uco-core:statement": f"UK category {item.category} ({by})",
                    "uco-core:tag": [f"uk-category:{item.category}"],
                }
            )
    document = {"@context": CONTEXT, "@graph": graph}
    return (json.dumps(document, indent=1, ensure_ascii=True) + "\n").encode("ascii")
