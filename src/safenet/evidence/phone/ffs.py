"""Full-file-system extractions made by other tools: a zip or tar (plain or compressed) of a phone's file system.

Such an archive is a phone, not a plain archive: its files are items addressed by their path on the device
(SOURCE › DEVICE › PATH), not archive members of one file. It is recognised from its directory alone: the
zip's central directory, or a tar's first headers, must name a phone layout (iOS ``private/var/mobile/``,
``private/var/root/``, ``private/var/containers/``; Android ``data/media/0/``, ``storage/emulated/0/``,
``sdcard/``, ``data/data/``, ``data/user/0/``). The platform is inferred from that layout, and said so. A
folder above the layout (``extraction/private/var/...``) is not part of the device path.

Identity comes only from files that state it and that are cheap to reach (``IDENTITY_FILES``): Android's
``system/build.prop`` (model, manufacturer, serial, version); iOS's ``SystemVersion.plist`` (version) and
Lockdown's ``data_ark.plist`` (the owner-given device name). Nothing else is guessed.
"""

from __future__ import annotations

import io
import plistlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, cast

from safenet.evidence.archives.common import DATA_ERRORS
from safenet.evidence.archives.fields import leaf_name
from safenet.evidence.archives.tarfmt import OPENERS
from safenet.evidence.directory import open_readonly, regular_file
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
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
from safenet.evidence.phone.tarstream import Body, TarStream, budget_for, list_files, open_tar
from safenet.evidence.phone.zipfiles import ZipFiles, central_entries, looks_like_zip
from safenet.reasons import reason_of

#: Names looked at to recognise a layout: enough for any real extraction's first folders, and fast.
PROBE_NAMES = 5000
PROBE_BYTES = 64 << 20  # ... and no further into a tar: its headers lie between the files' data
MEMBER = "member"  # PATH detail of a file outside the layout's folder (value: the member name as stored)
_IDENTITY_FILE_MAX = 1 << 20
_MARKERS = (
    ("/private/var/mobile/", Platform.IOS),
    ("/private/var/root/", Platform.IOS),
    ("/private/var/containers/", Platform.IOS),
    ("/data/media/0/", Platform.ANDROID),
    ("/storage/emulated/0/", Platform.ANDROID),
    ("/sdcard/", Platform.ANDROID),
    ("/data/data/", Platform.ANDROID),
    ("/data/user/0/", Platform.ANDROID),
)
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_BUILD_PROP_KEYS = {
    "ro.product.model": "model",
    "ro.product.manufacturer": "manufacturer",
    "ro.serialno": "serial",
    "ro.build.version.release": "os_version",
}


@dataclass(frozen=True, slots=True)
class Layout:
    """A phone file system found in an archive: its platform and the folder above it in member names."""

    platform: Platform
    prefix: str  # member-name text before the layout ("" or "./" or "extraction/")


def find_layout(names: Iterator[str]) -> Layout | None:
    for name in names:
        padded = "/" + name.lower()
        for marker, platform in _MARKERS:
            at = padded.find(marker)
            if at >= 0:
                return Layout(platform, name[:at])
    return None


def build_prop_identity(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        field = _BUILD_PROP_KEYS.get(key.strip())
        if sep and field and value.strip():
            out.setdefault(field, value.strip())
    return out


def _plist(data: bytes) -> dict[str, object]:
    try:
        value = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError, OverflowError, IndexError, KeyError):
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return display_safe(value.strip()) if isinstance(value, str) else ""


def system_version_identity(data: bytes) -> dict[str, str]:
    version = _text(_plist(data).get("ProductVersion"))
    return {"os_version": version} if version else {}


def data_ark_identity(data: bytes) -> dict[str, str]:
    name = _text(_plist(data).get("-DeviceName"))
    return {"name": name} if name else {}


#: Files that state the device's identity, by path in the file system, with what each gives.
IDENTITY_FILES: dict[str, Callable[[bytes], dict[str, str]]] = {
    "system/build.prop": build_prop_identity,
    "System/Library/CoreServices/SystemVersion.plist": system_version_identity,
    "private/var/root/Library/Lockdown/data_ark.plist": data_ark_identity,
}


def _identity_reader(name: str) -> Callable[[bytes], dict[str, str]] | None:
    return next((reader for path, reader in IDENTITY_FILES.items() if name.endswith(path)), None)


def _merge(identity: dict[str, str], found: dict[str, str]) -> None:
    for key, value in found.items():
        identity.setdefault(key, value)


def _compression(path: Path) -> str | None:
    with open_readonly(path) as fp:
        head = fp.read(6)
    return next((name for magic, name in _COMPRESSED if head.startswith(magic)), None)


class _Tar:
    """A tar extraction: read as a stream (plain or compressed), never extracted."""

    def __init__(self, path: Path, compression: str | None) -> None:
        self.path, self.compression = path, compression
        self.size = path.stat().st_size
        self.stream = TarStream(self.body)

    def body(self) -> Body:
        raw = open_readonly(self.path)
        if self.compression is None:
            return Body(raw.read, budget_for(self.size), raw)
        # read1: one decoding step at a time, so the bytes decoded before damage arrive before its error
        decoded = cast(io.BufferedIOBase, OPENERS[self.compression](raw))
        return Body(decoded.read1, budget_for(self.size), raw)

    def probe(self) -> tuple[list[str], dict[str, str]]:
        """The first member names, and the identity that identity files among them give (EvidenceError: not a
        tar)."""
        names: list[str] = []
        identity: dict[str, str] = {}
        try:
            with self.body() as body, open_tar(body) as archive:
                while len(names) < PROBE_NAMES and (member := archive.next()) is not None:
                    if member.offset > PROBE_BYTES:
                        break
                    names.append(member.name)
                    reader = _identity_reader(member.name)
                    if reader is not None and member.isreg() and member.size <= _IDENTITY_FILE_MAX:
                        data = archive.extractfile(member)
                        _merge(identity, reader(data.read() if data is not None else b""))
        except DATA_ERRORS as exc:
            if not names:
                raise EvidenceError(f"not a readable tar: {reason_of(exc)}") from exc
        return names, identity


class FfsEvidence:
    """A phone's file system as extracted into a zip or tar by another tool."""

    NAME: ClassVar[str] = "ffs-extraction"

    def __init__(self, path: Path, context: OpenContext | None = None) -> None:
        regular_file(path, f"{path} is not a regular file")
        self.path = path.resolve()
        self._zip: ZipFiles | None = None
        self._tar: _Tar | None = None
        identity: dict[str, str] = {}
        if looks_like_zip(self.path):
            try:  # the first names decide; the whole directory is read only for a phone
                layout = find_layout(e.name for e in central_entries(self.path, PROBE_NAMES))
                entries = central_entries(self.path) if layout is not None else []
            except EvidenceError as exc:  # a damaged zip: the archive producer recovers what it can
                raise NotMyFormat(f"{path}: {exc}") from exc
            if layout is not None:
                self._zip = ZipFiles(self.path, entries)
                identity = self._zip_identity(layout)
            self.container = "zip"
        else:
            compression = _compression(self.path)
            if compression is None and not _plain_tar(self.path):
                raise NotMyFormat(f"{path} is neither a zip nor a tar")
            self._tar = _Tar(self.path, compression)
            try:
                names, identity = self._tar.probe()
            except EvidenceError as exc:
                raise NotMyFormat(f"{path}: {exc}") from exc
            layout = find_layout(iter(names))
            self.container = f"tar.{compression}" if compression else "tar"
        if layout is None:
            raise NotMyFormat(f"{path} does not hold a phone's file system")
        self.layout = layout
        self.identity = DeviceIdentity(platform=layout.platform.value, **identity)
        self.locator = device_locator(str(self.path), self.identity.label(), Acquisition.FFS_EXTRACTION)

    def _zip_identity(self, layout: Layout) -> dict[str, str]:
        assert self._zip is not None
        identity: dict[str, str] = {}
        wanted = {layout.prefix + name: reader for name, reader in IDENTITY_FILES.items()}
        for entry in self._zip.entries:
            reader = wanted.get(entry.name)
            if reader is None or (entry.usize or 0) > _IDENTITY_FILE_MAX:
                continue
            try:
                with self._zip.open(entry) as stream:
                    _merge(identity, reader(stream.read(_IDENTITY_FILE_MAX)))
            except (OSError, EvidenceError):
                continue
        return identity

    def describe(self) -> EvidenceDescription:
        note = f"{self.layout.platform.value} inferred from the layout of the {self.container} file names"
        record = AcquisitionRecord(Acquisition.FFS_EXTRACTION, f"file-system extraction ({self.container})", note)
        details = to_details(self.identity, record)
        details["ffs.layout"] = f"{self.layout.platform.value}, inferred from the layout"
        if self.layout.prefix:
            details["ffs.root"] = self.layout.prefix
        summary = f"phone file-system extraction {display_safe(str(self.path))} ({display_safe(self.identity.label())})"
        return EvidenceDescription(self.NAME, str(self.path), summary, details)

    def _path_layer(self, name: str, offset: int) -> Layer:
        """The device path of a member; a member outside the layout's folder keeps its stored name."""
        prefix = self.layout.prefix
        if name.startswith(prefix):
            return Layer(LayerKind.PATH, "/" + name[len(prefix) :].lstrip("/"), offset=offset)
        return Layer(LayerKind.PATH, name, offset=offset, detail=MEMBER)

    def _member_name(self, layer: Layer) -> str:
        return layer.value if layer.detail == MEMBER else self.layout.prefix + layer.value[1:]

    def items(self, warn: WarningSink) -> Iterator[Item]:
        if self._zip is not None:
            for entry in self._zip.entries:
                if not entry.is_dir:
                    yield self._item(entry.name, entry.offset, entry.usize, entry.modified(), warn)
            return
        assert self._tar is not None

        def problem(message: str) -> None:
            warn(EvidenceWarning("ffs-damaged", f"the extraction is {message}", self.locator))

        for found in list_files(self._tar.body(), problem):
            yield self._item(found.name, found.offset, found.size, found.modified, warn)

    def _item(self, name: str, offset: int, size: int | None, modified: Timestamp | None, warn: WarningSink) -> Item:
        layer = self._path_layer(name, offset)
        locator = self.locator.child(layer)
        # below the layout a leading "/" is the phone's root; a member outside it keeps its own name
        check_name(name, name if layer.detail == MEMBER else layer.value.lstrip("/"), locator, warn)
        return Item(locator, leaf_name(name, "/"), size, modified=modified)

    def open(self, locator: Locator) -> BinaryIO:
        leaf = file_layer(self.locator, locator, self.path)
        name, offset = self._member_name(leaf), leaf.offset
        if self._tar is not None:
            return self._tar.stream.open(name, offset if offset is not None else -1)
        assert self._zip is not None
        entry = self._zip.entry_at(offset)
        if entry is None or entry.name != name:
            raise EvidenceError(f"{locator} names no member of {self.path}")
        return self._zip.open_seekable(entry)


def _plain_tar(path: Path) -> bool:
    with open_readonly(path) as fp:
        head = fp.read(512)
    return len(head) == 512 and head[257:262] == b"ustar"
