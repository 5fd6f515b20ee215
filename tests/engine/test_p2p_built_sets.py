"""A set built from reference files (``hashset build``) carries each file's ED2K, so an eMule record of a
reference file (eMule names files by ED2K alone) matches it; items are still matched by MD5, so a quick triage
with a built set does not spend time hashing items with ED2K."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from safenet.analysis.ed2k import ed2k
from safenet.case.activity import p2p_records
from safenet.case.store import Case
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import HashKind, SetKind
from safenet.hashsets.store import HashSetStore
from tests.analysis.p2p.builders_binary import known_met
from tests.builders import jpeg, write
from tests.engine.test_p2p_triage import KNOWN_MET, Collect, _Named


def test_a_built_set_matches_an_emule_record_by_ed2k_and_items_by_md5(tmp_path: Path) -> None:
    shared, present = jpeg(21), jpeg(22)
    reference = tmp_path / "reference"
    write(reference, "shared.jpg", shared)
    write(reference, "present.jpg", present)
    store = HashSetStore(tmp_path / "hashdb")
    info = store.build_folder(reference, "ref", kind=SetKind.ILLICIT, warn=lambda ref, message: None)
    assert HashKind.ED2K in info.digests

    root = tmp_path / "exhibit"
    write(root, "Users/bob/Pictures/present.jpg", present)
    write(root, KNOWN_MET, known_met([_Named("shared.jpg", len(shared), uploaded=1, content=shared)]))
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    outcome = triage(root, case, store, TriageOptions(exhibit="EX1", hashsets=("ref",), operator="t"), events)
    assert outcome.hits == 1  # present.jpg, by its MD5
    [record] = p2p_records(case)
    assert record.hashes["ed2k"] == ed2k(shared).hex() and [k.hashset for k in record.known] == ["ref"]
    with sqlite3.connect(case.path / "case.db") as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE ed2k IS NOT NULL").fetchone()[0] == 0
