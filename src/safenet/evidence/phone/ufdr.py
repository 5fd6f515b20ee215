"""Cellebrite UFDR report packages: a zip holding ``report.xml`` and the extracted files.

``report.xml`` (namespace ``http://pa.cellebrite.com/report/2.0``) gives the device (``metadata
section="Device Info"`` items: manufacturer, model, IMEI, serial, OS version ...), the extractions
(``sourceExtractions/extractionInfo``) and the file listing (``taggedFiles/file``: ``fs``, ``path``, ``size``,
``deleted``, times under ``accessInfo``, and in its metadata ``Local Path``, the file's member in the zip, and
its MD5/SHA-256, as metadata items or as ``hash`` elements). Items are the listed files, addressed by their
path on the device; their bytes come from the zip member. Members the listing does not name are items too
(addressed by member name), so nothing in the package goes unexamined.

The XML is hostile: it is parsed incrementally (reports run to gigabytes) with a DTD and entities refused. A
report that cannot be used is a warning, and every member of the zip is then examined by name.

The digests the report lists are checked against Safenet's after hashing (``engine.listed``): where they
differ, ``ufdr-hash-mismatch`` names the file and both values.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar
from xml.parsers import expat

from safenet.evidence.archives.fields import leaf_name
from safenet.evidence.archives.zipdir import Entry
from safenet.evidence.directory import regular_file
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
    TimeSource,
    Timestamp,
    WarningSink,
)
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    Platform,
    check_name,
    device_locator,
    file_layer,
    to_details,
)
from safenet.evidence.phone.tarstream import CHUNK
from safenet.evidence.phone.zipfiles import ZipFiles, central_entries, looks_like_zip
from safenet.reasons import reason_of

NS = "http://pa.cellebrite.com/report/2.0"  # elements are matched by local name, in any namespace
REPORT = "report.xml"
MISMATCH_CODE = "ufdr-hash-mismatch"  # recorded by engine.listed where a listed digest differs
MEMBER = "member"  # PATH detail of a zip member the report does not list (value: the member name)
_DIGESTS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256"}
_DIGEST_LENGTHS = {"md5": 16, "sha1": 20, "sha256": 32}
_TIMES = {"modifytime": "modified", "accesstime": "accessed", "creationtime": "created", "changetime": "changed"}
# Device Info item names, lower-cased with "DeviceInfo", "Selected", "Detected", spaces and "_" taken out.
_IDENTITY = {
    "manufacturer": "manufacturer",
    "vendor": "manufacturer",
    "model": "model",
    "modelnumber": "model",
    "devicemodel": "model",
    "serial": "serial",
    "serialnumber": "serial",
    "imei": "imei",
    "imei1": "imei",
    "udid": "udid",
    "uniqueid": "udid",
    "osversion": "os_version",
    "androidversion": "os_version",
    "iosversion": "os_version",
    "ownername": "name",
    "ostype": "platform",
    "platform": "platform",
}
_NAME_NOISE = re.compile(r"deviceinfo|selected|detected|[\s_]")


@dataclass(slots=True)
class Listed:
    """One ``taggedFiles/file`` of the report."""

    path: str
    size: int | None
    local_path: str
    deleted: bool
    digests: dict[str, bytes] = field(default_factory=dict)
    times: dict[str, Timestamp] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    identity: dict[str, str] = field(default_factory=dict)
    extractions: list[str] = field(default_factory=list)
    version: str = ""
    files: list[Listed] = field(default_factory=list)


def _local(name: str) -> str:
    """An element name without its namespace (expat gives ``namespace}name``)."""
    return name.rpartition("}")[2]


def _digest(name: str, text: str) -> tuple[str, bytes] | None:
    algorithm = _DIGESTS.get(name.strip().lower())
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        return None
    if algorithm is None or len(value) != _DIGEST_LENGTHS[algorithm]:
        return None
    return algorithm, value


def _time(text: str) -> Timestamp | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return Timestamp(value.replace(tzinfo=UTC), TimeSource.FS_METADATA, 1e-3, zone_known=False)
    return Timestamp(value.astimezone(UTC), TimeSource.FS_METADATA, 1e-3)


def _listed(elem: ET.Element) -> Listed | None:
    path = elem.get("path")
    if not path:
        return None
    size_text = elem.get("size", "")
    deleted = elem.get("deleted", "").strip().lower() in ("deleted", "true", "trash")
    entry = Listed(path, int(size_text) if size_text.isdigit() else None, "", deleted)
    for child in elem.iter():
        tag = child.tag
        if tag == "item" and child.get("name", "").strip().lower() == "local path":
            entry.local_path = (child.text or "").strip()
        elif tag in ("item", "hash"):
            found = _digest(child.get("name") or child.get("type") or "", child.text or "")
            if found is not None:
                entry.digests.setdefault(*found)
        elif tag == "timestamp" and (kind := _TIMES.get(child.get("name", "").lower())):
            when = _time(child.text or "")
            entry.times.update({kind: when} if when is not None else {})
    return entry


class RefusedXml(ValueError):
    """The report declares a DTD or entities (never expanded: billion laughs, external entities), or one element
    of it is larger than any real report's."""


_ELEMENT_MAX = 16 << 20  # characters of text held for one file, section or extraction element


class _Parser:
    """Expat events to the few subtrees the report is read for, each built whole and then dropped.

    ``xml.etree`` offers no way to refuse a DTD; expat's handlers do. Only a ``file`` element, a top-level
    ``metadata`` section or an ``extractionInfo`` is ever held in memory, one at a time.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self.depth = 0
        self.builder: ET.TreeBuilder | None = None
        self.built_at = 0  # depth of the subtree's root
        self.held = 0  # characters of text in it
        self.parent = ""  # the top-level element being read (taggedFiles, metadata ...)
        self.expat = expat.ParserCreate(namespace_separator="}")
        self.expat.StartDoctypeDeclHandler = self._refuse
        self.expat.EntityDeclHandler = self._refuse
        self.expat.StartElementHandler = self._start
        self.expat.EndElementHandler = self._end
        self.expat.CharacterDataHandler = self._data

    @staticmethod
    def _refuse(*_args: object) -> None:
        raise RefusedXml(f"{REPORT} declares a DTD or entities, which Safenet refuses to read")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        self.depth += 1
        if self.depth == 1:
            self.report.version = attrs.get("reportVersion", "")
        elif self.depth == 2:
            self.parent = tag
        if self.builder is None and self._wanted(tag):
            self.builder, self.built_at, self.held = ET.TreeBuilder(), self.depth, 0
        if self.builder is not None:
            self.builder.start(tag, attrs)

    def _wanted(self, tag: str) -> bool:
        """A listed file (``project/taggedFiles/file``), a top-level section, or an extraction's description."""
        if tag == "file":
            return self.depth == 3 and self.parent == "taggedFiles"
        if tag == "metadata":
            return self.depth == 2
        return tag == "extractionInfo"

    def _data(self, text: str) -> None:
        if self.builder is not None:
            self.held += len(text)
            if self.held > _ELEMENT_MAX:
                raise RefusedXml(f"an element of {REPORT} holds more than {_ELEMENT_MAX >> 20} MiB of text; refused")
            self.builder.data(text)

    def _end(self, name: str) -> None:
        if self.builder is not None:
            self.builder.end(_local(name))
            if self.depth == self.built_at:
                elem, self.builder = self.builder.close(), None
                self._take(elem, self.depth)
        self.depth -= 1

    def _take(self, elem: ET.Element, depth: int) -> None:
        report = self.report
        if elem.tag == "file":
            if (listed := _listed(elem)) is not None:
                report.files.append(listed)
        elif elem.tag == "extractionInfo":
            report.extractions.append(" ".join(v for v in (elem.get("name"), elem.get("type")) if v))
        elif elem.tag == "metadata" and depth == 2 and elem.get("section") == "Device Info":
            for item in elem:
                key = _IDENTITY.get(_NAME_NOISE.sub("", item.get("name", "").lower()))
                if key and (text := (item.text or "").strip()):
                    report.identity.setdefault(key, text)


def parse_report(stream: BinaryIO) -> Report:
    """The report's device, extractions and file listing (RefusedXml or expat.ExpatError when unusable)."""
    parser = _Parser(Report())
    while chunk := stream.read(CHUNK):
        parser.expat.Parse(chunk, False)
    parser.expat.Parse(b"", True)
    return parser.report


def _platform(value: str) -> str:
    low = value.lower()
    return Platform.ANDROID.value if "android" in low else Platform.IOS.value if "ios" in low else ""


class UfdrEvidence:
    """A UFDR package as evidence: the files it lists, by device path, with its digests cross-checked."""

    NAME: ClassVar[str] = "ufdr"
    DIGEST_MISMATCH: ClassVar[str] = MISMATCH_CODE

    def __init__(self, path: Path, context: OpenContext | None = None) -> None:
        regular_file(path, f"{path} is not a UFDR package")
        if not looks_like_zip(path):
            raise NotMyFormat(f"{path} is not a UFDR package")
        self.path = path.resolve()
        try:
            entries = central_entries(self.path)
        except EvidenceError as exc:  # a damaged zip: the archive producer recovers what it can
            raise NotMyFormat(f"{path}: {exc}") from exc
        by_name = {_slashes(e.name): e for e in entries if not e.is_dir}
        report_entry = by_name.get(REPORT)
        if report_entry is None:
            raise NotMyFormat(f"{path} has no {REPORT}")
        self.zip = ZipFiles(self.path, entries)
        self.report = Report()
        self.refused: str | None = None
        try:
            with self.zip.open(report_entry) as stream:
                self.report = parse_report(stream)
        except RefusedXml as exc:
            self.refused = str(exc)
        except (expat.ExpatError, EvidenceError, OSError, ValueError) as exc:
            self.refused = f"{REPORT} cannot be read ({reason_of(exc)})"
        ident = {k: v for k, v in self.report.identity.items() if k != "platform"}
        self.identity = DeviceIdentity(platform=_platform(self.report.identity.get("platform", "")), **ident)
        self.locator = device_locator(str(self.path), self.identity.label(), Acquisition.UFDR)
        self._report_entry = report_entry
        # each listed file with its member (None: not in the package), and by (device path, member offset)
        self._members = [
            (listed, by_name.get(_slashes(listed.local_path)) if listed.local_path else None)
            for listed in self.report.files
        ]
        self._listed = {(listed.path, e.offset): listed for listed, e in self._members if e is not None}

    def describe(self) -> EvidenceDescription:
        tool = f"Cellebrite UFDR (report version {self.report.version})" if self.report.version else "Cellebrite UFDR"
        note = "; ".join(self.report.extractions)
        details = to_details(self.identity, AcquisitionRecord(Acquisition.UFDR, tool, note))
        details["ufdr.files_listed"] = str(len(self.report.files))
        if self.refused:
            details["ufdr.report"] = self.refused
        device = display_safe(self.identity.label())
        summary = f"UFDR {display_safe(str(self.path))} ({device}, {len(self.report.files)} files)"
        return EvidenceDescription(self.NAME, str(self.path), summary, details)

    def items(self, warn: WarningSink) -> Iterator[Item]:
        used = {self._report_entry.offset}
        if self.refused is not None:
            warn(
                EvidenceWarning("ufdr-report-unusable", f"{self.refused}; every member examined by name", self.locator)
            )
        for listed, entry in self._members:
            if entry is None:
                locator = self.locator.child(Layer(LayerKind.PATH, listed.path))
                why = f"its member {display_safe(listed.local_path)} is" if listed.local_path else "no member is named"
                warn(EvidenceWarning("ufdr-missing-file", f"listed in {REPORT} but {why} not in the package", locator))
                continue
            locator = self.locator.child(Layer(LayerKind.PATH, listed.path, offset=entry.offset))
            used.add(entry.offset)
            check_name(listed.path, listed.path.lstrip("/"), locator, warn)
            yield Item(
                locator,
                leaf_name(listed.path),
                entry.usize if entry.usize is not None else listed.size,
                modified=listed.times.get("modified") or entry.modified(),
                accessed=listed.times.get("accessed"),
                changed=listed.times.get("changed"),
                created=listed.times.get("created"),
                deleted=listed.deleted,
                note="deleted on the device (as the UFDR lists it)" if listed.deleted else None,
            )
        for entry in self.zip.entries:
            if entry.is_dir or entry.offset in used:
                continue
            locator = self.locator.child(Layer(LayerKind.PATH, entry.name, offset=entry.offset, detail=MEMBER))
            check_name(entry.name, entry.name, locator, warn)  # a member's name, not a device path
            yield Item(locator, leaf_name(entry.name), entry.usize, modified=entry.modified())

    def _entry(self, locator: Locator) -> Entry:
        entry = self.zip.entry_at(file_layer(self.locator, locator, self.path).offset)
        if entry is None:
            raise EvidenceError(f"{locator} names no member of {self.path}")
        return entry

    def open(self, locator: Locator) -> BinaryIO:
        return self.zip.open_seekable(self._entry(locator))

    def expected_digests(self, locator: Locator) -> dict[str, bytes]:
        leaf = locator.leaf
        if len(locator.layers) != 3 or leaf.kind is not LayerKind.PATH or leaf.offset is None:
            return {}
        if leaf.detail == MEMBER:
            return {}
        listed = self._listed.get((leaf.value, leaf.offset))
        return dict(listed.digests) if listed is not None else {}


def _slashes(name: str) -> str:
    """A member name or Local Path as one form: forward slashes, no leading ./ or /."""
    text = name.replace("\\", "/")
    while text.startswith(("./", "/")):
        text = text[2:] if text.startswith("./") else text[1:]
    return text
