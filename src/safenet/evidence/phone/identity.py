"""Who a phone is and how it was acquired: the facts a report and the SFR1 print for a phone exhibit.

They travel in ``EvidenceDescription.details`` (stored with the exhibit, audited with the run) under the
``device.*`` and ``acquisition.*`` keys below, so a phone exhibit needs no table of its own and every report
that prints an exhibit's description prints them. Values are as the device or the acquisition reported them;
none is computed. A field the source does not give is absent, never guessed.

The phone sources' locators are built and checked here too (SOURCE › DEVICE › PATH), with the warning every
file source gives a name that could climb out of a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from safenet.evidence.archives.fields import suspicious_reason
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, WarningSink


class Platform(StrEnum):
    """Stored in case files; never rename."""

    ANDROID = "android"
    IOS = "ios"


class Acquisition(StrEnum):
    """How the phone's data reached Safenet. Stored in case files and in locators' DEVICE layers; never rename."""

    ADB_LOGICAL = "adb-logical"  # live Android, shared storage read over ADB (sync service), read-only
    AFC = "afc"  # live iOS, the media domain over Apple File Conduit
    ITUNES_BACKUP = "itunes-backup"  # an iTunes/Finder backup folder (Manifest.db)
    IOS_BACKUP = "ios-backup"  # live iOS, a full local backup taken over mobilebackup2 into the case
    ANDROID_BACKUP = "android-backup"  # an `adb backup` file (.ab)
    FFS_EXTRACTION = "ffs-extraction"  # a full-file-system archive made by another tool (zip/tar)
    UFDR = "ufdr"  # a Cellebrite UFDR report package (zip + report.xml)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A phone's identity as its source states it. Empty strings mean "not given by the source"."""

    platform: str = ""  # Platform value, or "" when the source does not say
    manufacturer: str = ""
    model: str = ""  # marketing name or model number as given (e.g. "iPhone12,1", "SM-G991B")
    serial: str = ""
    imei: str = ""
    udid: str = ""  # iOS unique device id
    os_version: str = ""
    name: str = ""  # the owner-given device name

    def label(self) -> str:
        """The device as one short line for a DEVICE layer: model and the most specific id known."""
        ident = self.serial or self.udid or self.imei
        parts = [p for p in (self.manufacturer, self.model) if p]
        head = " ".join(parts) or "phone"
        return f"{head} {ident}".strip() if ident else head


@dataclass(frozen=True, slots=True)
class AcquisitionRecord:
    """How the data was acquired: the method and the tools (name and version) that did it."""

    method: Acquisition
    tool: str = ""  # e.g. "adbutils 2.12.0; adb 29.0.6", "pymobiledevice3 11.45.0", "Cellebrite UFED 7.60"
    note: str = ""  # e.g. "backup encrypted; decrypted with the examiner's password"


def device_layer(label: str, acquisition: Acquisition) -> Layer:
    """A phone's DEVICE layer: who the phone is (``label``) and how it was read (its detail)."""
    return Layer(LayerKind.DEVICE, label, detail=acquisition.value)


def device_locator(source: str, label: str, acquisition: Acquisition) -> Locator:
    """The locator of a phone source: SOURCE › DEVICE, the parent of every item it lists."""
    return Locator.source(source).child(device_layer(label, acquisition))


def file_layer(device: Locator, locator: Locator, source: object) -> Layer:
    """The PATH layer of ``locator`` when it names a file listed under ``device`` (SOURCE › DEVICE › PATH);
    EvidenceError naming ``source`` otherwise."""
    layers = locator.layers
    if layers[:2] != device.layers or len(layers) != 3 or layers[2].kind is not LayerKind.PATH:
        raise EvidenceError(f"{locator} is not a file of {source}")
    return layers[2]


def check_name(name: str, checked: str, locator: Locator, warn: WarningSink) -> None:
    """Record a file name that could climb out of a folder were it extracted; ``checked`` is the part of ``name``
    below the device's root (a device path is absolute by nature)."""
    reason = suspicious_reason(checked)
    if reason is not None:
        warn(EvidenceWarning("suspicious-member-name", f"name has {reason}: {display_safe(name)}", locator))


def to_details(identity: DeviceIdentity, acquisition: AcquisitionRecord) -> dict[str, str]:
    """The ``EvidenceDescription.details`` entries for a phone (only the fields the source gave)."""
    out = {f"device.{f.name}": getattr(identity, f.name) for f in fields(identity) if getattr(identity, f.name)}
    out["acquisition.method"] = acquisition.method.value
    if acquisition.tool:
        out["acquisition.tool"] = acquisition.tool
    if acquisition.note:
        out["acquisition.note"] = acquisition.note
    return out


def from_details(details: dict[str, str]) -> tuple[DeviceIdentity, AcquisitionRecord] | None:
    """The phone facts back from an exhibit's description, or None when the exhibit is not a phone."""
    method = details.get("acquisition.method")
    if method is None:
        return None
    identity = DeviceIdentity(**{f.name: details.get(f"device.{f.name}", "") for f in fields(DeviceIdentity)})
    record = AcquisitionRecord(
        Acquisition(method), details.get("acquisition.tool", ""), details.get("acquisition.note", "")
    )
    return identity, record
