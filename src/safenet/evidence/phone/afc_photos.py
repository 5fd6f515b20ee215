"""The Photos library of a live iOS device, read over AFC for its hidden and recently-deleted flags.

On a phone in use, Photos keeps ``Photos.sqlite`` in write-ahead-log mode: the latest changes (a picture
moved to "Recently Deleted" a minute ago) may be only in ``Photos.sqlite-wal`` until SQLite checkpoints it.
So when the phone has a non-empty log, both files are copied into a scratch folder, the log is applied to the
copy (a checkpoint, which only ever writes the copy) and the copy is read; the scratch folder is deleted
after. Without a log, the database is read into memory (up to ``IN_MEMORY``; larger, into a scratch file).
The two files are read one after the other while the phone may be writing them: a change made in between
can be missed, never invented (SQLite ignores log frames whose checksums do not match).

Reading the flags is ``phone.photos_db`` (shared with iTunes backups); a database that cannot be read is one
warning and the pictures are examined without flags.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Final

from safenet.evidence.phone.afc import AfcSession
from safenet.evidence.phone.photos_db import apply_log, photos_notes, rollback_header

PHOTOS_DB: Final = "/PhotoData/Photos.sqlite"
IN_MEMORY: Final = 256 << 20  # a database without a log, up to this size, is read into memory


def read_notes(session: AfcSession, db_size: int, wal_size: int, warn: list[str]) -> dict[str, str]:
    """``{path under Media/: note}`` for the flagged assets; problems are appended to ``warn`` as sentences.

    Raises OSError (a read refused) or ``photos_db.PhotosDbError`` (not a Photos library) for the caller.
    """
    if wal_size == 0 and db_size <= IN_MEMORY:
        return photos_notes(rollback_header(session.read_all(PHOTOS_DB, IN_MEMORY)))
    with tempfile.TemporaryDirectory(prefix="safenet-photos-") as scratch:
        copy = Path(scratch) / "Photos.sqlite"
        _copy(session, PHOTOS_DB, copy)
        if wal_size:
            _copy(session, f"{PHOTOS_DB}-wal", copy.with_name("Photos.sqlite-wal"))
            problem = apply_log(copy)
            if problem is not None:
                warn.append(f"the write-ahead log was not applied ({problem}): the latest changes may be missing")
        return photos_notes(copy)


def _copy(session: AfcSession, device_path: str, target: Path) -> None:
    with session.open_file(device_path) as stream, target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            out.write(chunk)
