"""The image back-end: storage-media images and devices, their volumes, and the file systems inside.

dfVFS detects and opens the layers (see ``chain``); TSK lists the file systems it knows, with deleted
and orphan files and NTFS streams (see ``tsk``); dfVFS's readers take APFS and XFS (see ``native``).
Every volume is reported: a locked or unreadable one is a warning naming it, never a silent skip.

Volume shadow copies are examined as layers of their own; a file in a snapshot that is identical (same
path, size and modification time) to the live file is not listed again, the others carry a note saying
how they differ from the live volume.

With ``OpenContext.unallocated`` (the full profile), each live TSK file system also yields its region
items (PATH layers with detail :data:`~safenet.evidence.carve.REGION`), which the pipeline carves:
``$Unallocated`` (its unallocated clusters end to end, less the clusters of the deleted files already
listed), ``$FileSlack`` (the live files' slack) and ``$VolumeSlack`` (past the file system's end). Their
runs are recomputed (or taken from this object) when a region is reopened.
"""

from __future__ import annotations

import dataclasses
import io
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Final, cast

from dfvfs.lib import errors as dferrors
from dfvfs.path import factory as path_factory
from dfvfs.resolver import context as dfcontext
from dfvfs.resolver import resolver

from safenet.evidence.carve import REGION
from safenet.evidence.directory import open_readonly
from safenet.evidence.image import deps, signatures
from safenet.evidence.image.chain import ENCRYPTION_NAME, Scanner, Volume, VolumeState, WrongCredential, spec_for
from safenet.evidence.image.integrity import stored_hashes
from safenet.evidence.image.native import NativeFileSystem
from safenet.evidence.image.reader import FileSystemReader
from safenet.evidence.image.tsk import TSK_NAMES, RawVolume, TskFileSystem
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
    WarningSink,
)
from safenet.reasons import reason_of

deps.check()

#: File names that say "disk image": an unrecognised one is reported, not passed on as a plain file.
IMAGE_SUFFIXES = frozenset(
    [
        *(".e01", ".ex01", ".s01", ".000", ".001", ".dd", ".raw", ".img", ".bin"),
        *(".vmdk", ".vhd", ".vhdx", ".qcow", ".qcow2", ".iso", ".dmg", ".hdd"),
    ]
)
#: dfVFS file-system types TSK reads (TSK is tried first for these; see tsk.py for why).
_TSK_FIRST = frozenset({"NTFS", "FAT", "EXT", "HFS", "TSK"})
#: Volume systems whose partitions are one contiguous byte range of the disk.
_PLAIN_VOLUMES = frozenset({"mbr", "gpt", "apm"})


class CredentialError(EvidenceError):
    """A credential was given but unlocks nothing: a user error, said in one sentence."""


class ImageEvidence:
    NAME: ClassVar[str] = "image"

    def __init__(self, path: Path, context: OpenContext | None = None) -> None:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise NotMyFormat(f"{path}: {exc.strerror}") from exc
        self.device = stat.S_ISBLK(mode)
        if not (self.device or stat.S_ISREG(mode)) or path.is_symlink():
            raise NotMyFormat(f"{path} is not a file or block device")
        self.path = path.resolve()
        self.context = context or OpenContext()
        self.locator = Locator.source(str(self.path))
        self.scan_notes: list[str] = []
        looks_like_image = self.device or self.path.suffix.lower() in IMAGE_SUFFIXES
        try:
            self.image_format, volumes = Scanner(self.context.credentials, self.scan_notes.append).scan(str(self.path))
        except WrongCredential as exc:
            raise CredentialError(f"{reason_of(exc)} in {self.path.name}; check the credential and try again") from None
        except (dferrors.Error, OSError, RuntimeError) as exc:
            if not looks_like_image:
                raise NotMyFormat(str(exc)) from exc
            self.image_format, volumes = None, []
        if not volumes and not looks_like_image:
            raise NotMyFormat(f"{path} is not a disk image")
        self.volumes = self._selected(volumes)
        self._local = threading.local()
        self._media_size: int | None = None
        self._regions: dict[tuple[tuple[Layer, ...], str], list[tuple[int, int]]] = {}  # (fs, region) -> runs
        # fs -> its listing's TskFileSystem.direct: workers (threads) read those files straight from their runs
        self._direct: dict[tuple[Layer, ...], dict[tuple[int, str], tuple[int, tuple[tuple[int, int], ...]]]] = {}

    def _selected(self, volumes: list[Volume]) -> list[Volume]:
        volumes = self._chosen_fs(volumes)
        wanted = set(self.context.partitions)
        if not wanted:
            return volumes
        names = {layer.value for v in volumes for layer in v.layers if layer.kind is LayerKind.PARTITION}
        if missing := wanted - names:
            raise EvidenceError(
                f"partition(s) {', '.join(sorted(missing))} not found in {self.path.name}; it has: "
                f"{', '.join(sorted(names)) or 'no partitions'}"
            )
        return [v for v in volumes if any(la.value in wanted for la in v.layers if la.kind is LayerKind.PARTITION)]

    def _chosen_fs(self, volumes: list[Volume]) -> list[Volume]:
        """``--filesystem``: in a volume holding several file systems, keep only the one of that family."""
        if not self.context.filesystem:
            return volumes
        wanted = signatures.family(self.context.filesystem)
        if wanted is None:
            raise EvidenceError(
                f"--filesystem {self.context.filesystem}: not a file-system type Safenet can choose; use one of "
                f"{', '.join(signatures.CHOICES)}"
            )
        chosen = [v for v in volumes if v.signatures and signatures.family(v.layers[-1].detail or "") == wanted]
        if not chosen:
            held = [v.name for v in volumes if v.signatures]
            raise EvidenceError(
                f"no volume of {self.path.name} holds both a {signatures.SHOWN[wanted]} file system and another "
                f"one; volumes with several: {', '.join(held) or 'none'}"
            )
        keep = {v.layers[:-1] for v in chosen}
        return [v for v in volumes if v in chosen or v.layers[:-1] not in keep]

    def check(self, volume: Volume) -> str:
        """Why a readable volume's file system cannot be listed ("" when it can): opened as :meth:`items`
        opens it, and its root folder read, so ``inspect`` says readable only where triage can list."""
        try:
            return self._fs(volume.layers, volume).root_problem()
        except EvidenceError as exc:
            return reason_of(exc)

    # --- Evidence protocol ----------------------------------------------------------------------
    def describe(self) -> EvidenceDescription:
        details = {
            "format": self.image_format or "unrecognised",
            "device": str(self.device).lower(),
            "size": str(self.media_size()),
            "volumes": "; ".join(f"{v.name}: {v.state.value}" for v in self.volumes),
        }
        unlocked = [f"{v.name} ({v.unlocked_with.value})" for v in self.volumes if v.unlocked_with]
        if unlocked:
            details["unlocked"] = ", ".join(unlocked)  # the credential kind only, never its value
        if self.image_format == "ewf":
            details.update({f"stored_{k}": v for k, v in stored_hashes(str(self.path)).items()})
        kind = "device" if self.device else f"{self.image_format or 'unrecognised'} image"
        summary = f"{kind} {display_safe(str(self.path))}: {len(self.volumes)} volume(s)"
        return EvidenceDescription(self.NAME, str(self.path), summary, details)

    def items(self, warn: WarningSink) -> Iterator[Item]:
        if not self.volumes:
            warn(
                EvidenceWarning(
                    "image-unrecognised",
                    f"{display_safe(self.path.name)} is not a disk image or file system Safenet can read; "
                    "examined as one file",
                    self.locator,
                )
            )
            yield Item(self._whole(), self.path.name, self._size())
            return
        live: dict[tuple[Layer, ...], dict[str, tuple[int | None, object]]] = {}
        for volume in self.volumes:
            base = self.locator.child(volume.layers[0])
            for layer in volume.layers[1:]:
                base = base.child(layer)
            if volume.state is not VolumeState.READABLE:
                code = "encrypted-volume" if volume.state is VolumeState.LOCKED else "volume-unreadable"
                warn(EvidenceWarning(code, f"{volume.name}: {volume.message}; not examined", base))
                continue
            try:
                fs = self._fs(volume.layers, volume)
            except EvidenceError as exc:
                warn(EvidenceWarning("volume-unreadable", f"{volume.name}: {reason_of(exc)}; not examined", base))
                continue
            base = Locator((*base.layers[:-1], Layer(LayerKind.FILESYSTEM, detail=fs.name)))
            if volume.signatures:
                what = f"{volume.message}; {fs.name} examined as its own layer (the older's files may be overwritten)"
                warn(EvidenceWarning("several-filesystems", what, base))
            yield from self._volume_items(fs, base, warn, live)

    def _volume_items(
        self,
        fs: FileSystemReader,
        base: Locator,
        warn: WarningSink,
        live: dict[tuple[Layer, ...], dict[str, tuple[int | None, object]]],
    ) -> Iterator[Item]:
        vss = next((la for la in base.layers if la.kind is LayerKind.PARTITION and la.detail == "vss"), None)
        if vss is None:
            seen = live.setdefault(base.layers[1:], {})
            snapshots = any(
                la.kind is LayerKind.PARTITION and la.detail == "vss" for v in self.volumes for la in v.layers
            )
            slack = self.context.unallocated
            # the full profile (slack) also lists the file system's metadata files
            for item in fs.items(base, warn, slack=slack, metadata=slack):
                if snapshots and not item.deleted:  # what the shadow copies are compared with
                    seen[_key(item)] = (item.size, item.modified)
                yield item
            self._direct[base.layers[1:]] = fs.direct
            if self.context.unallocated:
                yield from self._region(fs, base, warn)
            return
        parent = tuple(la for la in base.layers[1:] if la is not vss)
        current = live.get(parent, {})
        for item in fs.items(base, warn):
            before = current.get(_key(item))
            if before == (item.size, item.modified):
                continue  # the same file as on the live volume: examined there
            how = "not on the live volume" if before is None else "differs from the live volume"
            note = f"shadow copy {vss.value}: {how}" + (f"; {item.note}" if item.note else "")
            yield dataclasses.replace(item, note=note)

    def _region(self, fs: FileSystemReader, base: Locator, warn: WarningSink) -> Iterator[Item]:
        """The file system's regions to carve (unallocated space, file and volume slack), one item each,
        after its files are listed."""
        for region in fs.regions(base, warn):  # a reader that cannot find them says so
            self._regions[(base.layers[1:], region.name)] = region.runs
            size = sum(length for _, length in region.runs)
            layer = Layer(LayerKind.PATH, region.name, detail=REGION)
            yield Item(base.child(layer), region.name, size, note=region.note)

    def reading_hint(self, locator: Locator) -> object | None:
        """A top-level file's extent (size, block runs) from the listing's ``direct``, or a region's byte runs."""
        where = _listed_at(locator)
        if where is None:
            return None
        fs_layers, path, stream = where
        if path.detail == REGION:
            runs = self._regions.get((fs_layers, path.value))
            return (_REGION_HINT, tuple(runs)) if runs is not None else None
        extent = self._extent(fs_layers, path, stream)
        return (_EXTENT_HINT, extent) if extent is not None else None

    def take_reading_hint(self, locator: Locator, hint: object) -> None:
        where = _listed_at(locator)
        if where is None or not isinstance(hint, tuple) or len(hint) != 2:
            return
        (fs_layers, path, stream), (kind, value) = where, hint
        if kind == _REGION_HINT and path.detail == REGION:
            self._regions.setdefault((fs_layers, path.value), list(value))
        elif kind == _EXTENT_HINT and path.inode is not None:
            self._direct.setdefault(fs_layers, {}).setdefault((path.inode, stream), value)

    def _open_region(self, fs: FileSystemReader, layers: tuple[Layer, ...], name: str) -> BinaryIO:
        runs = self._regions.get((layers[1:], name))
        if runs is None:  # listed elsewhere, no reading hint handed over: list again (deterministic) to know them
            base = Locator(layers)
            for _ in fs.items(base, lambda w: None):
                pass
            runs = fs.region_runs(name)
            self._regions[(layers[1:], name)] = runs
        return fs.open_region(runs, _fs_offset(layers))

    def open(self, locator: Locator) -> BinaryIO:
        layers = locator.layers
        if layers[0] != self.locator.layers[0]:
            raise EvidenceError(f"{locator} is not in {self.path}")
        if not self.volumes and layers[1:] == self._whole().layers[1:]:
            return open_readonly(self.path)
        try:
            cut = next(i for i, la in enumerate(layers) if la.kind is LayerKind.FILESYSTEM)
        except StopIteration:
            raise EvidenceError(f"{locator} names no file system") from None
        path_layer = layers[cut + 1] if len(layers) > cut + 1 else None
        if path_layer is None or path_layer.kind is not LayerKind.PATH:
            raise EvidenceError(f"{locator} names no file")
        stream = layers[cut + 2].value if len(layers) > cut + 2 and layers[cut + 2].kind is LayerKind.STREAM else None
        fs = self._fs(layers[1 : cut + 1], None)
        if path_layer.detail == REGION:
            return self._open_region(fs, layers[: cut + 1], path_layer.value)
        return fs.open(path_layer, stream, self._extent(layers[1 : cut + 1], path_layer, stream or ""))

    def _extent(
        self, fs_layers: tuple[Layer, ...], path: Layer, stream: str
    ) -> tuple[int, tuple[tuple[int, int], ...]] | None:
        """A plain stream's extent as the listing found it (``_direct``), for ``open`` and its reading hint alike."""
        direct = self._direct.get(fs_layers)
        return direct.get((path.inode, stream)) if direct and path.inode is not None else None

    # --- helpers -----------------------------------------------------------------------------------
    def _fs(self, layers: tuple[Layer, ...], volume: Volume | None) -> FileSystemReader:
        """The file system named by ``layers`` (ending in FILESYSTEM), opened once per thread."""
        cache: dict[tuple[Layer, ...], Any] = self._local.__dict__.setdefault("fs", {})
        key = layers if volume is None else ()
        if key and key in cache:
            return cast(FileSystemReader, cache[key])
        ctx = self._local.__dict__.setdefault("ctx", dfcontext.Context())
        detail = layers[-1].detail or ""
        # A named TSK type opens only that family: a volume with two file systems' signatures (see signatures.py)
        # is refused by TSK's detection. A fresh scan's dfVFS names ("NTFS", "EXT") keep TSK's own detection.
        kind = detail if detail in TSK_NAMES and (volume is None or volume.signatures) else ""
        try:
            parent = spec_for(str(self.path), layers[:-1], self.context.credentials, ctx)
            fs: FileSystemReader
            if detail in TSK_NAMES or (volume is not None and detail in _TSK_FIRST):
                try:
                    raw = self._raw_volume(layers[:-1])
                    fs = TskFileSystem(raw or resolver.Resolver.OpenFileObject(parent, resolver_context=ctx), kind)
                    if not fs.name:
                        raise EvidenceError("TSK found a file system type Safenet does not list")
                except EvidenceError:
                    if detail in TSK_NAMES or detail == "TSK":
                        raise
                    fs = self._native(detail, parent, ctx)
            else:
                fs = self._native(detail, parent, ctx)
        except (dferrors.Error, OSError, RuntimeError) as exc:
            raise EvidenceError(f"cannot open the file system: {reason_of(exc)}") from exc
        cache[(*layers[:-1], Layer(LayerKind.FILESYSTEM, detail=fs.name))] = fs
        return fs

    def _raw_volume(self, layers: tuple[Layer, ...]) -> RawVolume | None:
        """TSK's own reader for a volume of a single-file raw image (see ``tsk.RawVolume``), else None.

        Only where the file is the media (raw format, not split, not a device) and the volume is the whole
        image or one plain partition (MBR, GPT, APM) with a known extent: nothing to translate in between.
        """
        if self.device or self.image_format != "raw" or self.media_size() != self._size():
            return None
        inner = layers[1:]  # after the IMAGE layer
        if not inner:
            return RawVolume(str(self.path), 0, self.media_size())
        [part] = inner if len(inner) == 1 else (None,)
        if part is None or part.kind is not LayerKind.PARTITION or part.detail not in _PLAIN_VOLUMES:
            return None
        if part.offset is None or not part.length:
            return None
        return RawVolume(str(self.path), part.offset, part.length)

    @staticmethod
    def _native(detail: str, parent: Any, ctx: Any) -> NativeFileSystem:
        location = "\\" if detail == "NTFS" else "/"
        return NativeFileSystem(path_factory.Factory.NewPathSpec(detail, location=location, parent=parent), ctx)

    def _whole(self) -> Locator:
        return self.locator.child(Layer(LayerKind.IMAGE, detail="unrecognised"))

    def files_at(self, offsets: Sequence[int], warn: WarningSink) -> dict[int, Item]:
        """The live file whose data holds each byte offset of the media (sampled blocks' owners); offsets with no
        owner are left out.

        Lists the volumes once (what ``items`` yields), then looks each byte up in the data runs TSK gave for each
        plain stream (live, non-resident, uncompressed: what is read straight from its runs on a raw image).
        A byte in a compressed, sparse or resident stream, in a file system read without TSK, or in free
        space has no owner here.
        """
        found: dict[int, Item] = {}
        listed: dict[tuple[tuple[Layer, ...], int], Item] = {}
        for item in self.items(warn):
            path = next((i for i, la in enumerate(item.locator.layers) if la.kind is LayerKind.PATH), None)
            if path is not None and item.locator.layers[path].inode is not None and not item.deleted:
                listed.setdefault((item.locator.layers[1:path], item.locator.layers[path].inode or 0), item)
        for fs_layers, streams in self._direct.items():
            partition = next((la for la in fs_layers if la.kind is LayerKind.PARTITION), None)
            start = (partition.offset or 0) if partition else 0
            block = getattr(self._fs(fs_layers, None), "block_size", 0)
            if not block:
                continue
            for (inode, _stream), (_size, runs) in streams.items():
                for offset in offsets:
                    owner = listed.get((fs_layers, inode))
                    if owner is not None and any(
                        start + a * block <= offset < start + (a + n) * block for a, n in runs
                    ):
                        found.setdefault(offset, owner)
        return found

    def media_size(self) -> int:
        """The size of the disk the image holds, not of the file(s) holding it.

        An E01 or QCOW file is compressed or sparse, a split image is several files, a VHD has a footer:
        the report states the media size, which is what an examiner compares with the seized drive.
        """
        if self._media_size is None:
            self._media_size = self._size()
            if self.image_format and self.volumes:
                try:
                    spec = spec_for(str(self.path), (Layer(LayerKind.IMAGE, detail=self.image_format),))
                    media = resolver.Resolver.OpenFileObject(spec, resolver_context=dfcontext.Context())
                    self._media_size = int(media.get_size())
                except (dferrors.Error, OSError, RuntimeError, KeyError):
                    pass  # the file size is the best that can be said; the listing reports the problem
        return self._media_size

    def _size(self) -> int:
        if not self.device:
            return self.path.stat().st_size
        with open_readonly(self.path) as handle:
            return handle.seek(0, io.SEEK_END)

    def encrypted_volumes(self) -> list[str]:
        return [f"{v.name}: {v.message}" for v in self.volumes if v.state is VolumeState.LOCKED]


_REGION_HINT: Final = "region"  # a reading hint: a region's byte runs in its file system
_EXTENT_HINT: Final = "extent"  # ... a plain stream's (size, block runs), read straight from the raw image


def _listed_at(locator: Locator) -> tuple[tuple[Layer, ...], Layer, str] | None:
    """Where a top-level item of a file system is, as ``open`` reads it: the file system's layers (less the
    source), the path layer and the stream name ("" for the default); None for anything else."""
    layers = locator.layers
    cut = next((i for i, la in enumerate(layers) if la.kind is LayerKind.FILESYSTEM), None)
    if cut is None or len(layers) < cut + 2 or len(layers) > cut + 3 or layers[cut + 1].kind is not LayerKind.PATH:
        return None
    stream = ""
    if len(layers) == cut + 3:
        if layers[cut + 2].kind is not LayerKind.STREAM:
            return None
        stream = layers[cut + 2].value
    return layers[1 : cut + 1], layers[cut + 1], stream


def _key(item: Item) -> str:
    """A file's identity across snapshots: path and stream, without the volume layers."""
    return "/".join(la.value for la in item.locator.layers if la.kind in (LayerKind.PATH, LayerKind.STREAM))


def _fs_offset(layers: tuple[Layer, ...]) -> int | None:
    """The file system's byte offset in the image: 0 with no volume system, the partition's start with
    one plain partition; None where layers in between (decryption, nested volumes) make it not one number."""
    if any(la.kind is LayerKind.ENCRYPTION for la in layers):
        return None
    partitions = [la for la in layers if la.kind is LayerKind.PARTITION]
    if not partitions:
        return 0
    if len(partitions) == 1 and partitions[0].detail != "vss":
        return partitions[0].offset
    return None


__all__ = ["ENCRYPTION_NAME", "CredentialError", "ImageEvidence"]
