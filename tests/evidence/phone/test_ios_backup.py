"""iTunes/Finder backups (plain and encrypted) read by Safenet's ios-backup back-end, then triaged end to end.

The backups are built by ``ios_builder`` (proven against an independent reader in test_ios_builder.py)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import Exhibit, ItemRow, WarningRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence.directory import DirectoryEvidence
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import (
    Credential,
    CredentialKind,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
    TimeSource,
)
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.ios_backup import IosBackupEvidence
from safenet.evidence.registry import open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, zip_bytes
from tests.evidence.phone.ios_builder import WHEN, BackupFile, Built, build_backup, photos_sqlite
from tests.evidence.phone.support import listing_threads, one_sentence

PASSWORD = "correct horse"
CORE_DATA_2024 = 735_000_000.0  # 2024-04-16 22:40:00 UTC in Core Data seconds (since 2001)
CREATED = "created 2024-04-16 22:40:00 UTC (ZDATECREATED)"
DCIM = "CameraRollDomain/Media/DCIM/100APPLE"


def with_password(password: str) -> OpenContext:
    return OpenContext((Credential(CredentialKind.PASSWORD, password),))


def phone_files() -> list[BackupFile]:
    photos = photos_sqlite(
        [
            ("DCIM/100APPLE", "IMG_0001.JPG", 0, 0, CORE_DATA_2024),
            ("DCIM/100APPLE", "IMG_0002.JPG", 1, 0, CORE_DATA_2024),  # recently deleted
            ("DCIM/100APPLE", "IMG_0003.PNG", 0, 1, CORE_DATA_2024),  # hidden
        ]
    )
    return [
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", jpeg(1)),
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG", jpeg(2)),
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0003.PNG", png(3)),
        BackupFile("CameraRollDomain", "Media/PhotoData/Photos.sqlite", photos),
        BackupFile("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "Message/Media/a/b/x.jpg", jpeg(4)),
        BackupFile("HomeDomain", "Library/Preferences/com.apple.x.plist", b"<plist/>"),
        BackupFile("HomeDomain", "Library/empty.txt", b""),
    ]


def listing(
    root: Path, context: OpenContext | None = None
) -> tuple[IosBackupEvidence, list[Item], list[EvidenceWarning]]:
    evidence = IosBackupEvidence(root, context)
    warnings: list[EvidenceWarning] = []
    return evidence, list(evidence.items(warnings.append)), warnings


@pytest.fixture(params=["plain", "encrypted"])
def built(request: pytest.FixtureRequest, tmp_path: Path) -> Built:
    return build_backup(tmp_path / "backup", phone_files(), PASSWORD if request.param == "encrypted" else None)


def context_for(built: Built) -> OpenContext | None:
    return with_password(built.password) if built.password else None


def test_every_file_record_is_an_item_addressed_by_device_and_domain_path(built: Built) -> None:
    _, items, warnings = listing(built.root, context_for(built))
    assert warnings == []
    by_path = {i.locator.layers[2].value: i for i in items}
    assert set(by_path) == {f.path for f in built.files}  # folders (flags 2) are not items
    for f in built.files:
        item = by_path[f.path]
        source, device, path = item.locator.layers
        assert source.kind is LayerKind.SOURCE and source.value == str(built.root.resolve())
        assert device.kind is LayerKind.DEVICE and device.value == "Apple iPhone12,1 F2LTESTSERIAL"
        assert device.detail == Acquisition.ITUNES_BACKUP.value
        assert path.kind is LayerKind.PATH and path.detail == f.id
        assert item.size == len(f.data) and item.name == f.relative.rsplit("/", 1)[1]
        assert item.modified is not None and item.modified.source is TimeSource.FS_METADATA
        assert item.modified.value == datetime.fromtimestamp(WHEN, UTC)
        assert item.created is not None and item.created.value == datetime.fromtimestamp(WHEN - 60, UTC)
        assert item.changed is not None and item.changed.value == datetime.fromtimestamp(WHEN + 1, UTC)
    shown = str(by_path[f"{DCIM}/IMG_0001.JPG"].locator)
    assert shown.endswith(" › Apple iPhone12,1 F2LTESTSERIAL [itunes-backup] › " + f"{DCIM}/IMG_0001.JPG (inode 1001)")


def test_every_item_reopens_byte_identical_from_its_locator_alone(built: Built) -> None:
    _, items, _ = listing(built.root, context_for(built))
    fresh = open_source(built.root, context_for(built) or OpenContext())  # another instance, as a worker has
    data = {f.path: f.data for f in built.files}
    for item in items:
        with open_locator(fresh, Locator.from_json(item.locator.to_json())) as stream:
            assert stream.read() == data[item.locator.layers[2].value]


def test_encrypted_files_are_streamed_and_seekable(tmp_path: Path) -> None:
    big = os.urandom(3 * (1 << 20) + 5)  # several reads, a partial last block
    built = build_backup(tmp_path / "backup", [BackupFile("HomeDomain", "Library/big.bin", big)], PASSWORD)
    evidence, items, _ = listing(built.root, with_password(PASSWORD))
    with evidence.open(items[0].locator) as stream:
        assert stream.seekable()
        stream.seek(1_000_003)
        assert stream.read(70_000) == big[1_000_003:1_070_003]
        stream.seek(-7, os.SEEK_END)
        assert stream.read() == big[-7:]
        stream.seek(0)
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(big).digest()
        stream.seek(5)
        pieces = [stream.read(4099) for _ in range(40)]  # odd sizes: reads that continue mid-block
        assert b"".join(pieces) == big[5 : 5 + 40 * 4099]
    assert sorted(p.name for p in built.root.iterdir() if p.is_file()) == [
        "Info.plist",
        "Manifest.db",
        "Manifest.plist",
        "Status.plist",
    ]  # nothing decrypted was written beside the backup


def test_photos_sqlite_flags_hidden_and_recently_deleted_pictures(built: Built) -> None:
    _, items, _ = listing(built.root, context_for(built))
    notes = {i.locator.layers[2].value: i.note for i in items if i.note}
    assert notes == {
        f"{DCIM}/IMG_0002.JPG": f"recently deleted in Photos (ZTRASHEDSTATE); {CREATED}",
        f"{DCIM}/IMG_0003.PNG": f"hidden in Photos (ZHIDDEN); {CREATED}",
    }


def test_identity_and_acquisition_come_from_info_plist(built: Built) -> None:
    evidence, _, _ = listing(built.root, context_for(built))
    description = evidence.describe()
    assert description.backend == "ios-backup"
    phone = from_details(description.details)
    assert phone is not None
    identity, acquisition = phone
    assert (identity.platform, identity.manufacturer, identity.model) == ("ios", "Apple", "iPhone12,1")
    assert (identity.serial, identity.imei, identity.os_version) == ("F2LTESTSERIAL", "356789012345678", "17.5.1")
    assert (identity.udid, identity.name) == ("00008030-001A2B3C4D5E6F70", "Test iPhone")
    assert acquisition.method is Acquisition.ITUNES_BACKUP and acquisition.tool == "iTunes 12.13.2.3"
    assert description.details["backup.encrypted"] == ("yes" if built.password else "no")
    assert "decrypted with the examiner's password" in acquisition.note if built.password else True


def test_a_folder_that_is_not_a_backup_is_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "Manifest.db").write_bytes(b"")
    (tmp_path / "Info.plist").write_bytes(b"")  # no Manifest.plist
    with pytest.raises(NotMyFormat):
        IosBackupEvidence(tmp_path)
    assert isinstance(open_source(tmp_path), DirectoryEvidence)
    with pytest.raises(NotMyFormat):
        IosBackupEvidence(tmp_path / "Info.plist")


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (None, r"^the iTunes backup at .* is encrypted; give its backup password with --password$"),
        (with_password("wrong"), r"^the password given for the encrypted iTunes backup at .* is wrong; "),
    ],
)
def test_wrong_or_missing_password_is_one_evidence_error(
    tmp_path: Path, context: OpenContext | None, expected: str
) -> None:
    built = build_backup(tmp_path / "backup", phone_files()[:1], PASSWORD)
    with pytest.raises(EvidenceError, match=expected):
        IosBackupEvidence(built.root, context)


@pytest.mark.parametrize("password", [None, "wrong"])
def test_cli_wrong_or_missing_password_exits_3_with_one_sentence(
    tmp_path: Path, password: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    built = build_backup(tmp_path / "backup", phone_files()[:1], PASSWORD)
    args = ["triage", str(built.root), "--case", str(tmp_path / "case"), "--exhibit", "EX1"]
    code = main(args + (["--password", password] if password else []))
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE == 3
    assert "--password" in line and ("is wrong" if password else "is encrypted") in line


def test_a_manifest_that_is_not_a_database_is_one_evidence_error(tmp_path: Path) -> None:
    built = build_backup(tmp_path / "backup", phone_files()[:1])
    (built.root / "Manifest.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(EvidenceError, match=r"Manifest\.db of the iTunes backup at .* cannot be opened"):
        IosBackupEvidence(built.root)


def test_a_manifest_damaged_part_way_lists_what_it_can_and_warns(tmp_path: Path) -> None:
    files = [BackupFile("HomeDomain", f"Library/f{n:04}-{'x' * 200}.bin", b"%d" % n) for n in range(400)]
    built = build_backup(tmp_path / "backup", files)
    db = built.root / "Manifest.db"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[len(data) // 2 : len(data) // 2 + 4 * page] = b"\xff" * (4 * page)  # pages of the Files table's middle
    db.write_bytes(bytes(data))
    _, items, warnings = listing(built.root)
    assert [w.code for w in warnings] == ["ios-manifest-corrupt"]
    assert warnings[0].locator is not None and warnings[0].locator.leaf.value == "/Manifest.db"
    assert 0 < len(items) < len(files)


def test_missing_data_file_record_without_blob_and_bad_file_id_are_warnings(tmp_path: Path) -> None:
    files = [
        BackupFile("HomeDomain", "Library/kept.txt", b"kept"),
        BackupFile("HomeDomain", "Library/gone.txt", b"gone", write_data=False),
        BackupFile("HomeDomain", "Library/no-record.txt", b"no record", blob=None),
        BackupFile("HomeDomain", "Library/bad-record.txt", b"bad", blob=b"bplist00garbage"),
        BackupFile("HomeDomain", "Library/bad-id.txt", b"bad id", fid="../../../../etc/passwd"),
    ]
    built = build_backup(tmp_path / "backup", files)
    evidence, items, warnings = listing(built.root)
    codes = {(w.code, w.locator.leaf.value if w.locator else "") for w in warnings}
    assert codes == {
        ("ios-file-missing", "HomeDomain/Library/gone.txt"),
        ("ios-record-invalid", "HomeDomain/Library/no-record.txt"),
        ("ios-record-invalid", "HomeDomain/Library/bad-record.txt"),
        ("ios-record-invalid", "HomeDomain/Library/bad-id.txt"),
    }
    listed = {i.locator.leaf.value: i for i in items}
    assert set(listed) == {
        "HomeDomain/Library/kept.txt",
        "HomeDomain/Library/no-record.txt",
        "HomeDomain/Library/bad-record.txt",
    }
    assert listed["HomeDomain/Library/no-record.txt"].size is None  # no record: no size, no times
    for item in items:
        with evidence.open(item.locator) as stream:
            assert stream.read() == next(f.data for f in files if f.path == item.locator.leaf.value)


def test_encrypted_record_without_key_is_a_warning_not_an_item(tmp_path: Path) -> None:
    files = [BackupFile("HomeDomain", "Library/kept.txt", b"kept"), BackupFile("HomeDomain", "x.txt", b"x", blob=None)]
    built = build_backup(tmp_path / "backup", files, PASSWORD)
    _, items, warnings = listing(built.root, with_password(PASSWORD))
    assert [i.locator.leaf.value for i in items] == ["HomeDomain/Library/kept.txt"]
    assert [(w.code, w.locator.leaf.value if w.locator else "") for w in warnings] == [
        ("ios-record-invalid", "HomeDomain/x.txt")
    ]


@pytest.mark.parametrize("relative", ["../../../etc/passwd", "/etc/shadow", "Media/evil\x1b[2Jname.jpg", "a/\n/b.jpg"])
def test_hostile_relative_paths_are_kept_as_names_and_read_by_file_id(tmp_path: Path, relative: str) -> None:
    built = build_backup(tmp_path / "backup", [BackupFile("HomeDomain", relative, b"payload")])
    evidence, items, warnings = listing(built.root)
    assert [i.locator.leaf.value for i in items] == [f"HomeDomain/{relative}"]
    assert [w.code for w in warnings] == ["ios-path-unusual"]
    with evidence.open(items[0].locator) as stream:
        assert stream.read() == b"payload"
    assert "\x1b" not in str(items[0].locator) and "\n" not in str(items[0].locator)


@pytest.mark.parametrize(
    "photos",
    [
        b"not a database at all" * 10,
        photos_sqlite([])[:100],  # truncated
    ],
)
def test_an_unreadable_photos_database_is_a_warning(tmp_path: Path, photos: bytes) -> None:
    files = [BackupFile("CameraRollDomain", "Media/PhotoData/Photos.sqlite", photos), phone_files()[0]]
    built = build_backup(tmp_path / "backup", files)
    _, items, warnings = listing(built.root)
    assert len(items) == 2 and all(i.note is None for i in items)
    assert [(w.code, w.locator.leaf.value if w.locator else "") for w in warnings] == [
        ("ios-photos-db-unreadable", "CameraRollDomain/Media/PhotoData/Photos.sqlite")
    ]


def _triage(tmp_path: Path, built: Built, known: VicsSet) -> Case:
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit="EX1",
        profile=Profile.STANDARD,
        hashsets=("caid-test",),
        operator="tester",
        context=context_for(built) or OpenContext(),
    )
    outcome = triage(built.root, case, store, options)
    assert outcome.status is RunStatus.COMPLETED
    return case


def test_triage_of_a_backup_hashes_matches_and_records_the_phone(tmp_path: Path, built: Built) -> None:
    known = VicsSet()
    known.add(jpeg(2), 1)  # the recently deleted picture is known
    case = _triage(tmp_path, built, known)
    with case.sessions() as s:
        exhibit = s.execute(select(Exhibit)).scalar_one()
        rows = s.execute(select(ItemRow).where(ItemRow.parent_id.is_(None))).scalars().all()
        warnings = s.execute(select(WarningRow)).scalars().all()
    assert warnings == []
    assert exhibit.backend == "ios-backup"
    phone = from_details(json.loads(exhibit.description_json)["details"])
    assert phone is not None and phone[0].serial == "F2LTESTSERIAL" and phone[1].method is Acquisition.ITUNES_BACKUP
    by_path = {Locator.from_json(r.locator).layers[2].value: r for r in rows}
    assert set(by_path) == {f.path for f in built.files}
    for f in built.files:
        row = by_path[f.path]
        assert row.size == len(f.data)
        if row.md5 is not None:
            assert row.md5 == hashlib.md5(f.data).hexdigest()
            assert row.sha256 == hashlib.sha256(f.data).hexdigest()
    assert by_path[f"{DCIM}/IMG_0001.JPG"].md5 is not None
    deleted = by_path[f"{DCIM}/IMG_0002.JPG"]
    assert deleted.note is not None and deleted.note.startswith("recently deleted in Photos (ZTRASHEDSTATE)")
    with case.sessions() as s:
        from safenet.case.schema import Finding

        findings = s.execute(select(Finding.item_id, Finding.category)).all()
    assert findings == [(deleted.id, "A")]


def reopen_md5(source: str, locator_json: str, password: str) -> str:
    """Runs in a fresh (spawned) process: only the path, the locator and the credential cross over."""
    evidence = open_source(Path(source), with_password(password))
    with open_locator(evidence, Locator.from_json(locator_json)) as stream:
        return hashlib.md5(stream.read()).hexdigest()


def test_an_encrypted_item_reopens_in_a_fresh_process(tmp_path: Path) -> None:
    built = build_backup(tmp_path / "backup", phone_files()[:2], PASSWORD)
    _, items, _ = listing(built.root, with_password(PASSWORD))
    item = next(i for i in items if i.locator.leaf.value.endswith("IMG_0002.JPG"))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        digest = pool.apply(reopen_md5, (str(built.root), item.locator.to_json(), PASSWORD))
    assert digest == hashlib.md5(jpeg(2)).hexdigest()


def test_an_archive_member_inside_a_backup_reopens_through_the_registry(tmp_path: Path, built: Built) -> None:
    inner = jpeg(9)
    files = [BackupFile("AppDomain-com.example.files", "Documents/pics.zip", zip_bytes({"a/inner.jpg": inner}))]
    backup = build_backup(tmp_path / "zipped", files, built.password)
    store = HashSetStore(tmp_path / "hashdb")
    case = Case.create_or_open(tmp_path / "zcase")
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, context=context_for(backup) or OpenContext())
    assert triage(backup.root, case, store, options).status is RunStatus.COMPLETED
    with case.sessions() as s:
        locators = [Locator.from_json(r) for r in s.execute(select(ItemRow.locator)).scalars()]
    member = next(loc for loc in locators if loc.leaf.kind is LayerKind.ARCHIVE_MEMBER)
    assert [layer.kind for layer in member.layers[:3]] == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH]
    assert str(member).endswith("AppDomain-com.example.files/Documents/pics.zip (inode 1001) › a/inner.jpg")
    with open_locator(open_source(backup.root, context_for(backup) or OpenContext()), member) as stream:
        assert stream.read() == inner


def _wal_photos(tmp_path: Path) -> tuple[bytes, bytes]:
    """A phone's Photos.sqlite in write-ahead-log mode: IMG_0002 was moved to Recently Deleted before the last
    checkpoint (in the main file), IMG_0003 hidden after it (only in the log)."""
    import shutil
    import sqlite3

    folder = tmp_path / "wal"
    folder.mkdir()
    db = folder / "Photos.sqlite"
    db.write_bytes(photos_sqlite([("DCIM/100APPLE", f"IMG_000{n}.JPG", 0, 0, CORE_DATA_2024) for n in (1, 2, 3)]))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("UPDATE ZASSET SET ZTRASHEDSTATE = 1 WHERE ZFILENAME = 'IMG_0002.JPG'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE ZASSET SET ZHIDDEN = 1 WHERE ZFILENAME = 'IMG_0003.JPG'")
    conn.commit()
    shutil.copy(db, folder / "main")
    shutil.copy(folder / "Photos.sqlite-wal", folder / "log")
    conn.close()
    return (folder / "main").read_bytes(), (folder / "log").read_bytes()


@pytest.mark.parametrize("with_log", [True, False])
def test_a_photos_database_in_wal_mode_is_read_with_its_log(tmp_path: Path, with_log: bool) -> None:
    main, log = _wal_photos(tmp_path)
    assert main[18:20] == b"\x02\x02" and log  # WAL mode, as a phone keeps it
    files = [BackupFile("CameraRollDomain", f"Media/DCIM/100APPLE/IMG_000{n}.JPG", jpeg(10 + n)) for n in (1, 2, 3)] + [
        BackupFile("CameraRollDomain", "Media/PhotoData/Photos.sqlite", main)
    ]
    if with_log:
        files.append(BackupFile("CameraRollDomain", "Media/PhotoData/Photos.sqlite-wal", log))
    build_backup(tmp_path / "backup", files)
    _, items, warnings = listing(tmp_path / "backup")
    assert [w for w in warnings if w.code == "ios-photos-db-unreadable"] == []
    notes = {i.locator.layers[2].value.rsplit("/", 1)[-1]: i.note for i in items if i.note}
    expected = {"IMG_0002.JPG": f"recently deleted in Photos (ZTRASHEDSTATE); {CREATED}"}
    if with_log:  # the hiding is only in the log
        expected["IMG_0003.JPG"] = f"hidden in Photos (ZHIDDEN); {CREATED}"
    assert notes == expected


def _recorded(case: Case) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every item row (in recording order) and warning of a case: the answer key two runs must agree on."""
    with case.sessions() as s:
        items = s.execute(
            select(ItemRow.locator, ItemRow.size, ItemRow.md5, ItemRow.sha256, ItemRow.note, ItemRow.status).order_by(
                ItemRow.id
            )
        ).all()
        warnings = s.execute(select(WarningRow.code, WarningRow.locator).order_by(WarningRow.id)).all()
    return [tuple(r) for r in items], [tuple(r) for r in warnings]


def test_a_backup_examined_while_listed_records_what_a_whole_listing_does(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed on a thread of its own while the first files are read (``LISTS_WHILE_READ``, off for backups as
    it was measured slower, but safe): the same items, digests, notes and locators, in the same order, as when
    the Manifest is listed whole first."""
    known = VicsSet()
    known.add(jpeg(2), 1)
    listings = listing_threads(monkeypatch)
    found = {}
    for streamed in (False, True):
        monkeypatch.setattr(IosBackupEvidence, "LISTS_WHILE_READ", streamed)
        found[streamed] = _recorded(_triage(tmp_path / str(streamed), built, known))
        assert len(listings) == int(streamed)  # the listing thread was used only when the back-end allows it
    assert found[True] == found[False]
    items, warnings = found[True]
    assert len(items) == len(built.files) and warnings == []
