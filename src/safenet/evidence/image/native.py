"""File systems TSK cannot read (APFS, XFS; or a volume TSK refuses), read with dfVFS's libyal readers.

These list live files only: libfsapfs and libfsxfs do not expose deleted entries. The run record says
so through the "deleted-not-listed" warning, so the report never implies deleted files were looked for.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from dfvfs.lib import errors as dferrors
from dfvfs.path import factory as path_factory
from dfvfs.resolver import resolver

from safenet.evidence.image.reader import Extent, Extents
from safenet.evidence.image.region import Region
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, TimeSource, Timestamp, WarningSink
from safenet.evidence.streams import RawReader
from safenet.reasons import reason_of

_MAX_DEPTH = 128


def _ts(value: Any) -> Timestamp | None:
    if value is None:
        return None
    try:
        text = value.CopyToDateTimeStringISO8601()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except (AttributeError, ValueError, TypeError):
        return None
    if parsed is None:
        return None
    return Timestamp(parsed.astimezone(UTC), TimeSource.FS_METADATA, 1e-9)


class NativeFileSystem:
    """A dfVFS file system: live regular files with their dfVFS identifier as the inode."""

    def __init__(self, fs_spec: Any, resolver_context: Any) -> None:
        self.spec = fs_spec
        self.context = resolver_context
        try:
            self.fs = resolver.Resolver.OpenFileSystem(fs_spec, resolver_context=resolver_context)
        except (dferrors.Error, OSError) as exc:
            raise EvidenceError(
                f"dfVFS cannot open the {fs_spec.type_indicator} file system: {reason_of(exc)}"
            ) from exc
        self.name = fs_spec.type_indicator
        self.direct: Extents = {}  # no file is read straight from its runs: dfVFS reads each one

    def root_problem(self) -> str:
        """Why the root folder cannot be read ("" when it can); see ``TskFileSystem.root_problem``."""
        try:
            root = self.fs.GetRootFileEntry()
            if root is None:
                return "root folder not found"
            next(iter(root.sub_file_entries), None)
        except (dferrors.Error, OSError) as exc:
            return f"root folder unreadable: {reason_of(exc)}"
        return ""

    def items(self, base: Locator, warn: WarningSink, *, slack: bool = True, metadata: bool = False) -> Iterator[Item]:
        """Live regular files (``slack`` and ``metadata`` are not available from these readers)."""
        warn(
            EvidenceWarning(
                "deleted-not-listed",
                f"{self.name}: deleted files are not listed (the reader sees live files only)",
                base,
            )
        )
        root = self.fs.GetRootFileEntry()
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            entry, depth = stack.pop()
            try:
                children = sorted(entry.sub_file_entries, key=lambda e: e.name or "")
            except (dferrors.Error, OSError) as exc:
                warn(EvidenceWarning("fs-corrupt", f"folder unreadable: {reason_of(exc)}", self._loc(base, entry)))
                continue
            subdirs = []
            for child in children:
                if child.IsDirectory():
                    if depth < _MAX_DEPTH:
                        subdirs.append((child, depth + 1))
                elif child.IsFile():
                    yield self._item(base, child)
            stack.extend(reversed(subdirs))

    def _loc(self, base: Locator, entry: Any) -> Locator:
        spec = entry.path_spec
        inode = getattr(spec, "identifier", None)
        return base.child(Layer(LayerKind.PATH, getattr(spec, "location", "") or "/", inode=inode))

    def _item(self, base: Locator, entry: Any) -> Item:
        stat = entry.size
        return Item(
            self._loc(base, entry),
            entry.name,
            int(stat) if stat is not None else None,
            _ts(entry.modification_time),
            _ts(entry.access_time),
            _ts(entry.change_time),
            _ts(entry.creation_time),
        )

    def regions(self, base: Locator, warn: WarningSink) -> list[Region]:
        """None: these readers give no allocation map, so unallocated space and slack are not carved."""
        warn(EvidenceWarning("carve-not-supported", f"unallocated space of {self.name} is not carved yet", base))
        return []

    def region_runs(self, name: str) -> list[tuple[int, int]]:
        raise EvidenceError(f"{self.name}: {name} is not listed (no regions are read from this file system)")

    def open_region(self, runs: list[tuple[int, int]], base: int | None) -> BinaryIO:
        raise EvidenceError(f"{self.name}: no regions are read from this file system")

    def open(self, path_layer: Layer, stream_name: str | None = None, extent: Extent | None = None) -> BinaryIO:
        """A live file's default stream (named streams and direct extents are TSK's alone)."""
        kwargs: dict[str, Any] = {"location": path_layer.value, "parent": self.spec.parent}
        if path_layer.inode is not None:
            kwargs["identifier"] = path_layer.inode
        spec = path_factory.Factory.NewPathSpec(self.spec.type_indicator, **kwargs)
        try:
            file_object = resolver.Resolver.OpenFileObject(spec, resolver_context=self.context)
        except (dferrors.Error, OSError) as exc:
            raise EvidenceError(f"cannot open {path_layer.value}: {reason_of(exc)}") from exc
        if file_object is None:
            raise FileNotFoundError(f"{path_layer.value} not found")
        return cast(BinaryIO, io.BufferedReader(RawReader(file_object), buffer_size=1 << 20))
