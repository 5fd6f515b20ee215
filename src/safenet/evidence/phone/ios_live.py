"""A live, paired iPhone or iPad: its media domain read over AFC (``safenet triage ios://UDID``).

What is read: the device's identity from lockdownd (ProductType, SerialNumber, UniqueDeviceID, ProductVersion,
DeviceName, the IMEI where lockdownd gives it), and over AFC, whose root is the phone's ``/var/mobile/Media``:
the camera roll (``/DCIM/**``), the Photos library database (``/PhotoData/Photos.sqlite`` and its journal
files) and the folders of pictures Photos derives from the camera roll (thumbnails, edited versions, iCloud
originals). Files are streamed from the device as they are hashed: nothing is copied to this computer except
Photos.sqlite, read once (with its write-ahead log, ``phone.afc_photos``) to flag the assets that are hidden
or in "Recently Deleted" (and the thumbnails and edited versions of those). Nothing is written to the phone:
AFC is asked only to list folders, describe files and read them. Pairing (the owner's "Trust" on the phone) is
the one change a first connection makes, as with any tool that reads an iPhone over USB.

Locators: ``SOURCE ios://UDID › DEVICE (label, detail "afc") › PATH (the AFC path, e.g. /DCIM/100APPLE/IMG_0001.JPG)``.
A device lost mid-run raises :class:`~safenet.evidence.phone.afc.DeviceLost`. With ``--ios-backup``
(``OpenContext.acquire``) the device is read instead through a full local backup taken into the case
(``phone.ios_fullbackup``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Final, cast

from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    OpenContext,
    TimeSource,
    Timestamp,
    WarningSink,
)
from safenet.evidence.phone import afc_photos
from safenet.evidence.phone.afc import DISCONNECTED_CODE, AfcSession, DeviceLost, Entry, tool_version
from safenet.evidence.phone.devices import AUTHORISED, UNAUTHORISED, UNKNOWN, DeviceRow
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    Platform,
    device_locator,
    to_details,
)
from safenet.evidence.phone.ios_backup import PHOTOS_CODE
from safenet.evidence.phone.photos_db import PhotosDbError

if TYPE_CHECKING:
    from safenet.evidence.phone.ios_fullbackup import IosFullBackupEvidence

#: Folders read over AFC, in this order. Absent ones (no iCloud Photos: no CPLAssets) are skipped quietly.
MEDIA_ROOTS: Final = (
    "/DCIM",  # the camera roll: photos and videos taken or saved on the phone
    "/PhotoData/Thumbnails",  # Photos' thumbnails, kept after the original is deleted until Photos cleans up
    "/PhotoData/Mutations",  # edited versions (crops, filters) of camera-roll pictures
    "/PhotoData/CPLAssets",  # iCloud Photos originals downloaded to the phone
)
PHOTOS_DB: Final = afc_photos.PHOTOS_DB
PHOTOS_DB_FILES: Final = (PHOTOS_DB, f"{PHOTOS_DB}-wal", f"{PHOTOS_DB}-shm")  # items too: they are evidence
MAX_DEPTH: Final = 64  # folders deeper than this are not entered (AFC trees are real file systems; a guard)
UNREADABLE_CODE: Final = "unreadable"
SPECIAL_CODE: Final = "special-file"


def _ts(ns: int | None) -> Timestamp | None:
    if ns is None or ns <= 0:
        return None
    try:
        value = datetime.fromtimestamp(ns / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Timestamp(value, TimeSource.FS_STAT, 1e-9)


def identity_of(values: dict[str, Any], udid: str) -> DeviceIdentity:
    """The device as lockdownd describes it (only values it gave; nothing guessed)."""

    def text(key: str) -> str:
        value = values.get(key)
        return value if isinstance(value, str) else ""

    return DeviceIdentity(
        platform=Platform.IOS.value,
        manufacturer="Apple",
        model=text("ProductType"),
        serial=text("SerialNumber"),
        imei=text("InternationalMobileEquipmentIdentity"),
        udid=text("UniqueDeviceID") or udid,
        os_version=text("ProductVersion"),
        name=text("DeviceName"),
    )


class IosLiveEvidence:
    """The media domain of a live iOS device, over an open AFC session."""

    NAME: ClassVar[str] = "ios-afc"

    def __init__(self, udid: str, session: AfcSession) -> None:
        self.udid, self.session = udid, session
        self.identity = identity_of(session.values, udid)
        self.source = f"ios://{udid}"
        self.locator = device_locator(self.source, self.identity.label(), Acquisition.AFC)

    def describe(self) -> EvidenceDescription:
        record = AcquisitionRecord(Acquisition.AFC, tool_version(), "media domain (/var/mobile/Media) read over AFC")
        details = to_details(self.identity, record)
        ios = self.identity.os_version or "version not given"
        return EvidenceDescription(
            backend=self.NAME,
            source=self.source,
            summary=f"iOS device {display_safe(self.identity.label())} (iOS {display_safe(ios)}) over AFC",
            details=details,
        )

    def _loc(self, path: str) -> Locator:
        return self.locator.child(Layer(LayerKind.PATH, path))

    def items(self, warn: WarningSink) -> Iterator[Item]:
        notes = self._photos_notes(warn)
        for path in PHOTOS_DB_FILES:
            entry = self._stat(path, warn)
            if entry is not None and entry.kind == "S_IFREG":
                yield self._item(path, entry, None)
        for root in MEDIA_ROOTS:
            if self._stat(root, warn) is not None:
                yield from self._walk(root, _Flags(notes), warn)

    def _stat(self, path: str, warn: WarningSink) -> Entry | None:
        try:
            return self.session.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            warn(EvidenceWarning(UNREADABLE_CODE, f"cannot describe: {exc.strerror or exc}", self._loc(path)))
            return None

    def _walk(self, root: str, flags: _Flags, warn: WarningSink) -> Iterator[Item]:
        stack = [(root, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                entries = sorted(self.session.listdir(folder), key=lambda e: e.name)
            except OSError as exc:
                warn(EvidenceWarning(UNREADABLE_CODE, f"folder not readable: {exc.strerror or exc}", self._loc(folder)))
                continue
            subfolders: list[tuple[str, int]] = []
            for entry in entries:
                path = f"{folder}/{entry.name}"
                if entry.problem:
                    warn(EvidenceWarning(UNREADABLE_CODE, f"cannot describe: {entry.problem}", self._loc(path)))
                elif entry.kind == "S_IFDIR":
                    if depth + 1 < MAX_DEPTH:
                        subfolders.append((path, depth + 1))
                    else:
                        warn(EvidenceWarning(UNREADABLE_CODE, "folders nested too deep: not entered", self._loc(path)))
                elif entry.kind == "S_IFREG":
                    yield self._item(path, entry, flags.note(path))
                else:
                    kind = "symbolic link" if entry.kind == "S_IFLNK" else entry.kind or "unknown type"
                    warn(EvidenceWarning(SPECIAL_CODE, f"{kind} on the device: not followed or read", self._loc(path)))
            stack.extend(reversed(subfolders))

    def _item(self, path: str, entry: Entry, note: str | None) -> Item:
        return Item(
            locator=self._loc(path),
            name=entry.name,
            size=entry.size,
            modified=_ts(entry.mtime_ns),
            created=_ts(entry.birthtime_ns),
            note=note,
        )

    def _photos_notes(self, warn: WarningSink) -> dict[str, str]:
        """Hidden and recently-deleted flags from Photos.sqlite, by path under Media/ (empty when absent)."""
        try:
            entry = self.session.stat(PHOTOS_DB)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            warn(EvidenceWarning(PHOTOS_CODE, f"cannot describe: {exc.strerror or exc}", self._loc(PHOTOS_DB)))
            return {}
        try:
            wal = self.session.stat(f"{PHOTOS_DB}-wal").size
        except FileNotFoundError:
            wal = 0
        except OSError:
            wal = 0  # the log's own item records why it cannot be read
        problems: list[str] = []
        try:
            notes = afc_photos.read_notes(self.session, entry.size, wal, problems)
        except (OSError, PhotosDbError) as exc:
            problems, notes = [f"Photos library not read for hidden/deleted flags: {exc}"], {}
        for problem in problems:
            warn(EvidenceWarning(PHOTOS_CODE, problem, self._loc(PHOTOS_DB)))
        return notes

    def open(self, locator: Locator) -> BinaryIO:
        layers = locator.layers
        if (
            len(layers) != 3
            or layers[0].value != self.source
            or layers[1].kind is not LayerKind.DEVICE
            or layers[2].kind is not LayerKind.PATH
        ):
            raise EvidenceError(f"{locator} is not a file of {self.source}")
        path = layers[2].value
        if not path.startswith("/") or any(part in ("..", ".") for part in path.split("/")):
            raise EvidenceError(f"{display_safe(path)} is not a plain path in the device's media domain")
        return cast(BinaryIO, self.session.open_file(path))


class _Flags:
    """Photos' flags by path under Media/, found for a camera-roll file or for what Photos derived from one."""

    def __init__(self, notes: dict[str, str]) -> None:
        self.notes = notes
        # edited versions are filed under the original's name without its extension
        self.by_stem = {name.rpartition(".")[0]: name for name in notes if "." in name.rpartition("/")[2]}

    def note(self, path: str) -> str | None:
        relative = path.lstrip("/")
        if not self.notes or relative in self.notes:
            return self.notes.get(relative)
        marker = relative.find("/DCIM/")
        if marker < 0:
            return None
        derived = relative[marker + 1 :].split("/")
        if relative.startswith("PhotoData/Thumbnails/"):  # .../V2/DCIM/100APPLE/IMG_0001.JPG/5005.JPG
            original = "/".join(derived[:3])
            kind = "thumbnail"
        elif relative.startswith("PhotoData/Mutations/"):  # .../DCIM/100APPLE/IMG_0001/Adjustments/x.jpg
            original = self.by_stem.get("/".join(derived[:3]), "")
            kind = "edited version"
        else:
            return None
        flags = self.notes.get(original)
        return f"{kind} of {original}, which is {flags}" if flags else None


def open_device(ident: str, context: OpenContext) -> IosLiveEvidence | IosFullBackupEvidence:
    """``ios://UDID``: the paired device with this UDID (dashes optional), its media domain over AFC."""
    udid = ident.strip().strip("/")
    if not udid:
        raise EvidenceError(
            "ios:// needs the device's UDID (see `safenet devices`), e.g. ios://00008030-001A2B3C4D5E6F70"
        )
    if context.acquire is not None:  # --ios-backup: a full local backup taken into the case, then read
        from safenet.evidence.phone.ios_fullbackup import open_full_backup

        return open_full_backup(udid, context)
    return IosLiveEvidence(udid, AfcSession.open(udid))


def list_ios_devices() -> list[DeviceRow]:
    """The iOS devices usbmuxd lists, for ``safenet devices``: authorised (paired, with identity) or not.

    Listing never asks a device to pair, so it shows no Trust prompt. No usbmuxd running: EvidenceError.
    """
    from safenet.evidence.phone.afc import list_devices

    rows: list[DeviceRow] = []
    for udid, paired, values in list_devices():
        if paired is None:
            rows.append(DeviceRow(Platform.IOS.value, udid, UNKNOWN, None))
        elif paired:
            rows.append(DeviceRow(Platform.IOS.value, udid, AUTHORISED, identity_of(values, udid)))
        else:
            rows.append(DeviceRow(Platform.IOS.value, udid, UNAUTHORISED, None))
    return rows


__all__ = ["DISCONNECTED_CODE", "DeviceLost", "IosLiveEvidence", "list_ios_devices", "open_device"]
