"""From a source path to the file systems inside it, and back from a locator to a dfVFS path spec.

dfVFS does the format work (storage-media images, volume systems, encrypted volumes, file-system
detection); this module only walks its answers and translates each level into a Safenet locator layer,
so that a locator alone (plus credentials for an encrypted volume) rebuilds the same path spec in any
process. dfVFS's own ``SourceScanner.Scan`` stops at the first error; here every volume is scanned on
its own, so one bad partition becomes one recorded problem and the others are still examined.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dfvfs.helpers import source_scanner
from dfvfs.lib import definitions as dfdef
from dfvfs.lib import errors as dferrors
from dfvfs.path import factory as path_factory
from dfvfs.resolver import context as dfcontext
from dfvfs.resolver import resolver
from dfvfs.volume import factory as volume_factory

from safenet.evidence.image import noatime, signatures, tsk
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import Credential, CredentialKind
from safenet.reasons import reason_of

noatime.install()  # before any image file is opened: reading evidence leaves its access time as found

PathSpec = Any  # dfVFS path specifications are untyped

#: dfVFS storage-media image type -> IMAGE layer detail (stored in case files: never rename).
IMAGE_DETAIL = {
    dfdef.TYPE_INDICATOR_EWF: "ewf",
    dfdef.TYPE_INDICATOR_QCOW: "qcow",
    dfdef.TYPE_INDICATOR_VHDI: "vhd",
    dfdef.TYPE_INDICATOR_VMDK: "vmdk",
    dfdef.TYPE_INDICATOR_RAW: "raw",
    dfdef.TYPE_INDICATOR_PHDI: "phdi",
    dfdef.TYPE_INDICATOR_MODI: "modi",
}
#: dfVFS volume-system type -> PARTITION layer detail.
VOLUME_DETAIL = {
    dfdef.TYPE_INDICATOR_TSK_PARTITION: "mbr",
    dfdef.TYPE_INDICATOR_GPT: "gpt",
    dfdef.TYPE_INDICATOR_APM: "apm",
    dfdef.TYPE_INDICATOR_LVM: "lvm",
    dfdef.TYPE_INDICATOR_VSHADOW: "vss",
    dfdef.TYPE_INDICATOR_APFS_CONTAINER: "apfs-container",
    dfdef.TYPE_INDICATOR_CS: "corestorage",
}
#: dfVFS encrypted-volume type -> ENCRYPTION layer detail, and its name for people.
ENCRYPTION_DETAIL = {
    dfdef.TYPE_INDICATOR_BDE: "bde",
    dfdef.TYPE_INDICATOR_LUKSDE: "luks",
}
ENCRYPTION_NAME = {"bde": "BitLocker", "fvde": "FileVault (CoreStorage)", "luks": "LUKS", "apfs": "APFS encrypted"}
#: Volume systems whose volumes may each be encrypted (dfVFS unlocks them on the volume's path spec).
_ENCRYPTING_CONTAINERS = {dfdef.TYPE_INDICATOR_APFS_CONTAINER: "apfs", dfdef.TYPE_INDICATOR_CS: "fvde"}
_DETAIL_TYPE = {v: k for k, v in {**IMAGE_DETAIL, **VOLUME_DETAIL, **ENCRYPTION_DETAIL}.items()}

#: Safenet credential kind -> dfVFS key-chain identifier, per encryption type.
_CREDENTIAL_ID = {
    CredentialKind.PASSWORD: "password",
    CredentialKind.RECOVERY_PASSWORD: "recovery_password",
    CredentialKind.KEY_FILE: "startup_key",
}


class VolumeState(StrEnum):
    READABLE = "readable"  # a file system was found
    LOCKED = "locked"  # encrypted, no (working) credential
    UNKNOWN = "unknown"  # no file system Safenet can read
    ERROR = "error"  # dfVFS failed on it


@dataclass(frozen=True, slots=True)
class Volume:
    """One leaf of the source: a file system, a locked volume, or a volume with nothing readable."""

    layers: tuple[Layer, ...]  # after the SOURCE layer; ends in FILESYSTEM when readable
    path_spec: PathSpec  # the file system's path spec, or the volume's when not readable
    state: VolumeState
    message: str = ""
    unlocked_with: CredentialKind | None = None
    #: the file-system families whose signatures the volume holds, where more than one (see ``signatures``)
    signatures: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        shown = [
            ENCRYPTION_NAME.get(layer.detail or "", "encrypted")
            if layer.kind is LayerKind.ENCRYPTION
            else layer.render()
            for layer in self.layers
            if layer.kind is not LayerKind.IMAGE
        ]
        return " › ".join(shown) or "whole source"


class WrongCredential(Exception):
    """Credentials were given but none unlocks an encrypted volume."""


@dataclass
class Scanner:
    """Walks dfVFS's detection results volume by volume; ``note`` receives non-fatal problems."""

    credentials: tuple[Credential, ...]
    note: Callable[[str], None]

    def __post_init__(self) -> None:
        self.context = dfcontext.Context()
        self.scanner = source_scanner.SourceScanner(resolver_context=self.context)

    def scan(self, source: str) -> tuple[str | None, list[Volume]]:
        """Return (image format detail or None, volumes). No volumes means nothing was recognised."""
        os_spec = path_factory.Factory.NewPathSpec(dfdef.TYPE_INDICATOR_OS, location=source)
        image = self.scanner.ScanForStorageMediaImage(os_spec)
        if image is None or image.type_indicator == dfdef.TYPE_INDICATOR_RAW:
            image = raw_spec(os_spec, source)
            detail = "raw"
        else:
            detail = IMAGE_DETAIL.get(image.type_indicator, image.type_indicator.lower())
        layers = (Layer(LayerKind.IMAGE, detail=detail),)
        volumes = self._scan(image, layers, depth=0)
        found = any(v.state in (VolumeState.READABLE, VolumeState.LOCKED) for v in volumes)
        if not found and not any(la.kind is LayerKind.PARTITION for v in volumes for la in v.layers):
            return detail, []  # no volume system, no file system: not an image Safenet can read
        return detail, volumes

    def _scan(self, spec: PathSpec, layers: tuple[Layer, ...], depth: int) -> list[Volume]:
        if depth > 8:  # nested volume systems deeper than any real disk: a crafted loop
            return [Volume(layers, spec, VolumeState.ERROR, "volume nesting too deep")]
        try:
            inner = self.scanner.ScanForVolumeSystem(spec)
        except (dferrors.Error, OSError, RuntimeError) as exc:
            self.note(f"volume-system scan failed: {reason_of(exc)}")
            inner = None
        if inner is not None and inner.type_indicator in ENCRYPTION_DETAIL:
            return self._encrypted(inner, layers, depth)
        if inner is not None and inner.type_indicator in VOLUME_DETAIL:
            return self._volume_system(spec, inner, layers, depth)
        return self._file_systems(spec, layers)

    def _file_systems(self, spec: PathSpec, layers: tuple[Layer, ...]) -> list[Volume]:
        """The file system(s) of a volume: one, or one per file system that opens where its start holds the
        signatures of several (re-formatting can leave two; see ``signatures``)."""
        several = self._several(spec, layers)
        if several:
            return several
        try:
            fs_spec = self.scanner.ScanForFileSystem(spec)
        except (dferrors.Error, OSError, RuntimeError) as exc:
            return [Volume(layers, spec, VolumeState.ERROR, f"file-system scan failed: {_short(exc)}")]
        if fs_spec is None:
            detail = self._tsk_detect(spec)
            if detail:
                return [Volume((*layers, Layer(LayerKind.FILESYSTEM, detail=detail)), spec, VolumeState.READABLE)]
            return [Volume(layers, spec, VolumeState.UNKNOWN, "no file system Safenet can read")]
        return [
            Volume((*layers, Layer(LayerKind.FILESYSTEM, detail=fs_spec.type_indicator)), fs_spec, VolumeState.READABLE)
        ]

    def _several(self, spec: PathSpec, layers: tuple[Layer, ...]) -> list[Volume]:
        """One volume per file system TSK opens (asked one family at a time) where the volume holds
        signatures of more than one; [] otherwise, or where none opens (then the usual detection decides)."""
        try:
            file_object = resolver.Resolver.OpenFileObject(spec, resolver_context=self.context)
            file_object.seek(0)
            head = bytes(file_object.read(signatures.HEAD))
        except (dferrors.Error, OSError, RuntimeError, AttributeError):
            return []
        found = signatures.families(head)
        if len(found) < 2:
            return []
        opened = {family: tsk.detect(file_object, family) for family in found}
        if not any(opened.values()):
            return []
        shown = " and ".join(signatures.SHOWN[family] for family in found)
        message = f"signatures of {shown} in one volume"
        if closed := [signatures.SHOWN[family] for family, name in opened.items() if not name]:
            message += f" ({', '.join(closed)} does not open)"
        readable, found_all = VolumeState.READABLE, tuple(found)
        return [
            Volume((*layers, Layer(LayerKind.FILESYSTEM, detail=name)), spec, readable, message, None, found_all)
            for name in opened.values()
            if name
        ]

    def _tsk_detect(self, spec: PathSpec) -> str:
        """TSK's verdict on a volume dfVFS found no file system in (dfVFS checks with libyal readers only)."""
        try:
            file_object = resolver.Resolver.OpenFileObject(spec, resolver_context=self.context)
        except (dferrors.Error, OSError, RuntimeError):
            return ""
        return tsk.detect(file_object) if file_object is not None else ""

    def _volume_system(self, parent: PathSpec, root: PathSpec, layers: tuple[Layer, ...], depth: int) -> list[Volume]:
        kind = root.type_indicator
        out: list[Volume] = []
        if kind == dfdef.TYPE_INDICATOR_VSHADOW:  # the live volume sits beside its snapshots
            out.extend(self._file_systems(parent, layers))
        try:
            system = volume_factory.Factory.NewVolumeSystem(kind)
            system.Open(root)
            volumes = [(ident, system.GetVolumeByIdentifier(ident)) for ident in system.volume_identifiers]
        except (dferrors.Error, OSError, RuntimeError, ValueError) as exc:
            out.append(Volume(layers, root, VolumeState.ERROR, f"volume system unreadable: {_short(exc)}"))
            return out
        for ident, volume in volumes:
            extent = volume.extents[0] if volume.extents else None
            layer = Layer(
                LayerKind.PARTITION,
                ident,
                offset=extent.offset if extent else None,
                length=extent.size if extent else None,
                detail=VOLUME_DETAIL[kind],
            )
            spec = volume_spec(kind, ident, parent, extent.offset if extent else None)
            if kind in _ENCRYPTING_CONTAINERS:
                out.extend(self._container_volume(spec, (*layers, layer), _ENCRYPTING_CONTAINERS[kind], depth))
            else:
                out.extend(self._scan(spec, (*layers, layer), depth + 1))
        return out

    def _unlock(self, spec: PathSpec) -> CredentialKind | None:
        """Try each credential in turn on an encrypted volume; return the kind that worked."""
        forget_credentials(spec)
        file_entry = resolver.Resolver.OpenFileEntry(spec, resolver_context=self.context)
        if file_entry is not None and not file_entry.IsLocked():
            return None
        for credential in self.credentials:
            if not set_credential(spec, credential):
                continue
            file_entry = resolver.Resolver.OpenFileEntry(spec, resolver_context=self.context)
            if file_entry is not None and file_entry.Unlock():
                return credential.kind
        raise WrongCredential

    def _encrypted(self, spec: PathSpec, layers: tuple[Layer, ...], depth: int) -> list[Volume]:
        detail = ENCRYPTION_DETAIL[spec.type_indicator]
        here = (*layers, Layer(LayerKind.ENCRYPTION, detail=detail))
        return self._locked_or(spec, here, detail, lambda kind: self._scan_unlocked(spec, here, depth, kind))

    def _container_volume(self, spec: PathSpec, layers: tuple[Layer, ...], detail: str, depth: int) -> list[Volume]:
        return self._locked_or(spec, layers, detail, lambda kind: self._scan_unlocked(spec, layers, depth, kind))

    def _locked_or(
        self,
        spec: PathSpec,
        layers: tuple[Layer, ...],
        detail: str,
        then: Callable[[CredentialKind | None], list[Volume]],
    ) -> list[Volume]:
        name = ENCRYPTION_NAME[detail]
        try:
            kind = self._unlock(spec)
        except WrongCredential:
            if self.credentials:
                raise WrongCredential(f"none of the credentials given unlocks the {name} volume") from None
            return [Volume(layers, spec, VolumeState.LOCKED, f"{name} volume: locked, no credential given")]
        except (dferrors.Error, OSError, RuntimeError) as exc:
            return [Volume(layers, spec, VolumeState.LOCKED, f"{name} volume: cannot be opened ({_short(exc)})")]
        return then(kind)

    def _scan_unlocked(
        self, spec: PathSpec, layers: tuple[Layer, ...], depth: int, kind: CredentialKind | None
    ) -> list[Volume]:
        found = self._scan(spec, layers, depth + 1)
        return [dataclasses.replace(v, unlocked_with=kind or v.unlocked_with) for v in found]


def _short(exc: BaseException) -> str:
    """The first clause of a libyal error chain: enough to say what failed, short enough for a report."""
    return reason_of(exc).split(". ")[0][:160]


def forget_credentials(spec: PathSpec) -> None:
    """Drop what dfVFS's process-wide key chain holds for this volume before it is (re)opened.

    The key chain outlives a run: without this, a password given once for an image would unlock it again
    for a later run in the same process (web UI, worker) that was given a wrong one or none, and the
    record would not say it was unlocked. ``GetCredentials`` returns the stored mapping itself.
    """
    resolver.Resolver.key_chain.GetCredentials(spec).clear()


def set_credential(spec: PathSpec, credential: Credential) -> bool:
    """Put a credential in dfVFS's key chain for one path spec (in memory only).

    Returns False when this kind of credential means nothing to this kind of volume (a BitLocker
    recovery password offered to LUKS): it is skipped there, not an error. A BitLocker startup key is
    passed as its path (libbde reads the .BEK itself); a LUKS key file is a passphrase kept in a file
    (``cryptsetup --key-file``), so its content is the password.
    """
    identifier = _CREDENTIAL_ID[credential.kind]
    value = credential.value
    if credential.kind is CredentialKind.KEY_FILE and spec.type_indicator == dfdef.TYPE_INDICATOR_LUKSDE:
        try:
            with open(credential.value, "rb") as handle:
                value = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return False  # libluksde takes text passphrases only
        identifier = "password"
    try:
        resolver.Resolver.key_chain.SetCredential(spec, identifier, value)
    except KeyError:
        return False
    return True


#: First segments of split raw images: image.000/.001 (FTK, dd split -d), image.aa (split), image.1of5.
_SPLIT_RAW_FIRST = re.compile(r"\.(?:\d{3,4}|aaa?|1of\d+)$", re.IGNORECASE)


def raw_spec(os_spec: PathSpec, source: str) -> PathSpec:
    """A raw image or device: read the file itself unless its name is the first segment of a split set.

    dfVFS's raw reader globs for sibling segments with libsmraw's naming schemes, which also take
    "disk1.iso" as segment 1 of a set with "disk2.iso" and read the two as one image (or fail outright
    on names it cannot parse). A single file must be read alone, so the segments are only looked for
    when the name says "split".
    """
    if _SPLIT_RAW_FIRST.search(source):
        return path_factory.Factory.NewPathSpec(dfdef.TYPE_INDICATOR_RAW, parent=os_spec)
    return os_spec


def volume_spec(kind: str, ident: str, parent: PathSpec, offset: int | None = None) -> PathSpec:
    """The dfVFS path spec of one volume of a volume system, from its identifier ("p1", "vss2", "lvm1").

    MBR partitions are addressed by start offset: dfVFS resolves "/p5" wrongly inside extended partitions.
    """
    if kind == dfdef.TYPE_INDICATOR_TSK_PARTITION and offset is not None:
        return path_factory.Factory.NewPathSpec(kind, start_offset=offset, parent=parent)
    if kind == dfdef.TYPE_INDICATOR_VSHADOW:
        index = int(ident.removeprefix("vss")) - 1
        return path_factory.Factory.NewPathSpec(kind, location=f"/{ident}", store_index=index, parent=parent)
    if kind == dfdef.TYPE_INDICATOR_LVM:
        index = int(ident.removeprefix("lvm")) - 1
        return path_factory.Factory.NewPathSpec(kind, location=f"/{ident}", volume_index=index, parent=parent)
    if kind == dfdef.TYPE_INDICATOR_APFS_CONTAINER:
        index = int(ident.removeprefix("apfs")) - 1
        return path_factory.Factory.NewPathSpec(kind, location=f"/{ident}", volume_index=index, parent=parent)
    return path_factory.Factory.NewPathSpec(kind, location=f"/{ident}", parent=parent)


def spec_for(
    source: str, layers: tuple[Layer, ...], credentials: tuple[Credential, ...] = (), ctx: Any = None
) -> PathSpec:
    """Rebuild the dfVFS path spec of the volume or file system named by ``layers`` (after SOURCE).

    Stops before the FILESYSTEM layer: from there on the file-system readers take over. Encrypted
    layers are unlocked with ``credentials`` (tried in turn; dfVFS keeps the one that works).
    """
    spec = path_factory.Factory.NewPathSpec(dfdef.TYPE_INDICATOR_OS, location=source)
    for layer in layers:
        if layer.kind is LayerKind.IMAGE and (layer.detail or "raw") == "raw":
            spec = raw_spec(spec, source)
        elif layer.kind is LayerKind.IMAGE:
            spec = path_factory.Factory.NewPathSpec(_DETAIL_TYPE[layer.detail or "raw"], parent=spec)
        elif layer.kind is LayerKind.PARTITION:
            spec = volume_spec(_DETAIL_TYPE[layer.detail or ""], layer.value, spec, layer.offset)
            if spec.type_indicator in _ENCRYPTING_CONTAINERS:
                _try_unlock(spec, credentials, ctx)
        elif layer.kind is LayerKind.ENCRYPTION:
            spec = path_factory.Factory.NewPathSpec(_DETAIL_TYPE[layer.detail or ""], parent=spec)
            _try_unlock(spec, credentials, ctx)
        else:
            break
    return spec


def _try_unlock(spec: PathSpec, credentials: tuple[Credential, ...], ctx: Any) -> None:
    forget_credentials(spec)
    try:
        entry = resolver.Resolver.OpenFileEntry(spec, resolver_context=ctx)
        if entry is None or not entry.IsLocked():
            return
        for credential in credentials:
            if not set_credential(spec, credential):
                continue
            entry = resolver.Resolver.OpenFileEntry(spec, resolver_context=ctx)
            if entry is not None and entry.Unlock():
                return
    except (dferrors.Error, OSError, RuntimeError):
        pass  # opening the file system below reports it
