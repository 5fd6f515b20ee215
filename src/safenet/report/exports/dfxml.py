"""DFXML export (docs/formats.md, DFXML): a hash list of graded and matched files, for audit-trail tools,
or with ``--all-items`` a listing of every recorded item (DFXML is a file-listing format).

Written with ElementTree, which escapes every name and path (evidence names are hostile: ``<script>``,
``&``, quotes). Characters XML 1.0 cannot carry at all (control characters) are replaced by ``\\xNN`` text
first, since escaping cannot express them. Element order follows the schema's ``fileobject`` sequence.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from safenet import __version__
from safenet.case.store import Case
from safenet.report.exports import ExportItem
from safenet.report.times import utc_text

NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC = "http://purl.org/dc/elements/1.1/"
VERSION = "1.2.0"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        element.text = _text(text)
    return element


def export_dfxml(case: Case, items: list[ExportItem]) -> bytes:
    ET.register_namespace("", NS)
    ET.register_namespace("dc", DC)
    root = ET.Element(f"{{{NS}}}dfxml", {"version": VERSION})
    metadata = _sub(root, "metadata")
    ET.SubElement(metadata, f"{{{DC}}}type").text = "Hash List"
    creator = _sub(root, "creator", version="1.0")
    _sub(creator, "program", "Safenet")
    _sub(creator, "version", __version__)
    env = _sub(creator, "execution_environment")
    _sub(env, "start_time", utc_text(datetime.now(UTC)))
    source = _sub(root, "source")
    _sub(source, "image_filename", str(case.path.resolve()))
    for item in items:
        obj = _sub(root, "fileobject")
        _sub(obj, "filename", item.path)
        _sub(obj, "id", str(item.item_id))
        if item.size is not None:
            _sub(obj, "filesize", str(item.size))
        _sub(obj, "alloc", "0" if item.deleted else "1")
        for tag, value in (
            ("mtime", item.modified),
            ("ctime", item.changed),
            ("atime", item.accessed),
            ("crtime", item.created),
        ):
            if value is not None:
                _sub(obj, tag, utc_text(value, item.time_zone_known))
        for kind in ("md5", "sha1", "sha256"):
            digest = getattr(item, kind)
            if digest:
                _sub(obj, "hashdigest", digest.lower(), type=kind)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
