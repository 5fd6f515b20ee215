"""The one registry of evidence back-ends, and reopening any item from its locator.

Back-ends are tried in order; each either accepts the source or raises NotMyFormat. Archive members,
cache entries, embedded pictures and carved ranges are not back-ends: they are layers that their
producer (``evidence.producers``) resolves on top of whatever stream holds the archive, the cache
file, the parent picture or document, or the carved region. :func:`open_sibling` opens another file
of a top-level file's folder (a browser cache's index next to its entry files) through the same back-end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, ClassVar, cast

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.directory import DirectoryEvidence
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import Evidence, EvidenceError, NotMyFormat, OpenContext
from safenet.evidence.phone.android_backup import AndroidBackupEvidence
from safenet.evidence.phone.ffs import FfsEvidence
from safenet.evidence.phone.ios_backup import IosBackupEvidence
from safenet.evidence.phone.ufdr import UfdrEvidence
from safenet.evidence.producers import BY_LAYER
from safenet.evidence.single_file import SingleFileEvidence
from safenet.evidence.streams import RawReader

if TYPE_CHECKING:
    from safenet.evidence.image import ImageEvidence


class _ImageBackend:
    """The disk-image back-end, imported when a source is first tried as an image: dfVFS and its format
    libraries take a few tenths of a second to load, which a folder, a file or a phone backup never needs
    (and a triage of a folder starts reading that much sooner)."""

    NAME: ClassVar[str] = "image"

    @staticmethod
    def load() -> type[ImageEvidence]:
        from safenet.evidence.image import ImageEvidence

        return ImageEvidence


BACKENDS: tuple[
    type[IosBackupEvidence]
    | type[AndroidBackupEvidence]
    | type[UfdrEvidence]
    | type[FfsEvidence]
    | type[DirectoryEvidence]
    | type[_ImageBackend]
    | type[SingleFileEvidence],
    ...,
] = (
    AndroidBackupEvidence,  # a file that starts "ANDROID BACKUP": before SingleFileEvidence takes it
    UfdrEvidence,  # a zip with report.xml: before FfsEvidence, as its members may show a phone's layout too
    FfsEvidence,  # a zip or tar whose names show a phone's file system
    IosBackupEvidence,  # a folder, so before DirectoryEvidence; answers NotMyFormat from three file tests
    DirectoryEvidence,
    _ImageBackend,  # ImageEvidence
    SingleFileEvidence,
)

_names = [b.NAME for b in BACKENDS]
if len(set(_names)) != len(_names):  # pragma: no cover - a programming error caught at import
    raise RuntimeError(f"duplicate evidence back-end names: {_names}")


class SourceNotFound(EvidenceError):
    """The path given as evidence does not exist."""


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    """A live device named by a scheme and the device's own id (``android://SERIAL``, ``ios://UDID``), not a path.

    Plain data, so it crosses process boundaries like a path does; ``str()`` gives the form the examiner typed,
    which is what the case records as the exhibit's source.
    """

    scheme: str
    ident: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.ident}"


#: An evidence source: a path (folder, file, image, device node) or a live device's address.
Source = Path | DeviceAddress

#: Live-device back-ends by URI scheme. Each opener is imported only when its scheme is used (the phone
#: libraries are heavy and most runs never touch them). A scheme's module provides ``open_device(ident,
#: context) -> Evidence``.
DEVICE_SCHEMES: dict[str, str] = {
    "android": "safenet.evidence.phone.android_live",  # a phone by adb serial: shared storage over ADB sync
    "ios": "safenet.evidence.phone.ios_live",  # a paired iPhone or iPad by UDID: its media domain over AFC
}


def as_source(text: str) -> Source:
    """The examiner's source argument as a path, or a device address when it starts with a known scheme."""
    scheme, sep, ident = text.partition("://")
    if sep and scheme.lower() in DEVICE_SCHEMES:
        return DeviceAddress(scheme.lower(), ident)
    return Path(text)


def _open_device(address: DeviceAddress, context: OpenContext) -> Evidence:
    import importlib

    module = importlib.import_module(DEVICE_SCHEMES[address.scheme])
    opener: Callable[[str, OpenContext], Evidence] = module.open_device
    return opener(address.ident, context)


def open_source(path: Source, context: OpenContext | None = None) -> Evidence:
    """Open a source path with the first back-end that accepts it (``context``: credentials, partitions); a
    device address goes to its scheme's back-end."""
    if isinstance(path, DeviceAddress):
        return _open_device(path, context or OpenContext())
    if not path.exists() and not path.is_symlink():
        raise SourceNotFound(f"evidence path {path} does not exist; check the path and that the drive is mounted")
    for backend in BACKENDS:
        try:
            if issubclass(backend, (DirectoryEvidence, SingleFileEvidence)):
                return backend(path)
            if issubclass(backend, _ImageBackend):
                return backend.load()(path, context)
            return backend(path, context)  # the others may ask for passwords or partitions
        except NotMyFormat:
            continue
    raise EvidenceError(f"{path} is neither a folder, a disk image or device, nor a regular file Safenet can read")


def _open_nested(streams: list[BinaryIO], layer: Layer) -> BinaryIO:
    producer = BY_LAYER[layer.kind]
    container = seekable_copy(streams[-1]) if producer.SEEKS else streams[-1]  # a member stream is spooled
    if container is not streams[-1]:
        streams.append(container)
    return producer.reopen(container, layer)


def open_locator(evidence: Evidence, locator: Locator) -> BinaryIO:
    """Reopen any item: the back-end opens the outer file; each nested layer (archive member, cache entry,
    carved range, embedded picture) is resolved on top of it by the producer that yields that layer kind
    (``producers.BY_LAYER``; a container that cannot seek is spooled to a scratch copy when it needs seeking)."""
    layers = locator.layers
    first_member = next((i for i, layer in enumerate(layers) if layer.kind in BY_LAYER), len(layers))
    streams = [evidence.open(Locator(layers[:first_member]))]
    if first_member == len(layers):
        return streams[0]
    try:
        for layer in layers[first_member:]:
            if layer.kind not in BY_LAYER:
                raise EvidenceError(f"cannot reopen {locator}: layer {layer.kind.value} is not supported here")
            streams.append(_open_nested(streams, layer))
    except BaseException:
        for stream in reversed(streams):
            stream.close()
        raise
    return cast(BinaryIO, RawReader(streams[-1], owned=streams))


class SiblingNotFound(EvidenceError, FileNotFoundError):
    """The sibling file named does not exist (or is not a live regular file) in the item's folder."""


def open_sibling(evidence: Evidence, locator: Locator, relpath: str) -> BinaryIO:
    """Open the file at ``<folder of locator's file>/<relpath>`` through the same evidence back-end.

    ``locator`` must name a top-level file: its last layer is a PATH (a file in a folder exhibit or in a
    file system of an image; not a region, a stream, an archive member or a cache entry). ``relpath`` is
    relative and stays inside that folder ("data_1", "index-dir/the-real-index"): an absolute path, a
    ".." or an empty part is refused. The sibling is opened by path alone (a PATH layer without inode):
    a live file only. A sibling that is not there raises :class:`SiblingNotFound`; other failures
    raise EvidenceError or OSError.
    """
    if isinstance(evidence, SingleFileEvidence):
        raise EvidenceError("a single-file exhibit is one file: the files beside it are not evidence")
    leaf = locator.leaf
    if leaf.kind is not LayerKind.PATH or leaf.detail is not None or not leaf.value:
        raise EvidenceError(f"{locator} is not a file in a folder; it has no siblings")
    parts = relpath.replace("\\", "/").split("/")
    if not relpath or PurePosixPath(relpath).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise EvidenceError(f"sibling path {relpath!r} is not a plain relative path inside the folder")
    folder, slash, _ = leaf.value.replace("\\", "/").rpartition("/")  # a file at the root has no folder part
    sibling = Layer(LayerKind.PATH, f"{folder}{slash}{'/'.join(parts)}")
    try:
        return evidence.open(Locator((*locator.layers[:-1], sibling)))
    except FileNotFoundError as exc:
        raise SiblingNotFound(f"no {relpath} next to {leaf.value}") from exc
