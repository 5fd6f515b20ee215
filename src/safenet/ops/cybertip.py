"""Reading NCMEC CyberTipline reports (XML) into leads.

The elements read follow the shapes of NCMEC's public CyberTipline Reporting API schema:
  - ``report`` with ``reportId`` (the CyberTip number, as NCMEC's responses and the reports law enforcement
    receive carry it), ``incidentSummary/incidentDateTime``, and ``personOrUserReported`` whose
    ``ipCaptureEvent`` elements hold ``ipAddress``, ``port``, ``dateTime`` and ``eventName``;
  - ``fileDetails`` (inside the report, or beside it naming the report in its own ``reportId``) with
    ``fileId``, ``originalFileName`` (else ``fileName``), ``originalFileHash`` elements whose ``hashType``
    attribute names the hash (MD5, SHA1, SHA256, PDQ; PhotoDNA is not matchable and is left out), and its own
    ``ipCaptureEvent`` elements.
A file holds one ``report`` or any wrapper element around several; other elements are ignored.

One lead per file and IP capture event: the file's own events, else the reported person's. Its time is the
event's ``dateTime``, else the incident's; a time must carry its zone offset (xs:dateTime allows none, but a
time without a zone cannot be placed, and who held an IP address depends on it to the second). The reference
is ``<reportId>/<fileId>`` (``@2``, ``@3`` ... for a file's further events).

The XML is hostile input: it is parsed by expat with a DTD and entities refused (billion laughs, external
entities), text values are kept as data (the dashboard escapes them) and each element is bounded in size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from safenet.ops.errors import ImportFailed
from safenet.ops.leads import LeadIn
from safenet.ops.leadvalues import hash_hex, ip_text, observed, port_number

SOURCE = "cybertip"
HASH_TYPES = {"MD5": "md5", "SHA1": "sha1", "SHA-1": "sha1", "SHA256": "sha256", "SHA-256": "sha256", "PDQ": "pdq"}
HASH_PREFERENCE = ("md5", "sha1", "sha256", "pdq")  # md5 first: every triage profile computes it
MAX_TEXT = 64 * 1024
MAX_DEPTH = 64


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    line: int
    text: str = ""
    children: list[_Node] = field(default_factory=list)

    def all(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def first(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, tag: str) -> str:
        node = self.first(tag)
        return node.text.strip() if node else ""


class _Reader:
    """Builds small trees for each ``report`` and each ``fileDetails`` outside a report; nothing else is kept."""

    KEEP = ("report", "fileDetails")

    def __init__(self, name: str) -> None:
        self.name = name
        self.parser = expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self._refuse
        self.parser.EntityDeclHandler = self._refuse
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._data
        self.stack: list[_Node] = []
        self.depth = 0
        self.reports: list[_Node] = []
        self.loose_files: list[_Node] = []

    def _refuse(self, *_args: object) -> None:
        raise ImportFailed(f"{self.name} declares a DTD or entities, which Safenet refuses to read")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ImportFailed(f"{self.name} line {self.parser.CurrentLineNumber}: elements nested too deep")
        if self.stack or tag in self.KEEP:
            node = _Node(tag, dict(attrs), self.parser.CurrentLineNumber)
            if self.stack:
                self.stack[-1].children.append(node)
            self.stack.append(node)

    def _end(self, tag: str) -> None:
        self.depth -= 1
        if not self.stack:
            return
        node = self.stack.pop()
        if not self.stack:
            (self.reports if node.tag == "report" else self.loose_files).append(node)

    def _data(self, text: str) -> None:
        if self.stack:
            node = self.stack[-1]
            if len(node.text) + len(text) > MAX_TEXT:
                raise ImportFailed(f"{self.name} line {self.parser.CurrentLineNumber}: an element's text is too long")
            node.text += text


def read_cybertip(path: Path) -> tuple[list[LeadIn], list[str]]:
    """The leads in a CyberTipline report file and a warning per file that gave none (one sentence each)."""
    name = path.name
    reader = _Reader(name)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                reader.parser.Parse(chunk, False)
        reader.parser.Parse(b"", True)
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
    except expat.ExpatError as exc:
        raise ImportFailed(f"{name} line {exc.lineno} is not well-formed XML ({expat.ErrorString(exc.code)})") from exc
    if not reader.reports:
        raise ImportFailed(f"{name} holds no CyberTipline report element; is it the right file?")
    loose: dict[str, list[_Node]] = {}
    for node in reader.loose_files:
        loose.setdefault(node.value("reportId"), []).append(node)
    leads: list[LeadIn] = []
    warnings: list[str] = []
    for report in reader.reports:
        report_id = report.value("reportId") or report.attrs.get("reportId", "")
        if not report_id:
            raise ImportFailed(f"{name} line {report.line}: the report has no reportId (its CyberTip number)")
        files = report.all("fileDetails") + loose.pop(report_id, [])
        if not files:
            warnings.append(f"{name} line {report.line}: CyberTip {report_id} lists no file with a hash; no lead")
        person_events = [e for p in report.all("personOrUserReported") for e in p.all("ipCaptureEvent")]
        summary = report.first("incidentSummary")
        incident = summary.first("incidentDateTime") if summary else None
        for file in files:
            leads.extend(_file_leads(name, report_id, file, person_events, incident, warnings))
    for report_id, files in loose.items():
        warnings.append(
            f"{name} line {files[0].line}: fileDetails for CyberTip {report_id!r}, which is not in the file"
        )
    return leads, warnings


def _file_leads(
    name: str, report_id: str, file: _Node, person_events: list[_Node], incident: _Node | None, warnings: list[str]
) -> list[LeadIn]:
    file_id = file.value("fileId") or str(file.line)
    hashes: dict[str, str] = {}
    for node in file.all("originalFileHash"):
        kind = HASH_TYPES.get(node.attrs.get("hashType", "").strip().upper())
        if kind is not None and kind not in hashes:
            with _at(name, node.line):
                hashes[kind] = hash_hex(kind, node.text)
    kind = next((k for k in HASH_PREFERENCE if k in hashes), None)
    events = file.all("ipCaptureEvent") or person_events
    where = f"{name} line {file.line}: CyberTip {report_id} file {file_id}"
    if kind is None:
        warnings.append(f"{where} has no MD5, SHA-1, SHA-256 or PDQ hash; no lead")
        return []
    if not events:
        warnings.append(f"{where} has no IP capture event; no lead")
        return []
    leads = []
    for number, event in enumerate(events, 1):
        time_node = event.first("dateTime") or incident
        if time_node is None:
            raise ImportFailed(
                f"{name} line {event.line}: the IP capture event has no dateTime and the report no incidentDateTime"
            )
        text = time_node.text.strip()
        with _at(name, time_node.line):
            when, zone = observed(text)
        ip_node = event.first("ipAddress")
        with _at(name, ip_node.line if ip_node else event.line):
            ip = ip_text(event.value("ipAddress"))
        with _at(name, event.line):
            port = port_number(event.value("port"))
        leads.append(
            LeadIn(
                source=SOURCE,
                source_ref=f"{report_id}/{file_id}" + (f"@{number}" if number > 1 else ""),
                observed_utc=when,
                observed_text=text,
                observed_zone=zone,
                ip=ip,
                port=port,
                hash_hex=hashes[kind],
                hash_kind=kind,
                origin=f"{name} line {event.line}",
                file_name=file.value("originalFileName") or file.value("fileName"),
                client_id=event.value("eventName"),
            )
        )
    return leads


@contextmanager
def _at(name: str, line: int) -> Iterator[None]:
    """A bad value becomes one sentence naming the file and line."""
    try:
        yield
    except ValueError as exc:
        raise ImportFailed(f"{name} line {line}: {exc}") from exc
