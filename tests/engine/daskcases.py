"""What the Dask tests share: evidence with an answer key, and the case as rows to compare with a local run's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from safenet.case.store import Case
from safenet.engine.cluster import ClusterTarget
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, TriageOutcome, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, write, zip_bytes
from tests.engine.test_triage import Collect

FILES = 240
HITS = 24 + 1  # every tenth picture and the one inside the zip


def build_tree(base: Path) -> tuple[Path, Path]:
    """A folder of pictures (every tenth known, illicit), a zip with a known picture, and the hash set."""
    known = VicsSet()
    ev = base / "ev"
    for i in range(FILES):
        data = jpeg(i, (16, 12))
        write(ev, f"d{i % 7}/{i:04d}.jpg", data)
        if i % 10 == 3:
            known.add(data, 1)
    write(ev, "zips/pics.zip", zip_bytes({"in/a.jpg": jpeg(9000), "readme.txt": b"hi"}))
    known.add(jpeg(9000), 2)
    store = HashSetStore(base / "db")
    store.import_file(known.write(base / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return ev, base / "db"


def run(
    source: Path,
    case_dir: Path,
    db: Path | None = None,
    cluster: ClusterTarget | None = None,
    profile: Profile = Profile.STANDARD,
    **kw: Any,
) -> tuple[Case, TriageOutcome]:
    """A triage of ``source`` into a new case: on ``cluster`` when given, else inline (the reference)."""
    case = Case.create_or_open(case_dir)
    options = TriageOptions(
        exhibit="EX1",
        profile=profile,
        hashsets=("s",) if db else (),
        operator="t",
        executor=ExecutorKind.DASK if cluster else ExecutorKind.INLINE,
        cluster=cluster,
        **kw,
    )
    return case, triage(source, case, HashSetStore(db) if db else None, options, Collect())


def rows(case: Case) -> dict[str, list[tuple[object, ...]]]:
    """The case's items (with digests and parents), findings and warnings, in recorded order."""
    queries = {
        "items": "SELECT id, parent_id, locator, status, carved, filetype, md5, sha1, sha256, pdq FROM items "
        "ORDER BY id",
        "findings": "SELECT i.locator, f.category FROM findings f JOIN items i ON i.id = f.item_id ORDER BY f.id",
        "warnings": "SELECT code, display, message FROM warnings ORDER BY id",
    }
    with sqlite3.connect(case.path / "case.db") as db:
        return {name: list(db.execute(query)) for name, query in queries.items()}
