"""The side panel's detail: the EXIF camera read on demand from the evidence, times with their zone, and
each match saying that the set holds no reference picture (hash sets keep digests and PDQ hashes only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safenet.case.itemdetail import NO_REFERENCE
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.demo import picture
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import UserStore
from safenet.web import WebSettings, create_app
from tests.analysis.test_camera import camera_jpeg
from tests.builders import write
from tests.web.conftest import PASSWORD, Browser, Built, Clock, encode

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def test_detail_reads_the_camera_from_the_evidence_and_says_no_reference_picture_is_held(
    template_case: Built, tmp_path: Path, users: UserStore, clock: Clock
) -> None:
    ev = tmp_path / "ev"
    write(ev, "camera.jpg", camera_jpeg("Canon", "Canon EOS 80D", "4412345"))
    write(ev, "copy.jpg", encode(picture(1, (320, 240))))  # matches the fixture's reference set exactly
    case = Case.create_or_open(tmp_path / "case")
    store = HashSetStore(template_case.case.parent / "db")
    options = TriageOptions(exhibit="EX9", hashsets=("ref-a",), operator="t", executor=ExecutorKind.INLINE)
    try:
        triage(ev, case, store, options)
        with case.sessions() as s:
            ids = {row.name: row.id for row in s.query(ItemRow)}
    finally:
        case.close()
    app = create_app(tmp_path / "case", users, WebSettings(clock=clock))
    try:
        client = Browser(app, follow_redirects=False)
        client.page("/login")
        client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
        detail = client.get(f"/api/items/{ids['camera.jpg']}/detail").json()
        assert detail["camera"] == "make Canon, model Canon EOS 80D, serial 4412345"
        assert detail["time_zone"] == "known (times in UTC)" and detail["modified"].endswith(" UTC")
        matched = client.get(f"/api/items/{ids['copy.jpg']}/detail").json()
        assert matched["camera"] == "no camera make, model or serial in the picture's EXIF"
        [match] = matched["matches"]
        assert match["set"] == "ref-a" and match["reference_picture"] == NO_REFERENCE
        shutil.rmtree(ev)  # the evidence is gone: the panel says the camera was not read, and still answers
        gone = client.get(f"/api/items/{ids['camera.jpg']}/detail").json()
        assert gone["camera"].startswith("not read: item") and "evidence not available" in gone["camera"]
    finally:
        app.state.web.case.close()
