"""The iOS Photos library database (``Media/PhotoData/Photos.sqlite``): which camera-roll files are hidden or
recently deleted.

The Photos app keeps one ZASSET row per picture or video: its folder under ``Media/`` (ZDIRECTORY, e.g.
``DCIM/100APPLE``), its file name (ZFILENAME), whether it sits in "Recently Deleted" (ZTRASHEDSTATE = 1) or in the
Hidden album (ZHIDDEN = 1), and when it was taken (ZDATECREATED, Core Data time: seconds since 2001-01-01 UTC).
The file itself stays in DCIM until the trash is emptied, so these flags are the only sign that the owner deleted
or hid it. Shared by the backup reader and the live (AFC) reader: both hand over the database file.

The database is evidence, so hostile: it is opened read-only (an in-memory copy or an immutable file), only a
real ZASSET table is read (never a view, whose definition could run anything), the query runs under a step
budget, and any failure becomes :class:`PhotosDbError` for the caller to record as a warning.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

CORE_DATA_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
MAX_STEPS = 50_000_000  # SQLite virtual-machine steps for the whole read: ample for a million assets
_NOTE_TRASHED = "recently deleted in Photos (ZTRASHEDSTATE)"
_NOTE_HIDDEN = "hidden in Photos (ZHIDDEN)"

#: A note per asset path relative to ``Media/`` (``DCIM/100APPLE/IMG_0001.JPG``), for flagged assets only.
PhotosNotes = Mapping[str, str]


class PhotosDbError(Exception):
    """The Photos database cannot be read (damaged, not SQLite, no ZASSET table, too much work)."""


def core_data_time(value: object) -> datetime | None:
    """A Core Data timestamp (seconds since 2001-01-01 UTC) as a UTC time, or None when absent or absurd."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return CORE_DATA_EPOCH + timedelta(seconds=float(value))
    except (OverflowError, ValueError):
        return None


def photos_notes(database: bytes | Path) -> dict[str, str]:
    """``{path under Media/: note}`` for each asset flagged hidden or recently deleted in a Photos.sqlite.

    ``database``: the file's bytes (a decrypted backup copy, a file read over AFC) or a path to it.
    """
    try:
        conn = _connect(database)
    except sqlite3.Error as exc:
        raise PhotosDbError(f"not a readable SQLite database ({exc})") from exc
    try:
        return _read(conn)
    except sqlite3.Error as exc:
        raise PhotosDbError(f"damaged or unexpected Photos database ({exc})") from exc
    finally:
        conn.close()


def _connect(database: bytes | Path) -> sqlite3.Connection:
    if isinstance(database, Path):
        return sqlite3.connect(f"file:{quote(str(database))}?mode=ro&immutable=1", uri=True)
    conn = sqlite3.connect(":memory:")
    conn.deserialize(rollback_header(database))  # a private copy: nothing the query does reaches the evidence
    return conn


def _read(conn: sqlite3.Connection) -> dict[str, str]:
    conn.execute("PRAGMA trusted_schema = OFF")
    kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'ZASSET'").fetchone()
    if kind is None or kind[0] != "table":
        raise PhotosDbError("no ZASSET table (not a Photos library, or a damaged one)")
    columns = {row[1].upper() for row in conn.execute("PRAGMA table_info(ZASSET)")}
    wanted = ("ZDIRECTORY", "ZFILENAME", "ZTRASHEDSTATE", "ZHIDDEN", "ZDATECREATED")
    picked = ", ".join(c if c in columns else "NULL" for c in wanted)
    steps = [0]

    def budget() -> int:
        steps[0] += 1
        return 1 if steps[0] * 1000 > MAX_STEPS else 0  # non-zero aborts the query

    conn.set_progress_handler(budget, 1000)
    notes: dict[str, str] = {}
    try:
        for directory, filename, trashed, hidden, created in conn.execute(
            f"SELECT {picked} FROM ZASSET"
        ):  # the column names are ours
            if not isinstance(filename, str) or not filename:
                continue
            flags = [note for flag, note in ((trashed, _NOTE_TRASHED), (hidden, _NOTE_HIDDEN)) if flag == 1]
            if not flags:
                continue
            when = core_data_time(created)
            if when is not None:
                flags.append(f"created {when:%Y-%m-%d %H:%M:%S} UTC (ZDATECREATED)")
            folder = directory.strip("/") if isinstance(directory, str) else ""
            notes[f"{folder}/{filename}" if folder else filename] = "; ".join(flags)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise PhotosDbError("reading ZASSET took more work than any real Photos library needs") from exc
        raise
    return notes


def rollback_header(data: bytes) -> bytes:
    """The database with its header saying "rollback journal" where it says "write-ahead log".

    A phone's Photos.sqlite is in WAL mode (header bytes 18 and 19 are 2), and SQLite will not open a WAL-mode
    database from memory ("unable to open database file"). With no log to apply, the main file is the whole
    database, so this copy in memory is read as a plain one; the evidence is not touched.
    """
    if len(data) >= 20 and data.startswith(b"SQLite format 3\x00") and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def apply_log(copy: Path) -> str | None:
    """Checkpoint the copied log into the copied database; why not, when SQLite refuses."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(copy))}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")  # the schema is evidence: nothing in it runs
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return "the log is in use" if busy else None
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()


def notes_with_log(database: bytes, log: bytes) -> tuple[dict[str, str], str | None]:
    """The notes of a database whose write-ahead log was kept beside it (a phone's ``Photos.sqlite-wal``): both
    are written to a scratch folder, the log applied to the copy, the copy read and the folder deleted. Returns
    the notes and why the log could not be applied (None when it was)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="safenet-photos-") as scratch:
        copy = Path(scratch) / "Photos.sqlite"
        copy.write_bytes(database)
        copy.with_name("Photos.sqlite-wal").write_bytes(log)
        problem = apply_log(copy)
        return photos_notes(copy), problem
