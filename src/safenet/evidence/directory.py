"""Directory back-end: a mounted volume or a copied folder, read-only.

Files and folders are opened with O_NOATIME where the kernel allows it (owner or root), so reading them
leaves their access times as found, and with O_NOFOLLOW always;
symlinks are never followed (a link into the source is examined at its target, a link out of it or
a dangling link is a recorded warning); sockets, FIFOs and devices are skipped with a warning; other
mounted file systems below the source are not entered (they are separate exhibits).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    TimeSource,
    Timestamp,
    WarningSink,
)

_NOATIME = getattr(os, "O_NOATIME", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_readonly(path: Path | str) -> BinaryIO:
    """Open a file for reading without following a final symlink and, where permitted, without atime."""
    return os.fdopen(_open_noatime(path, os.O_RDONLY | _NOFOLLOW), "rb", buffering=0)


def regular_file(path: Path, refusal: str) -> os.stat_result:
    """``path``'s own status (a final symlink not followed), or NotMyFormat(refusal) unless it is a regular file.

    The first check of every back-end that reads one file: a symlink, a folder or a missing path is not its format.
    """
    st = path.lstat() if path.exists() or path.is_symlink() else None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise NotMyFormat(refusal)
    return st


def _open_noatime(path: Path | str, flags: int) -> int:
    """``os.open`` with O_NOATIME added where the kernel allows it, so reading leaves access times as found.

    O_NOATIME needs the file's owner or CAP_FOWNER (EPERM otherwise) and some file systems reject it
    (EINVAL): then the plain open, silently; the README advises a read-only mount for that case.
    """
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | _NOATIME)
    except PermissionError:
        return os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return os.open(path, flags)


def keep_atime(fd: int) -> None:
    """Add O_NOATIME to a descriptor another library opened, where permitted (the same rules as above)."""
    if not _NOATIME:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | _NOATIME)


def _ts(seconds_ns: int) -> Timestamp:
    value = datetime.fromtimestamp(seconds_ns / 1e9, UTC)
    return Timestamp(value, TimeSource.FS_STAT, 1e-9)


class DirectoryEvidence:
    NAME: ClassVar[str] = "directory"
    #: Listing keeps no state that reading uses: the items may be examined while the listing goes on
    #: (``engine.listing``).
    LISTS_WHILE_READ: ClassVar[bool] = True

    def __init__(self, root: Path) -> None:
        if not root.is_dir() or root.is_symlink():
            raise NotMyFormat(f"{root} is not a directory")
        self.root = root.resolve()
        self._device = self.root.stat().st_dev
        self.locator = Locator.source(str(self.root))
        self._source = self.locator.layers[0]

    def describe(self) -> EvidenceDescription:
        st = self.root.stat()
        return EvidenceDescription(
            backend=self.NAME,
            source=str(self.root),
            summary=f"directory {display_safe(str(self.root))}",
            details={"device": str(st.st_dev), "filesystem": _fs_type(self.root)},
        )

    def items(self, warn: WarningSink) -> Iterator[Item]:
        stack: list[str] = [""]
        while stack:
            rel = stack.pop()
            yield from self._scan(rel, stack, warn)

    def _scan(self, rel: str, stack: list[str], warn: WarningSink) -> Iterator[Item]:
        here = self.root / rel if rel else self.root
        try:
            # Listed through a descriptor opened with O_NOATIME: reading a folder sets its atime too.
            fd = _open_noatime(here, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
            try:
                with os.scandir(fd) as entries:
                    listing = sorted(entries, key=lambda e: e.name)
                    stats = [_lstat(entry) for entry in listing]
            finally:
                os.close(fd)
        except OSError as exc:
            warn(EvidenceWarning("unreadable", f"directory not readable: {exc.strerror}", self._loc(rel)))
            return
        subdirs: list[str] = []
        for entry, st in zip(listing, stats, strict=True):
            child = f"{rel}/{entry.name}" if rel else entry.name
            if isinstance(st, OSError):
                warn(EvidenceWarning("unreadable", f"cannot stat: {st.strerror}", self._loc(child)))
                continue
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                if st.st_dev != self._device:
                    warn(
                        EvidenceWarning(
                            "other-filesystem",
                            "another file system is mounted here; not entered (examine it as its own exhibit)",
                            self._loc(child),
                        )
                    )
                else:
                    subdirs.append(child)
            elif stat.S_ISREG(mode):
                yield self._item(child, entry.name, st)
            elif stat.S_ISLNK(mode):
                self._check_link(child, warn)
            else:
                warn(EvidenceWarning("special-file", f"special file ({_kind(mode)}) skipped", self._loc(child)))
        stack.extend(reversed(subdirs))

    def _check_link(self, rel: str, warn: WarningSink) -> None:
        path = self.root / rel
        try:
            target = path.resolve(strict=True)
        except RuntimeError:
            warn(EvidenceWarning("symlink-loop", "symbolic link loop; not followed", self._loc(rel)))
            return
        except OSError:
            warn(
                EvidenceWarning(
                    "symlink-dangling",
                    f"symbolic link to a missing target ({display_safe(os.readlink(path))}); not followed",
                    self._loc(rel),
                )
            )
            return
        if not target.is_relative_to(self.root):
            warn(
                EvidenceWarning(
                    "symlink-outside",
                    f"symbolic link out of the source ({display_safe(str(target))}); not followed",
                    self._loc(rel),
                )
            )
        # a link inside the source: its target is examined where it lives

    def _loc(self, rel: str, inode: int | None = None) -> Locator:
        return self.locator.child(Layer(LayerKind.PATH, "/" + rel, inode=inode)) if rel else self.locator

    def _item(self, rel: str, name: str, st: os.stat_result) -> Item:
        # this runs once per file listed: the locator built directly, and a time equal to the modification time
        # (a file written once: its change time) is the same immutable Timestamp, not another one
        mtime, atime, ctime = st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns
        modified = _ts(mtime)
        return Item(
            Locator((self._source, Layer(LayerKind.PATH, "/" + rel, inode=st.st_ino))),
            name,
            st.st_size,
            modified,
            modified if atime == mtime else _ts(atime),
            modified if ctime == mtime else _ts(ctime),
        )

    def open(self, locator: Locator) -> BinaryIO:
        if len(locator.layers) < 2 or locator.layers[0] != self.locator.layers[0]:
            raise EvidenceError(f"{locator} is not in {self.root}")
        layer = locator.layers[1]
        rel = layer.value.lstrip("/")
        if layer.kind is not LayerKind.PATH or ".." in rel.split("/"):
            raise EvidenceError(f"{locator} is not a path in {self.root}")
        if layer.inode is None and not (self.root / rel).parent.resolve().is_relative_to(self.root):
            # a path Safenet named itself (a cache file's sibling), not one it listed: no linked folder out
            raise EvidenceError(f"{locator} leads out of {self.root} through a linked folder")
        stream = open_readonly(f"{self.root}/{rel}")  # a string, not a Path: this runs once per item
        st = os.fstat(stream.fileno())
        if not stat.S_ISREG(st.st_mode):
            stream.close()
            raise EvidenceError(f"{locator} is no longer a regular file")
        return stream


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | OSError:
    """An entry's own status (links not followed), taken while its folder's descriptor is still open."""
    try:
        return entry.stat(follow_symlinks=False)
    except OSError as exc:
        return exc


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "unknown type"


def _fs_type(path: Path) -> str:
    """The mounted file-system type of ``path`` from /proc/mounts (Linux), or "unknown"."""
    best, fstype = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype
