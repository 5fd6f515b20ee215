"""Cellebrite UFDR packages (shape: see ufdr_builder): the device, the listed files by device path, the listed
digests cross-checked after hashing, and hostile reports."""

from __future__ import annotations

import hashlib
import random
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.ufdr import UfdrEvidence
from safenet.evidence.registry import open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png
from tests.evidence.phone.support import listing
from tests.evidence.phone.ufdr_builder import NS, Ufdr

CAMERA = "/data/media/0/DCIM/Camera/IMG_0001.jpg"
WHATSAPP = "/data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-1.jpg"
DELETED = "/data/media/0/Pictures/gone.png"


def sample() -> Ufdr:
    ufdr = Ufdr()
    ufdr.add(CAMERA, jpeg(1))
    ufdr.add(WHATSAPP, jpeg(2))
    ufdr.add(DELETED, png(3), deleted=True)
    return ufdr


def write(tmp_path: Path, ufdr: Ufdr, report: str | None = None, name: str = "phone.ufdr") -> Path:
    path = tmp_path / name
    path.write_bytes(ufdr.build(report))
    return path


def test_builder_writes_the_documented_shape(tmp_path: Path) -> None:
    ufdr = sample()
    with zipfile.ZipFile(write(tmp_path, ufdr)) as zf:
        root = ET.fromstring(zf.read("report.xml"))
        assert root.tag == f"{{{NS}}}project"
        files = root.findall(f"{{{NS}}}taggedFiles/{{{NS}}}file")
        assert [f.get("path") for f in files] == [CAMERA, WHATSAPP, DELETED]
        for f, built in zip(files, ufdr.files, strict=True):
            local = f.find(f"{{{NS}}}metadata/{{{NS}}}item[@name='Local Path']")
            assert local is not None and local.text is not None and "\\" in local.text
            assert zf.read(local.text.replace("\\", "/")) == built.data
            md5 = f.find(f"{{{NS}}}metadata/{{{NS}}}item[@name='MD5']")
            assert md5 is not None and md5.text == hashlib.md5(built.data).hexdigest()


@pytest.mark.parametrize("hash_elements", [False, True])
def test_listed_files_by_device_path_with_device_identity(tmp_path: Path, hash_elements: bool) -> None:
    ufdr = sample()
    ufdr.hash_elements = hash_elements
    ufdr.extra_members = {"files/Other/unlisted.jpg": jpeg(7)}
    path = write(tmp_path, ufdr)
    evidence = open_source(path)
    assert isinstance(evidence, UfdrEvidence)
    phone = from_details(evidence.describe().details)
    assert phone is not None
    identity, record = phone
    assert (identity.platform, identity.manufacturer, identity.model) == ("android", "Samsung", "SM-G991B")
    assert (identity.imei, identity.serial, identity.os_version) == ("356789012345678", "R58N12345AB", "13")
    assert record.method is Acquisition.UFDR and "7.60.0.0" in record.tool and "Full file system" in record.note
    items, warnings = listing(evidence)
    assert warnings == []
    assert [i.locator.leaf.value for i in items] == [CAMERA, WHATSAPP, DELETED, "files/Other/unlisted.jpg"]
    for item, data in zip(items, [*(f.data for f in ufdr.files), jpeg(7)], strict=True):
        layers = item.locator.layers
        assert [la.kind for la in layers] == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH]
        assert layers[1].value == "Samsung SM-G991B R58N12345AB" and layers[1].detail == "ufdr"
        with evidence.open(Locator.from_json(item.locator.to_json())) as stream:
            assert stream.read() == data
        assert item.size == len(data)
    assert items[2].deleted and items[2].note == "deleted on the device (as the UFDR lists it)"
    assert items[0].modified is not None and items[0].modified.value.isoformat() == "2023-05-01T10:00:00+00:00"
    assert items[3].locator.leaf.detail == "member" and evidence.expected_digests(items[3].locator) == {}
    assert evidence.expected_digests(items[0].locator) == {
        "md5": hashlib.md5(jpeg(1)).digest(),
        "sha256": hashlib.sha256(jpeg(1)).digest(),
    }


def test_triage_cross_checks_listed_digests_and_reports_missing_files(tmp_path: Path) -> None:
    ufdr = sample()
    ufdr.files[1].md5 = "00" * 16  # the report says another file was there
    ufdr.add("/data/media/0/DCIM/Camera/IMG_0002.jpg", jpeg(9), in_zip=False)
    path = write(tmp_path, ufdr)
    known = VicsSet()
    known.add(jpeg(1), 1)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    outcome = triage(path, case, store, TriageOptions(exhibit="PH1", hashsets=("caid-test",), operator="t"))
    assert outcome.hits == 1
    with case.sessions() as s:
        rows = {Locator.from_json(r.locator).leaf.value: r for r in s.scalars(select(ItemRow))}
        warnings = [
            (w.code, w.message, Locator.from_json(w.locator or "").leaf.value) for w in s.scalars(select(WarningRow))
        ]
    assert rows[CAMERA].md5 == hashlib.md5(jpeg(1)).hexdigest()
    assert rows[DELETED].deleted
    assert sorted((code, leaf) for code, _, leaf in warnings) == [
        ("ufdr-hash-mismatch", WHATSAPP),
        ("ufdr-missing-file", "/data/media/0/DCIM/Camera/IMG_0002.jpg"),
    ]
    mismatch = next(message for code, message, _ in warnings if code == "ufdr-hash-mismatch")
    assert "00" * 16 in mismatch and hashlib.md5(jpeg(2)).hexdigest() in mismatch


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
)


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (
            BILLION_LAUGHS + f'<project xmlns="{NS}"><metadata section="Device Info">&lol2;</metadata></project>',
            "refuses",
        ),
        ('<?xml version="1.0"?><!DOCTYPE p SYSTEM "http://example.invalid/x.dtd"><project/>', "refuses"),
        ("<project><taggedFiles><file path='/x'>", "cannot be read"),  # cut off
    ],
)
def test_a_hostile_or_broken_report_is_refused_and_every_member_examined(tmp_path: Path, report: str, why: str) -> None:
    path = write(tmp_path, sample(), report)
    evidence = open_source(path)
    assert isinstance(evidence, UfdrEvidence)
    items, warnings = listing(evidence)
    assert [w.code for w in warnings] == ["ufdr-report-unusable"]
    assert why in warnings[0].message
    assert sorted(i.locator.leaf.value for i in items) == sorted(
        f.local_path.replace("\\", "/") for f in sample().files
    )
    assert all(i.locator.leaf.detail == "member" for i in items)


def test_hostile_paths_are_warned_and_never_leave_the_package(tmp_path: Path) -> None:
    ufdr = Ufdr()
    evil = ufdr.add("/data/../../etc/passwd.jpg", jpeg(4))
    evil.local_path = "..\\..\\outside.jpg"
    ufdr.extra_members = {"../../climb.jpg": jpeg(5)}
    path = write(tmp_path, ufdr)
    evidence = open_source(path)
    assert isinstance(evidence, UfdrEvidence)
    items, warnings = listing(evidence)
    codes = sorted((w.code, w.locator.leaf.value if w.locator else "") for w in warnings)
    assert codes == [
        ("suspicious-member-name", "../../climb.jpg"),
        ("suspicious-member-name", "/data/../../etc/passwd.jpg"),
    ]
    for item in items:
        with evidence.open(item.locator) as stream:
            assert stream.read() in (jpeg(4), jpeg(5))
    assert not (tmp_path.parent / "outside.jpg").exists() and not (tmp_path.parent / "climb.jpg").exists()


def test_an_unlisted_member_with_an_absolute_name_is_warned(tmp_path: Path) -> None:
    """A listed file's device path is absolute by nature; a zip member's name is not: "/x" there is suspicious."""
    ufdr = Ufdr()
    ufdr.add(CAMERA, jpeg(1))
    ufdr.extra_members = {"/rooted.jpg": jpeg(6)}
    items, warnings = listing(UfdrEvidence(write(tmp_path, ufdr)))
    assert len(items) == 2
    assert [(w.code, w.message) for w in warnings] == [
        ("suspicious-member-name", "name has an absolute path: /rooted.jpg")
    ]


def test_a_zip_without_report_is_not_a_ufdr_nor_a_damaged_one(tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("photos/a.jpg", jpeg(1))
    assert open_source(path).NAME == "file"
    cut = tmp_path / "cut.ufdr"  # no directory to read: left to the archive producer, which recovers members
    cut.write_bytes(sample().build()[:-200])
    assert open_source(cut).NAME == "file"


def test_only_tagged_files_are_listed_and_huge_elements_are_refused(tmp_path: Path) -> None:
    ufdr = sample()
    decoded = '<decodedData><model type="Attachment"><file path="/not/listed.jpg" size="1" /></model></decodedData>'
    path = write(tmp_path, ufdr, ufdr.report_xml().replace("</project>", decoded + "</project>"))
    evidence = open_source(path)
    assert isinstance(evidence, UfdrEvidence) and [f.path for f in evidence.report.files] == [CAMERA, WHATSAPP, DELETED]
    huge = ufdr.report_xml().replace("<![CDATA[Samsung]]>", "x" * (17 << 20))
    evidence = open_source(write(tmp_path, ufdr, huge, "huge.ufdr"))
    assert isinstance(evidence, UfdrEvidence) and evidence.refused is not None and "16 MiB" in evidence.refused


def test_seeded_random_damage_to_the_report_never_raises(tmp_path: Path) -> None:
    rng = random.Random(14)
    report = sample().report_xml().encode()
    for n in range(40):
        damaged = bytearray(report)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if n % 4 == 0:
            damaged = damaged[: rng.randrange(len(damaged))]
        path = write(tmp_path, sample(), damaged.decode("latin-1"), f"d{n}.ufdr")
        evidence = open_source(path)
        assert isinstance(evidence, UfdrEvidence)
        items, _ = listing(evidence)
        for item in items:
            with evidence.open(item.locator) as stream:
                stream.read()
