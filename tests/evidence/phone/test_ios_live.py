"""A live iPhone over usbmuxd, lockdown and AFC (``safenet triage ios://UDID``), against a device-side double.

Which layer is real and which is the double: pymobiledevice3 11.45.0 is real from its usbmux client down
(``PlistMuxConnection``: ReadBUID, ListDevices, ReadPairRecord, Connect), through its lockdown client
(QueryType, GetValue, StartSession and the TLS upgrade keyed by the pair record, StartService) to its AFC client
(packet framing, READ_DIR, GET_FILE_INFO, FILE_OPEN, READ, FILE_SEEK, FILE_CLOSE), and so are Python's sockets
and ssl. The double (``ios_double``) is the other end of the wire: usbmuxd on a unix socket (found through
``USBMUXD_SOCKET_ADDRESS``), and behind its Connect the device's lockdownd and AFC service serving a folder as
the phone's media domain, with a pairing whose certificates the test makes with ``cryptography``. No real
phone is used (none is available here; the README's limits say so).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import Exhibit, Finding, ItemRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, TriageOutcome, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, OpenContext, SourceLost, TimeSource
from safenet.evidence.phone import afc, afc_photos, ios_live
from safenet.evidence.phone.devices import AUTHORISED, UNAUTHORISED
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.photos_db import photos_notes
from safenet.evidence.registry import DeviceAddress, as_source, open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png
from tests.evidence.phone.ios_builder import photos_sqlite
from tests.evidence.phone.ios_double import LABEL, UDID, VALUES, DeviceState, IosDouble, Pairing, make_pairing
from tests.evidence.phone.support import one_sentence, rows_by_path, warnings_of

pytestmark = pytest.mark.timeout(120)  # a hang guard: a client waiting on a double that never answers

CORE_DATA_2024 = 735_000_000.0  # 2024-04-16 22:40:00 UTC
CREATED = "created 2024-04-16 22:40:00 UTC (ZDATECREATED)"
ALLOWED_LOCKDOWN = {"lockdown:QueryType", "lockdown:GetValue", "lockdown:StartSession", "lockdown:StartService"}
ALLOWED_AFC = {"READ_DIR", "GET_FILE_INFO", "FILE_OPEN", "READ", "FILE_SEEK", "FILE_CLOSE"}


def media_files() -> dict[str, bytes]:
    """The phone's media domain, by AFC path."""
    photos = photos_sqlite(
        [
            ("DCIM/100APPLE", "IMG_0001.JPG", 0, 0, CORE_DATA_2024),
            ("DCIM/100APPLE", "IMG_0002.JPG", 1, 0, CORE_DATA_2024),  # recently deleted
            ("DCIM/100APPLE", "IMG_0003.PNG", 0, 1, CORE_DATA_2024),  # hidden
        ]
    )
    return {
        "/DCIM/100APPLE/IMG_0001.JPG": jpeg(1),
        "/DCIM/100APPLE/IMG_0002.JPG": jpeg(2),
        "/DCIM/100APPLE/IMG_0003.PNG": png(3),
        "/DCIM/101APPLE/IMG_0100.JPG": jpeg(4, (640, 480)),
        "/PhotoData/Photos.sqlite": photos,
        "/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0002.JPG/5005.JPG": jpeg(2, (32, 24)),
        "/PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.jpg": jpeg(5),
        "/PhotoData/Mutations/DCIM/100APPLE/IMG_0003/Adjustments/FullSizeRender.jpg": jpeg(6),
    }


@dataclass
class Phone:
    double: IosDouble
    files: dict[str, bytes]
    tmp: Path

    @property
    def state(self) -> DeviceState:
        return self.double.state


@pytest.fixture(scope="module")
def pairing(tmp_path_factory: pytest.TempPathFactory) -> Pairing:
    return make_pairing(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def phone(tmp_path: Path, pairing: Pairing, monkeypatch: pytest.MonkeyPatch) -> Iterator[Phone]:
    files = media_files()
    media = tmp_path / "media"
    for path, data in files.items():
        target = media / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    monkeypatch.setattr(afc, "PAIR_RECORD_FOLDER", tmp_path / "pair-records")
    monkeypatch.setattr(afc, "PAIR_WAIT_S", 0)  # an untrusted phone fails at once unless a test waits
    # a unix socket's path is limited to ~100 bytes: a short folder of its own, not pytest's long tmp_path
    with tempfile.TemporaryDirectory(prefix="sn-mux-") as short:
        socket_path = Path(short) / "usbmuxd"
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", str(socket_path))
        with IosDouble(socket_path, pairing, DeviceState(UDID, dict(VALUES), media)) as double:
            yield Phone(double, files, tmp_path)


def read_only(requests: list[str]) -> bool:
    """Whether the device was asked nothing but identity values, a session, AFC and reads."""
    for request in requests:
        layer, _, rest = request.partition(":")
        if layer == "lockdown" and request not in ALLOWED_LOCKDOWN:
            return False
        if layer == "afc" and rest.split(" ", 1)[0] not in ALLOWED_AFC:
            return False
    return True


def run(
    phone: Phone, known: VicsSet | None = None, resume: bool = False, executor: ExecutorKind = ExecutorKind.INLINE
) -> tuple[Case, TriageOutcome]:
    """Triage the phone; inline by default, so that where a disconnect cuts is the same on every run."""
    tmp = phone.tmp
    store = HashSetStore(tmp / "hashdb")
    names: tuple[str, ...] = ()
    if known is not None:
        store.import_file(known.write(tmp / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
        names = ("caid-test",)
    case = Case.create_or_open(tmp / "case")
    options = TriageOptions(
        exhibit="EX1",
        profile=Profile.STANDARD,
        hashsets=() if resume else names,
        operator="tester",
        executor=executor,
        resume=resume,
    )
    return case, triage(as_source(f"ios://{UDID}"), case, store, options)


def test_triage_streams_the_media_domain_hashes_matches_and_records_the_phone(phone: Phone) -> None:
    known = VicsSet()
    known.add(jpeg(2), 1)  # the recently deleted picture is known
    case, outcome = run(phone, known, executor=ExecutorKind.THREADS)  # two threads reading through one session
    assert outcome.status is RunStatus.COMPLETED
    assert warnings_of(case) == []
    rows = rows_by_path(case)
    assert set(rows) == set(phone.files)  # Photos.sqlite too: it is evidence
    for path, data in phone.files.items():
        row = rows[path]
        assert row.size == len(data)
        if path.lower().endswith((".jpg", ".png")):  # pictures are hashed; the profile skips a database's digests
            assert row.md5 == hashlib.md5(data).hexdigest() and row.sha256 == hashlib.sha256(data).hexdigest()
    deleted = rows["/DCIM/100APPLE/IMG_0002.JPG"]
    assert deleted.note == f"recently deleted in Photos (ZTRASHEDSTATE); {CREATED}"
    assert rows["/DCIM/100APPLE/IMG_0003.PNG"].note == f"hidden in Photos (ZHIDDEN); {CREATED}"
    assert rows["/DCIM/100APPLE/IMG_0001.JPG"].note is None
    thumb = rows["/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0002.JPG/5005.JPG"]
    assert thumb.note == f"thumbnail of DCIM/100APPLE/IMG_0002.JPG, which is {deleted.note}"
    edited = rows["/PhotoData/Mutations/DCIM/100APPLE/IMG_0003/Adjustments/FullSizeRender.jpg"]
    assert (
        edited.note == f"edited version of DCIM/100APPLE/IMG_0003.PNG, which is hidden in Photos (ZHIDDEN); {CREATED}"
    )
    assert rows["/PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.jpg"].note is None
    with case.sessions() as s:
        findings = s.execute(select(Finding.item_id, Finding.category)).all()
        exhibit = s.execute(select(Exhibit)).scalar_one()
    assert findings == [(deleted.id, "A")]
    assert exhibit.backend == "ios-afc" and exhibit.source == f"ios://{UDID}"
    phone_facts = from_details(json.loads(exhibit.description_json)["details"])
    assert phone_facts is not None
    identity, acquisition = phone_facts
    assert (identity.platform, identity.manufacturer, identity.model) == ("ios", "Apple", "iPhone12,1")
    assert (identity.serial, identity.udid, identity.os_version) == ("F2LLIVESERIAL", UDID, "17.5.1")
    assert (identity.name, identity.imei) == ("Test iPhone", "356789012345670")
    assert acquisition.method is Acquisition.AFC and acquisition.tool == "pymobiledevice3 11.45.0"
    assert read_only(phone.double.requests)


def test_locators_name_the_device_and_the_afc_path_and_reopen_byte_identical(phone: Phone) -> None:
    evidence = ios_live.open_device(UDID, OpenContext())
    warnings: list[EvidenceWarning] = []
    items = list(evidence.items(warnings.append))
    assert warnings == []
    fresh = open_source(DeviceAddress("ios", UDID))  # another session, as a worker process opens its own
    for item in items:
        source, device, path = item.locator.layers
        assert (source.kind, source.value) == (LayerKind.SOURCE, f"ios://{UDID}")
        assert (device.kind, device.value, device.detail) == (LayerKind.DEVICE, LABEL, "afc")
        assert path.kind is LayerKind.PATH and item.name == path.value.rsplit("/", 1)[1]
        assert item.modified is not None and item.modified.source is TimeSource.FS_STAT
        assert item.created is not None and item.created.value < item.modified.value  # birth time, from AFC
        with open_locator(fresh, Locator.from_json(item.locator.to_json())) as stream:
            assert stream.read() == phone.files[path.value]
    shown = str(next(i.locator for i in items if i.name == "IMG_0001.JPG"))
    assert shown == f"ios://{UDID} › {LABEL} [afc] › /DCIM/100APPLE/IMG_0001.JPG"
    big = phone.files["/DCIM/101APPLE/IMG_0100.JPG"]
    with fresh.open(next(i.locator for i in items if i.name == "IMG_0100.JPG")) as stream:
        assert stream.seekable()
        stream.seek(1001)
        assert stream.read(500) == big[1001:1501]
        stream.seek(-7, os.SEEK_END)
        assert stream.read() == big[-7:]
        stream.seek(0)
        assert stream.read() == big
    assert read_only(phone.double.requests)


def test_a_large_photos_database_goes_through_a_scratch_file_that_is_removed(
    phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = phone.tmp / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(afc_photos, "IN_MEMORY", 0)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    evidence = ios_live.open_device(UDID, OpenContext())
    notes = {i.name: i.note for i in evidence.items(lambda w: None) if i.note}
    assert sorted(notes) == ["5005.JPG", "FullSizeRender.jpg", "IMG_0002.JPG", "IMG_0003.PNG"]
    assert list(scratch.iterdir()) == []


def wal_mode_library(folder: Path) -> tuple[bytes, bytes]:
    """A Photos.sqlite in write-ahead-log mode whose latest change (IMG_0001 deleted) is in the log only."""
    folder.mkdir()
    db = folder / "Photos.sqlite"
    db.write_bytes(photos_sqlite([("DCIM/100APPLE", "IMG_0001.JPG", 0, 0, CORE_DATA_2024)]))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE ZASSET SET ZTRASHEDSTATE = 1 WHERE ZFILENAME = 'IMG_0001.JPG'")
    conn.commit()
    main_file, log = db.read_bytes(), (folder / "Photos.sqlite-wal").read_bytes()  # as the phone holds them
    conn.close()
    return main_file, log


def test_a_write_ahead_log_mode_library_without_a_log_is_read_from_memory(phone: Phone) -> None:
    main_file, _ = wal_mode_library(phone.tmp / "library")
    (phone.state.media / "PhotoData/Photos.sqlite").write_bytes(main_file)  # as a phone leaves it: no log
    evidence = ios_live.open_device(UDID, OpenContext())
    warnings: list[EvidenceWarning] = []
    items = list(evidence.items(warnings.append))
    assert warnings == []
    assert all(i.note is None for i in items)  # read (no warning); the deletion was only in the log


def test_the_photos_write_ahead_log_is_applied_to_a_scratch_copy(phone: Phone) -> None:
    main_file, log = wal_mode_library(phone.tmp / "library")
    assert log  # the deletion is in the log: the main file alone says nothing
    assert photos_notes(afc_photos.rollback_header(main_file)) == {}
    media = phone.state.media / "PhotoData"
    (media / "Photos.sqlite").write_bytes(main_file)
    (media / "Photos.sqlite-wal").write_bytes(log)
    before = {p: p.read_bytes() for p in media.iterdir() if p.is_file()}
    evidence = ios_live.open_device(UDID, OpenContext())
    warnings: list[EvidenceWarning] = []
    notes = {i.name: i.note for i in evidence.items(warnings.append) if i.note}
    assert warnings == []
    flag = f"recently deleted in Photos (ZTRASHEDSTATE); {CREATED}"
    assert notes == {
        "IMG_0001.JPG": flag,
        "FullSizeRender.jpg": f"edited version of DCIM/100APPLE/IMG_0001.JPG, which is {flag}",
    }
    assert {p: p.read_bytes() for p in media.iterdir() if p.is_file()} == before  # the phone's: untouched


def test_a_damaged_photos_database_and_odd_entries_are_warnings_and_the_rest_is_read(phone: Phone) -> None:
    media = phone.state.media
    (media / "PhotoData/Photos.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    (media / "DCIM/100APPLE/link.JPG").symlink_to("IMG_0001.JPG")
    (media / "DCIM/100APPLE/bad-info.JPG").write_bytes(jpeg(8))  # the device describes it malformed
    evidence = ios_live.open_device(UDID, OpenContext())
    warnings: list[EvidenceWarning] = []
    items = list(evidence.items(warnings.append))
    codes = sorted((w.code, w.locator.leaf.value if w.locator else "") for w in warnings)
    assert codes == [
        ("ios-photos-db-unreadable", "/PhotoData/Photos.sqlite"),
        ("special-file", "/DCIM/100APPLE/link.JPG"),
        ("unreadable", "/DCIM/100APPLE/bad-info.JPG"),
    ]
    assert any(w.message == "cannot describe: the device's information about it is malformed" for w in warnings)
    assert {i.name for i in items} >= {"IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.PNG"}
    assert all(i.note is None for i in items)


def test_devices_lists_a_trusted_phone_with_its_identity_and_an_untrusted_one_without(phone: Phone) -> None:
    (row,) = ios_live.list_ios_devices()
    assert (row.platform, row.ident, row.state) == ("ios", UDID, AUTHORISED)
    assert row.identity is not None and row.identity.label() == LABEL and row.identity.os_version == "17.5.1"
    phone.state.trusted = False
    (row,) = ios_live.list_ios_devices()
    assert (row.ident, row.state, row.identity) == (UDID, UNAUTHORISED, None)
    assert "lockdown:Pair" not in phone.double.requests  # listing never raises the Trust prompt


def test_devices_without_usbmuxd_is_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", str(tmp_path / "no-such-socket"))
    with pytest.raises(EvidenceError, match=r"^cannot reach usbmuxd .*: install and start usbmuxd, then run again$"):
        ios_live.list_ios_devices()


def test_safenet_devices_lists_the_phone(
    phone: Phone, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.evidence.phone import android_live

    monkeypatch.setattr(android_live, "list_android_devices", list)  # no adb server in this test
    assert main(["devices", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["platform"], row["ident"], row["state"]) == ("ios", UDID, "authorised")
    assert row["identity"]["serial"] == "F2LLIVESERIAL" and row["identity"]["udid"] == UDID


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("untrusted", "has not trusted this computer: unlock the phone and tap Trust, then run again"),
        ("locked", "is locked: unlock it and keep it unlocked while it is read, then run again"),
        ("unplugged", "is not connected; check the cable and `safenet devices`, then run again"),
    ],
)
def test_a_phone_that_cannot_be_read_is_one_sentence_and_exit_3(
    phone: Phone, condition: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if condition == "untrusted":
        phone.state.trusted = False
    elif condition == "locked":
        phone.state.locked = True
    else:
        phone.double.detach()
    code = main(["triage", f"ios://{UDID}", "--case", str(phone.tmp / "case"), "--exhibit", "EX1"])
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE == 3
    assert line.endswith(f"the iOS device {UDID} {expected}")
    if condition == "untrusted":  # the Trust prompt was raised, and no pair record was kept without it
        assert "lockdown:Pair" in phone.double.requests
        assert not (phone.tmp / "pair-records").exists() or not any((phone.tmp / "pair-records").iterdir())


def test_the_owner_tapping_trust_while_the_pairing_waits_lets_the_run_go_on(
    phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone.state.trusted, phone.state.accept_pair_after = False, 1
    monkeypatch.setattr(afc, "PAIR_WAIT_S", 10)
    evidence = ios_live.open_device(UDID, OpenContext())
    assert {i.name for i in evidence.items(lambda w: None)} >= {"IMG_0001.JPG", "IMG_0002.JPG"}
    assert phone.double.requests.count("lockdown:Pair") == 2  # pending, then accepted on the next ask
    saved = phone.tmp / "pair-records" / f"{UDID}.plist"
    assert saved.is_file()  # pymobiledevice3 keeps the new pair record: the next run needs no Trust
    evidence.session.close()
    ios_live.open_device(UDID, OpenContext()).session.close()
    assert phone.double.requests.count("lockdown:Pair") == 2


@pytest.mark.slow
def test_a_phone_unplugged_mid_run_leaves_an_interrupted_run_that_resume_finishes(phone: Phone) -> None:
    known = VicsSet()
    known.add(jpeg(2), 1)
    photos_db = len(phone.files["/PhotoData/Photos.sqlite"])
    total = sum(len(d) for d in phone.files.values())
    phone.state.drop_after = photos_db + total // 2  # the listing reads Photos.sqlite once; then half the bytes
    case, outcome = run(phone, known)
    assert outcome.status is RunStatus.INTERRUPTED
    (warning,) = warnings_of(case)
    assert warning.code == "device-disconnected" and UDID in warning.message and "--resume" in warning.message
    first = rows_by_path(case)
    assert 0 < len(first) < len(phone.files)
    for path, row in first.items():  # what was recorded is whole: the item cut off mid-read is not there
        assert row.sha256 in (None, hashlib.sha256(phone.files[path]).hexdigest()) and row.status != "partial"

    phone.double.attach()
    case, outcome = run(phone, resume=True)
    assert outcome.status is RunStatus.COMPLETED
    rows = rows_by_path(case)
    assert set(rows) == set(phone.files)
    with case.sessions() as s:
        count = len(s.execute(select(ItemRow.id).where(ItemRow.parent_id.is_(None))).all())
    assert count == len(phone.files)  # none recorded twice
    for path, row in rows.items():
        assert row.sha256 in (None, hashlib.sha256(phone.files[path]).hexdigest()) and row.status != "partial"
    assert sum(row.sha256 is not None for row in rows.values()) == len(phone.files) - 1  # all but Photos.sqlite
    assert [w.code for w in warnings_of(case)] == ["device-disconnected"]
    assert read_only(phone.double.requests)


def test_a_lost_session_raises_source_lost_at_once_for_every_later_call(phone: Phone) -> None:
    evidence = ios_live.open_device(UDID, OpenContext())
    items = list(evidence.items(lambda w: None))
    phone.double.detach()
    with pytest.raises(SourceLost) as lost, evidence.open(items[0].locator) as stream:
        stream.read()
    assert lost.value.code == "device-disconnected"
    with pytest.raises(SourceLost):  # no second wait on a device that is gone
        evidence.open(items[1].locator)


def test_device_lost_crosses_process_boundaries_with_its_code() -> None:
    lost = pickle.loads(pickle.dumps(afc.DeviceLost("the iOS device X stopped answering")))  # a worker's error
    assert isinstance(lost, SourceLost) and lost.code == "device-disconnected"
    assert str(lost) == "the iOS device X stopped answering"


def test_names_with_control_and_bidi_characters_are_kept_as_the_phone_gives_them(phone: Phone) -> None:
    odd = "IMG_\n\u202egpj.exe"  # a newline, and a right-to-left override that disguises an extension
    (phone.state.media / "DCIM/100APPLE" / odd).write_bytes(jpeg(9))
    evidence = ios_live.open_device(UDID, OpenContext())
    (item,) = [i for i in evidence.items(lambda w: None) if i.name == odd]
    assert item.locator.leaf.value == f"/DCIM/100APPLE/{odd}"
    assert str(item.locator).endswith("/DCIM/100APPLE/IMG_\\n\\u202egpj.exe")  # shown escaped, on one line
    with evidence.open(Locator.from_json(item.locator.to_json())) as stream:
        assert stream.read() == jpeg(9)
