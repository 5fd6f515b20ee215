"""Files only their owner may read: hash sets, case data and reports are sensitive whatever the umask.

``Path.open("wb")`` creates files with mode 0666 less the umask, so a user whose umask is 000 (shared
machines, some containers) would leave them world-readable. Creating with 0600 is not weakened by any
umask, since a umask only removes bits; an existing file is set to 0600 as it is opened.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO, TextIO

OWNER_ONLY = 0o600


def open_owner_only(path: Path, *, truncate: bool = True) -> BinaryIO:
    """Open ``path`` for binary writing, creating it 0600 (an existing file becomes 0600 too).

    Symbolic links are not followed: a link planted where a file is to be written is an error.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def create_owner_only(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist, for a writer (SQLite) that creates files with
    its own default mode but keeps the mode of a file that is already there."""
    open_owner_only(path, truncate=False).close()


def open_owner_only_text(path: Path) -> TextIO:
    """The text form of :func:`open_owner_only` (UTF-8, newlines as written: CSV writers choose their own)."""
    return io.TextIOWrapper(open_owner_only(path), encoding="utf-8", newline="")


def write_owner_only(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a new owner-only file (reports, exports)."""
    with open_owner_only(path) as fh:
        fh.write(data)
