"""End to end: a standard-profile triage finds pictures known only by their embedded copies (an EXIF
thumbnail, a picture in a PDF, in a .doc, in a .docx, an EXIF thumbnail of a JPEG inside a zip);
the quick profile does not look inside; every finding reopens from its locator (``safenet verify``)."""

from __future__ import annotations

import io
import json
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence.locator import LayerKind
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from tests.builders import VicsSet, jpeg, png, write, zip_bytes
from tests.engine.test_triage import Collect
from tests.evidence.test_embedded import cfb, exif_app1, pdf_bytes, with_app1

SCHEMA = json.loads(resources.files("safenet.report").joinpath("report.schema.json").read_text())
A, B, C = 1, 2, 3


@pytest.fixture
def exhibit(tmp_path: Path) -> tuple[Path, VicsSet, dict[str, bytes]]:
    root = tmp_path / "exhibit"
    known = VicsSet()
    keys = {
        "thumbnail": jpeg(1, (40, 30)),
        "pdf": jpeg(2),
        "doc": jpeg(3),
        "docx": png(4),
        "zipped": jpeg(5, (40, 30)),
    }
    write(root, "Users/bob/Pictures/edited.jpg", with_app1(jpeg(10), exif_app1(keys["thumbnail"])))
    write(root, "Users/bob/Documents/report.pdf", pdf_bytes([(keys["pdf"], False)]))
    write(root, "Users/bob/Documents/letter.doc", cfb({"Data": b"\0" * 100 + keys["doc"] + b"\0" * 50}))
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/media/image1.png", keys["docx"])
    write(root, "Users/bob/Documents/notes.docx", docx.getvalue())
    inner = with_app1(jpeg(11), exif_app1(keys["zipped"]))
    write(root, "Users/bob/Downloads/holiday.zip", zip_bytes({"DCIM/IMG_0001.jpg": inner}))
    for code, key in zip([A, B, C, A, B], keys, strict=True):
        known.add(keys[key], code)
    return root, known, keys


def _run(tmp_path: Path, root: Path, known: VicsSet, profile: Profile) -> tuple[Case, Collect]:
    store = HashSetStore(tmp_path / "hashdb")
    if not store.list():
        store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / f"case-{profile.value}")
    events = Collect()
    options = TriageOptions(exhibit="EX1", profile=profile, hashsets=("caid-test",), operator="tester")
    outcome = triage(root, case, store, options, events)  # type: ignore[arg-type]
    assert outcome.status is RunStatus.COMPLETED
    return case, events


def test_standard_profile_finds_embedded_pictures(
    tmp_path: Path, exhibit: tuple[Path, VicsSet, dict[str, bytes]]
) -> None:
    root, known, _ = exhibit
    case, events = _run(tmp_path, root, known, Profile.STANDARD)
    assert len(events.hits) == 5, sorted(str(hit.locator) for hit in events.hits)
    assert len({hit.locator.layers[-2].value for hit in events.hits}) == 5  # one from each parent
    leaves = sorted((hit.locator.leaf.kind.value, hit.locator.leaf.detail or "") for hit in events.hits)
    assert leaves == [
        ("archive-member", "zip"),
        ("embedded", "exif"),
        ("embedded", "exif"),
        ("embedded", "ole"),
        ("embedded", "pdf"),
    ]
    zipped = next(h for h in events.hits if h.locator.archive_depth == 1 and h.locator.leaf.kind is LayerKind.EMBEDDED)
    assert [layer.kind for layer in zipped.locator.layers][-2:] == [LayerKind.ARCHIVE_MEMBER, LayerKind.EMBEDDED]
    assert sorted(h.category for h in events.hits) == ["A", "A", "B", "B", "C"]
    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    kinds = sorted(item["locator"][-1]["kind"] for item in data["items"])
    assert kinds == ["archive-member", "embedded", "embedded", "embedded", "embedded"]  # reports tell them apart
    with case.sessions() as s:
        assert s.scalars(select(WarningRow.code)).all() == []
        notes = dict(s.execute(select(ItemRow.name, ItemRow.note).where(ItemRow.note.is_not(None))).tuples().all())
    assert notes["exif-thumbnail.jpg"].startswith("EXIF thumbnail (IFD1) of the parent JPEG, bytes ")
    assert notes["image1.png"] == "part word/media/image1.png of the parent Office Open XML document"
    assert "PDF object 5" in notes["pdf-obj-5.jpg"] and "stream Data" in notes["Data-100.jpg"]
    with case.sessions() as s:
        by_path = dict(s.execute(select(ItemRow.display, ItemRow.note)).tuples().all())
    assert all(item["note"] and item["note"] == by_path[item["path"]] for item in data["items"])  # says where from
    assert verify_case(case).ok  # every finding reopens from its locator and hashes the same


def test_quick_profile_does_not_look_inside(tmp_path: Path, exhibit: tuple[Path, VicsSet, dict[str, bytes]]) -> None:
    root, known, _ = exhibit
    _, events = _run(tmp_path, root, known, Profile.QUICK)
    assert events.hits == []
