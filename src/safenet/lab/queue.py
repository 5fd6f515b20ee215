"""The lab's exhibit queue: one small SQLite file in the installation's data folder (``lab.db``).

An entry is one exhibit to triage into a case (its source, profile, hash sets and cluster). ``claim`` hands the
next queued entry to a coordinator: charging deadlines first (earliest first, entries without one last), then
higher ``priority``, then the order of submission. The claim is one ``BEGIN IMMEDIATE`` transaction, so two
coordinators (``lab run`` on two machines sharing the file, or twice on one) never take the same entry.

A coordinator that stops:
- Ctrl-C, or an error of the run: its entry goes back to the queue (``requeue``) or is marked failed, at once;
- killed (power cut, SIGKILL): its entry stays ``running`` with its host and pid. The next ``claim`` on the same
  host finds the pid gone and queues the entry again: the case keeps the run it had begun, and the runner,
  seeing it there, finishes it with ``--resume`` (nothing recorded is examined twice). An entry left running by
  another host shows its last progress time in ``lab status``; ``lab requeue ID`` puts it back by hand.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Final

from safenet.engine.cluster import ClusterTarget, PathMap
from safenet.owner_only import create_owner_only

FILE_NAME: Final = "lab.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    case_dir TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    profile TEXT NOT NULL,
    hashsets TEXT NOT NULL,            -- JSON list of set names
    hashdb TEXT,
    cluster TEXT,                      -- the scheduler's address; NULL: this machine's executors
    path_map TEXT NOT NULL,            -- JSON list of "LOCAL=SHARED"
    deadline TEXT,                     -- ISO date of the charging deadline
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    submitted REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL,                      -- last progress written by the coordinator
    host TEXT,
    pid INTEGER,
    planned INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    run_id INTEGER,
    message TEXT
);
"""


class State(StrEnum):
    """Stored in the queue file; never rename."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Submission:
    """An exhibit to queue, as the examiner gave it."""

    case_dir: Path
    label: str
    source: Path
    profile: str
    hashsets: tuple[str, ...] = ()
    hashdb: Path | None = None
    cluster: ClusterTarget | None = None
    deadline: date | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the queue."""

    id: int
    case_dir: Path
    label: str
    source: Path
    profile: str
    hashsets: tuple[str, ...]
    hashdb: Path | None
    cluster: ClusterTarget | None
    deadline: date | None
    priority: int
    state: State
    submitted: float
    started: float | None
    finished: float | None
    updated: float | None
    host: str | None
    pid: int | None
    planned: int | None
    done: int
    hits: int
    run_id: int | None
    message: str | None


_ORDER = "ORDER BY deadline IS NULL, deadline, priority DESC, id"


def _entry(row: sqlite3.Row) -> Entry:
    maps = tuple(PathMap.parse(text) for text in json.loads(row["path_map"]))
    return Entry(
        id=row["id"],
        case_dir=Path(row["case_dir"]),
        label=row["label"],
        source=Path(row["source"]),
        profile=row["profile"],
        hashsets=tuple(json.loads(row["hashsets"])),
        hashdb=Path(row["hashdb"]) if row["hashdb"] else None,
        cluster=ClusterTarget(row["cluster"], maps) if row["cluster"] else None,
        deadline=date.fromisoformat(row["deadline"]) if row["deadline"] else None,
        priority=row["priority"],
        state=State(row["state"]),
        submitted=row["submitted"],
        started=row["started"],
        finished=row["finished"],
        updated=row["updated"],
        host=row["host"],
        pid=row["pid"],
        planned=row["planned"],
        done=row["done"],
        hits=row["hits"],
        run_id=row["run_id"],
        message=row["message"],
    )


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class LabQueue:
    """The queue file; every method is one short transaction (several coordinators may share the file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        create_owner_only(path)  # case labels and evidence paths: the examiner's eyes only
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def submit(self, submissions: Sequence[Submission]) -> list[int]:
        """Queue the exhibits (all or none); their ids."""
        ids = []
        with self._write() as db:
            for s in submissions:
                cursor = db.execute(
                    "INSERT INTO entries (case_dir, label, source, profile, hashsets, hashdb, cluster, path_map, "
                    "deadline, priority, state, submitted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        str(s.case_dir),
                        s.label,
                        str(s.source),
                        s.profile,
                        json.dumps(list(s.hashsets)),
                        str(s.hashdb) if s.hashdb else None,
                        s.cluster.address if s.cluster else None,
                        json.dumps([str(m) for m in s.cluster.path_map] if s.cluster else []),
                        s.deadline.isoformat() if s.deadline else None,
                        s.priority,
                        State.QUEUED.value,
                        time.time(),
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def claim(self, host: str, pid: int, alive: Callable[[int], bool] = pid_alive) -> Entry | None:
        """The next entry to run, marked running by ``host``/``pid``; None when nothing is queued.

        Entries left running by a dead process of this host are queued again first (see the module docstring).
        """
        with self._write() as db:
            for row in db.execute("SELECT id, pid FROM entries WHERE state = ? AND host = ?", (State.RUNNING, host)):
                if row["pid"] is None or not alive(row["pid"]):
                    db.execute(
                        "UPDATE entries SET state = ?, message = ? WHERE id = ?",
                        (State.QUEUED, f"coordinator (pid {row['pid']}) stopped; queued again", row["id"]),
                    )
            row = db.execute(f"SELECT * FROM entries WHERE state = ? {_ORDER} LIMIT 1", (State.QUEUED,)).fetchone()
            if row is None:
                return None
            now = time.time()
            db.execute(
                "UPDATE entries SET state = ?, host = ?, pid = ?, started = ?, updated = ?, message = NULL "
                "WHERE id = ?",
                (State.RUNNING, host, pid, now, now, row["id"]),
            )
            claimed = db.execute("SELECT * FROM entries WHERE id = ?", (row["id"],)).fetchone()
        return _entry(claimed)

    def progress(self, entry_id: int, planned: int | None, done: int, hits: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE entries SET planned = ?, done = ?, hits = ?, updated = ? WHERE id = ?",
                (planned, done, hits, time.time(), entry_id),
            )

    def finish(self, entry_id: int, state: State, message: str, run_id: int | None = None) -> None:
        """The entry ended: done or failed, with one line for ``lab status``."""
        with self._write() as db:
            db.execute(
                "UPDATE entries SET state = ?, message = ?, run_id = COALESCE(?, run_id), finished = ?, "
                "updated = ? WHERE id = ?",
                (state, message, run_id, time.time(), time.time(), entry_id),
            )

    def requeue(self, entry_id: int, message: str) -> bool:
        """Put an entry back in the queue (its run, if begun, is resumed); whether it was there to requeue."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE entries SET state = ?, message = ?, host = NULL, pid = NULL WHERE id = ? AND state != ?",
                (State.QUEUED, message, entry_id, State.DONE),
            )
            return cursor.rowcount == 1

    def entries(self) -> list[Entry]:
        """Every entry: running ones, then queued in the order they will run, then finished ones."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM entries ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END, "
                "deadline IS NULL, deadline, priority DESC, id"
            ).fetchall()
        return [_entry(row) for row in rows]
