"""Single-file back-end: one regular file given as the source (a phone extraction zip, a lone video)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

from safenet.evidence.directory import open_readonly, regular_file
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    Item,
    TimeSource,
    Timestamp,
    WarningSink,
)


class SingleFileEvidence:
    NAME: ClassVar[str] = "file"

    def __init__(self, path: Path) -> None:
        st = regular_file(path, f"{path} is not a regular file")
        self.path = path.resolve()
        self.locator = Locator.source(str(self.path.parent))
        self._leaf = self.locator.child(Layer(LayerKind.PATH, "/" + self.path.name, inode=st.st_ino))

    def describe(self) -> EvidenceDescription:
        st = self.path.stat()
        return EvidenceDescription(
            self.NAME, str(self.path), f"file {display_safe(str(self.path))}", {"size": str(st.st_size)}
        )

    def items(self, warn: WarningSink) -> Iterator[Item]:
        st = self.path.stat()

        def ts(ns: int) -> Timestamp:
            return Timestamp(datetime.fromtimestamp(ns / 1e9, UTC), TimeSource.FS_STAT)

        yield Item(self._leaf, self.path.name, st.st_size, ts(st.st_mtime_ns), ts(st.st_atime_ns), ts(st.st_ctime_ns))

    def open(self, locator: Locator) -> BinaryIO:
        if locator.layers[:2] != self._leaf.layers:
            raise EvidenceError(f"{locator} is not {self.path}")
        stream = open_readonly(self.path)
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            stream.close()
            raise EvidenceError(f"{self.path} is no longer a regular file")
        return stream
