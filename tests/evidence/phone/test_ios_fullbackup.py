"""A full local backup of a live iPhone (``safenet triage ios://UDID --ios-backup``), against a device-side double.

Real: pymobiledevice3's usbmux, lockdown and mobilebackup2 clients (``Mobilebackup2Service.backup`` and
``change_password``: the DeviceLink version exchange, ``Hello``, the backup request answered with
``DLMessageCreateDirectory`` and ``DLMessageUploadFiles``, the sync lock over AFC, the notification and
installation proxies), Python's sockets and ssl, and Safenet above them. The double (``ios_double``) is the
device: its lockdownd answers ``WillEncrypt`` in the ``com.apple.mobile.backup`` domain, and its mobilebackup2
service uploads a backup ``ios_builder`` builds of the test's files, encrypted with the backup password the
device holds (which ``ChangePassword`` sets and removes). The answer key is the builder's list of files.
"""

from __future__ import annotations

import hashlib
import json
import plistlib
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from safenet.case.schema import Exhibit
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.cli import Exit, main
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, TriageOutcome, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Acquire, Credential, CredentialKind, EvidenceWarning, OpenContext
from safenet.evidence.phone import afc
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.ios_fullbackup import (
    PASSWORD_LEFT_CODE,
    RECORD_NAME,
    IosFullBackupEvidence,
    Record,
    acquisition_folder,
)
from safenet.evidence.registry import DeviceAddress, as_source, open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.sfr1 import sfr1_data
from tests.builders import VicsSet, jpeg, png
from tests.evidence.phone.ios_builder import BackupFile
from tests.evidence.phone.ios_double import LABEL, UDID, VALUES, DeviceState, IosDouble, Pairing, make_pairing
from tests.evidence.phone.support import one_sentence, rows_by_path, warnings_of

pytestmark = pytest.mark.timeout(180)  # a hang guard: a client waiting on a double that never answers

OWNER_PASSWORD = "owner's backup password"
ALLOWED_AFC = {"READ_DIR", "GET_FILE_INFO", "FILE_OPEN", "READ", "FILE_SEEK", "FILE_CLOSE", "FILE_LOCK"}


def backup_files() -> list[BackupFile]:
    """What the phone's backup holds: camera roll, an app's media, messages' attachment, a database."""
    return [
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", jpeg(1)),
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.PNG", png(2)),
        BackupFile("MediaDomain", "Library/SMS/Attachments/ab/01/IMG_0042.JPG", jpeg(3, (320, 240))),
        BackupFile("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "Message/Media/x/1.jpg", jpeg(4)),
        BackupFile("HomeDomain", "Library/SMS/sms.db", b"SQLite format 3\x00" + bytes(4080)),
        BackupFile("HomeDomain", "Library/Preferences/empty.plist", b""),
        BackupFile("HomeDomain", "Library/big.bin", bytes(range(256)) * 600),  # several upload chunks
    ]


@dataclass
class Phone:
    double: IosDouble
    files: list[BackupFile]
    tmp: Path

    @property
    def state(self) -> DeviceState:
        return self.double.state

    @property
    def case_path(self) -> Path:
        return self.tmp / "case"

    @property
    def folder(self) -> Path:
        return acquisition_folder(self.case_path.resolve(), "EX1")

    def record(self) -> Record:
        record = Record.load(self.folder / RECORD_NAME)
        assert record is not None
        return record

    def by_path(self) -> dict[str, bytes]:
        return {f.path: f.data for f in self.files}


@pytest.fixture(scope="module")
def pairing(tmp_path_factory: pytest.TempPathFactory) -> Pairing:
    return make_pairing(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def phone(tmp_path: Path, pairing: Pairing, monkeypatch: pytest.MonkeyPatch) -> Iterator[Phone]:
    media = tmp_path / "media"
    media.mkdir()
    (media / "com.apple.itunes.lock_sync").write_bytes(b"")  # every iPhone has its sync lock file
    monkeypatch.setattr(afc, "PAIR_RECORD_FOLDER", tmp_path / "pair-records")
    monkeypatch.setattr(afc, "PAIR_WAIT_S", 0)
    with tempfile.TemporaryDirectory(prefix="sn-mux-") as short:  # a unix socket's path is limited to ~100 bytes
        socket_path = Path(short) / "usbmuxd"
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", str(socket_path))
        files = backup_files()
        state = DeviceState(UDID, dict(VALUES), media, backup_files=files)
        with IosDouble(socket_path, pairing, state) as double:
            yield Phone(double, files, tmp_path)


def run(
    phone: Phone,
    password: str | None = None,
    resume: bool = False,
    known: VicsSet | None = None,
    executor: ExecutorKind = ExecutorKind.INLINE,
    udid: str = UDID,
) -> tuple[Case, TriageOutcome]:
    store = HashSetStore(phone.tmp / "hashdb")
    if known is not None:
        store.import_file(
            known.write(phone.tmp / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None
        )
    case = Case.create_or_open(phone.case_path)
    credentials = (Credential(CredentialKind.PASSWORD, password),) if password is not None else ()
    acquire = Acquire(phone.case_path.resolve(), phone.folder, resume)
    options = TriageOptions(
        exhibit="EX1",
        profile=Profile.STANDARD,
        operator="tester",
        executor=executor,
        resume=resume,
        hashsets=("caid-test",) if known is not None else (),
        context=OpenContext(credentials=credentials, acquire=acquire),
    )
    return case, triage(as_source(f"ios://{udid}"), case, store, options)


def audit_events(case: Case, prefix: str = "ios-backup-") -> list[tuple[str, dict[str, object]]]:
    return [(e["event"], e["data"]) for e in case.audit.entries() if e["event"].startswith(prefix)]


def assert_items_are_the_backup(phone: Phone, case: Case) -> None:
    rows = rows_by_path(case)
    assert set(rows) == set(phone.by_path())
    for path, data in phone.by_path().items():
        row = rows[path]
        assert row.size == len(data)
        if path.lower().endswith((".jpg", ".png")):
            assert row.sha256 == hashlib.sha256(data).hexdigest() and row.md5 == hashlib.md5(data).hexdigest()


def asked_only_for_the_backup(requests: list[str]) -> bool:
    """AFC: reads, and the sync lock (opened read-write, locked, never written); nothing installed."""
    afc_ops = {r.split(":", 1)[1].split(" ", 1)[0] for r in requests if r.startswith("afc:")}
    opened_rw = [r for r in requests if r.startswith("afc:FILE_OPEN") and "lock_sync" in r]
    return afc_ops <= ALLOWED_AFC and len(opened_rw) <= 1 and not any(r.startswith("install:Install") for r in requests)


def test_a_phone_not_encrypting_gets_a_one_time_password_set_recorded_and_removed(phone: Phone) -> None:
    case, outcome = run(phone)
    assert outcome.status is RunStatus.COMPLETED
    assert warnings_of(case) == []
    assert_items_are_the_backup(phone, case)
    record = phone.record()
    password = record.one_time_password
    assert password is not None and len(password) >= 24
    assert phone.state.password_changes == [(None, password), (password, None)]  # set, then removed
    assert phone.state.backup_password is None  # the phone is as it was
    assert (record.encryption, record.password_state, record.udid) == ("one-time", "removed", UDID)
    assert record.finished is not None and "pymobiledevice3" in record.tool and "mobilebackup2" in record.tool
    assert [(event, data["password"]) for event, data in audit_events(case)] == [
        ("ios-backup-encryption-set", password),
        ("ios-backup-encryption-removed", password),
    ]
    assert all(data["recorded_in"] == str(phone.folder / RECORD_NAME) for _, data in audit_events(case))
    stored = phone.folder / UDID
    manifest = plistlib.loads((stored / "Manifest.plist").read_bytes())
    assert manifest["IsEncrypted"] is True  # taken encrypted: more domains
    for owner_only in (phone.folder.parent, phone.folder, phone.folder / RECORD_NAME):
        assert stat.S_IMODE(owner_only.stat().st_mode) & 0o077 == 0
    with case.sessions() as s:
        exhibit = s.execute(select(Exhibit)).scalar_one()
    assert exhibit.backend == "ios-backup-live" and exhibit.source == f"ios://{UDID}"
    facts = from_details(json.loads(exhibit.description_json)["details"])
    assert facts is not None
    identity, acquisition = facts
    assert (identity.serial, identity.udid, identity.model) == ("F2LLIVESERIAL", UDID, "iPhone12,1")
    assert acquisition.method is Acquisition.IOS_BACKUP
    assert acquisition.tool == f"pymobiledevice3 {afc.version('pymobiledevice3')} (mobilebackup2)"
    assert "one-time password" in acquisition.note
    assert asked_only_for_the_backup(phone.double.requests)


def test_a_udid_given_without_its_dashes_reads_the_backup_the_phone_wrote(phone: Phone) -> None:
    """The UDID's dashes are optional on the command line; the backup folder is named by the phone's own UDID."""
    case, outcome = run(phone, udid=UDID.replace("-", ""))
    assert outcome.status is RunStatus.COMPLETED
    assert warnings_of(case) == []
    assert_items_are_the_backup(phone, case)
    assert phone.state.backup_password is None
    assert phone.record().udid == UDID and (phone.folder / UDID / "Manifest.plist").is_file()


def test_the_backup_folder_takes_the_phones_udid_only_where_it_is_the_one_typed(tmp_path: Path) -> None:
    """The phone's UDID names a folder that is removed before the backup: a phone answering another (or a path)
    is not believed."""
    typed = UDID.replace("-", "")
    evidence = IosFullBackupEvidence(typed, OpenContext(), Acquire(tmp_path, tmp_path / "backup", resume=False))
    device = SimpleNamespace(lockdown=SimpleNamespace(udid=UDID))
    assert evidence._folder_name(cast(Any, device)) == UDID
    for answered in ("../../victim", "00008030-FFFFFFFFFFFFFFFF", None):
        device.lockdown.udid = answered
        assert evidence._folder_name(cast(Any, device)) == typed


def test_locators_name_the_device_the_acquisition_and_the_domain_path_and_reopen_from_the_stored_backup(
    phone: Phone,
) -> None:
    case, _ = run(phone)
    rows = rows_by_path(case)
    row = rows["CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"]
    locator = Locator.from_json(row.locator)
    source, device, path = locator.layers
    assert (source.kind, source.value) == (LayerKind.SOURCE, f"ios://{UDID}")
    assert (device.kind, device.value, device.detail) == (LayerKind.DEVICE, LABEL, "ios-backup")
    assert path.kind is LayerKind.PATH and path.detail is not None and len(path.detail) == 40  # the fileID
    assert str(locator).startswith(f"ios://{UDID} › {LABEL} [ios-backup] › CameraRollDomain/Media/DCIM/100APPLE/")
    asked = len(phone.double.requests)
    acquire = Acquire(phone.case_path.resolve(), phone.folder)
    worker = open_source(DeviceAddress("ios", UDID), OpenContext(acquire=acquire))  # as a worker process opens it
    for path_text, data in phone.by_path().items():
        with open_locator(worker, Locator.from_json(rows[path_text].locator)) as stream:
            assert stream.read() == data
    assert len(phone.double.requests) == asked  # read from the case: the phone was not asked again


def test_a_phone_encrypting_with_its_owners_password_is_backed_up_with_it_and_nothing_is_changed(
    phone: Phone,
) -> None:
    phone.state.backup_password = OWNER_PASSWORD
    case, outcome = run(phone, OWNER_PASSWORD)
    assert outcome.status is RunStatus.COMPLETED
    assert warnings_of(case) == []
    assert_items_are_the_backup(phone, case)
    assert phone.state.password_changes == [] and phone.state.backup_password == OWNER_PASSWORD
    record = phone.record()
    assert (record.encryption, record.one_time_password, record.password_state) == ("examiner", None, "none")
    assert audit_events(case) == []
    for written in [*phone.case_path.rglob("*.json"), phone.case_path / "audit.jsonl", phone.case_path / "case.db"]:
        assert OWNER_PASSWORD.encode() not in written.read_bytes()  # a credential is never recorded


def triage_cli(phone: Phone, *extra: str) -> int:
    case = str(phone.case_path)
    return main(["triage", f"ios://{UDID}", "--case", case, "--exhibit", "EX1", "--ios-backup", *extra])


def test_an_encrypting_phone_without_password_is_one_sentence_exit_3_and_nothing_is_taken(
    phone: Phone, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.state.backup_password = OWNER_PASSWORD
    code = triage_cli(phone)
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE == 3
    assert line.endswith(
        f"the iOS device {UDID} encrypts its backups with a password set on it: give that backup password "
        "(set in iTunes or Finder, not the phone's passcode) with --password"
    )
    assert phone.state.backups == 0 and phone.state.password_changes == []


def test_a_wrong_password_is_one_sentence_exit_3_and_resume_with_the_right_one_reads_the_backup_taken(
    phone: Phone, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.state.backup_password = OWNER_PASSWORD
    code = triage_cli(phone, "--password", "not it")
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE == 3
    assert "the password given with --password is not the backup password of the iOS device" in line
    assert line.endswith("(the backup taken is kept and read again)")
    assert phone.state.backups == 1

    code = triage_cli(phone, "--password", OWNER_PASSWORD, "--resume")
    assert code == 0, capsys.readouterr().err
    assert phone.state.backups == 1  # the finished backup was read again, not taken again
    assert_items_are_the_backup(phone, Case.create_or_open(phone.case_path))
    assert phone.state.password_changes == []


def test_ios_backup_needs_one_ios_source_named_by_exhibit(phone: Phone, capsys: pytest.CaptureFixture[str]) -> None:
    media = str(phone.tmp / "media")
    code = main(["triage", media, "--case", str(phone.case_path), "--exhibit", "EX1", "--ios-backup"])
    err = capsys.readouterr().err
    assert code == Exit.USAGE
    assert err.strip().endswith("--ios-backup takes one live iPhone or iPad: give ios://UDID with --exhibit")


def test_a_removal_the_phone_refuses_is_a_warning_naming_the_record_and_a_limitation(phone: Phone) -> None:
    phone.state.refuse_removal = True
    case, outcome = run(phone)
    assert outcome.status is RunStatus.COMPLETED
    assert_items_are_the_backup(phone, case)
    record = phone.record()
    password = record.one_time_password
    assert record.password_state == "left" and phone.state.backup_password == password
    (warning,) = warnings_of(case)
    assert warning.code == PASSWORD_LEFT_CODE
    assert str(phone.folder / RECORD_NAME) in warning.message and "Encrypt local backup" in warning.message
    events = audit_events(case)
    assert [e for e, _ in events] == ["ios-backup-encryption-set", "ios-backup-encryption-left"]
    assert "passcode was not entered" in str(events[1][1]["reason"])
    limitations = sfr1_data(case, report_data(case))["phone_limitations"]
    assert any(
        line.startswith("Exhibit EX1: Safenet turned the phone's backup encryption on")
        and "left with backup encryption on" in line
        for line in limitations
    )

    # A resumed run that reads the stored backup again (one interrupted after the backup) removes it, the
    # owner's passcode entered this time; the backup is not taken again.
    phone.state.refuse_removal = False
    resumed = open_source(
        DeviceAddress("ios", UDID), OpenContext(acquire=Acquire(phone.case_path.resolve(), phone.folder, True))
    )
    again: list[EvidenceWarning] = []
    assert {i.locator.leaf.value for i in resumed.items(again.append)} == set(phone.by_path())
    assert again == [] and phone.state.backups == 1 and phone.state.backup_password is None
    assert phone.record().password_state == "removed" and phone.record().one_time_password == password
    assert phone.state.password_changes == [(None, password), (password, None)]  # set once, removed once
    assert [e for e, _ in audit_events(case)][-1] == "ios-backup-encryption-removed"


@pytest.mark.slow
def test_a_phone_unplugged_during_the_backup_is_device_disconnected_and_resume_takes_it_again(phone: Phone) -> None:
    phone.state.drop_after_upload = 30_000  # part way through the upload
    case, outcome = run(phone)
    assert outcome.status is RunStatus.INTERRUPTED
    codes = sorted(w.code for w in warnings_of(case))
    assert codes == ["device-disconnected", PASSWORD_LEFT_CODE]  # and the password could not be removed
    record = phone.record()
    assert record.finished is None and record.password_state == "left"
    password = record.one_time_password
    assert rows_by_path(case) == {}

    phone.state.drop_after_upload = None
    phone.double.attach()
    case, outcome = run(phone, resume=True)
    assert outcome.status is RunStatus.COMPLETED
    assert phone.state.backups == 2  # the unfinished backup was taken again
    assert_items_are_the_backup(phone, case)
    assert phone.record().one_time_password == password and phone.record().password_state == "removed"
    assert phone.state.password_changes == [(None, password), (password, None)]  # set once, removed once
    assert phone.state.backup_password is None


def test_hostile_paths_in_the_backup_are_warnings_kept_as_the_phones_names_and_nothing_escapes(
    phone: Phone,
) -> None:
    hostile = [
        BackupFile("HomeDomain", "../../../etc/passwd-copy", jpeg(7)),
        BackupFile("HomeDomain", "/etc/absolute.jpg", jpeg(8)),
        BackupFile("HomeDomain", "Library/ctl\x1b[2Jname.jpg", jpeg(9)),
    ]
    phone.files.extend(hostile)  # the double serves the list it was given
    case, outcome = run(phone)
    assert outcome.status is RunStatus.COMPLETED
    assert_items_are_the_backup(phone, case)
    unusual = sorted(
        (w.code, Locator.from_json(w.locator).layers[2].value) for w in warnings_of(case) if w.locator is not None
    )
    assert unusual == sorted(("ios-path-unusual", f.path) for f in hostile)
    stored = phone.folder / UDID
    assert all(p.resolve().is_relative_to(stored.resolve()) for p in stored.rglob("*"))
    assert not (phone.tmp / "etc").exists() and not (phone.case_path / "etc").exists()


@pytest.mark.parametrize("name", [f"{UDID}/../../escaped.bin", "/tmp/sn-absolute-escape.bin"])
def test_a_backup_file_named_outside_the_folder_stops_the_backup_and_the_password_is_still_removed(
    phone: Phone, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.state.hostile_upload = name
    code = triage_cli(phone)
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE
    assert f"the iOS device {UDID} sent a backup file whose name leads outside the backup folder" in line
    assert not (phone.folder.parent / "escaped.bin").exists() and not (phone.folder / "escaped.bin").exists()
    assert not Path("/tmp/sn-absolute-escape.bin").exists()
    record = phone.record()
    assert record.finished is None and record.password_state == "removed"  # the finally ran
    assert phone.state.backup_password is None


def test_verify_rehashes_the_findings_from_the_backup_in_the_case_without_the_phone(phone: Phone) -> None:
    known = VicsSet()
    known.add(jpeg(3, (320, 240)), 1)  # the picture in the messages' attachments: only a backup holds it
    case, outcome = run(phone, known=known)
    assert outcome.status is RunStatus.COMPLETED and outcome.hits == 1
    phone.double.detach()  # the phone is gone: what is re-hashed is the backup the case holds
    result = verify_case(case)
    assert result.ok, result.problems
    assert "exhibit EX1: 1 of 1 matched items re-hashed identically" in result.lines


@pytest.mark.parametrize(
    ("errno_name", "exit_code", "expected"),
    [
        (
            "ENOSPC",
            Exit.DISK_FULL,
            "is full; free some space, then run `safenet triage --resume` with the same --case and --exhibit to finish",
        ),
        (
            "EROFS",
            Exit.EVIDENCE,
            f"the backup of the iOS device {UDID} cannot be written into the case (Read-only file system); fix the "
            "case folder's permissions, then run again with --resume (it is taken again)",
        ),
    ],
)
def test_a_case_disk_that_cannot_take_the_backup_is_one_sentence_not_a_disconnect_and_the_password_is_removed(
    phone: Phone,
    errno_name: str,
    exit_code: int,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno
    import os

    from pymobiledevice3.services import device_link

    number = getattr(errno, errno_name)

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(device_link, "open", refused, raising=False)  # where pymobiledevice3 writes each file
    code = triage_cli(phone)
    line = one_sentence(capsys)
    assert code == exit_code
    assert line.endswith(expected)
    assert phone.record().password_state == "removed" and phone.state.backup_password is None


@pytest.mark.slow
def test_worker_processes_read_the_stored_backup_and_never_ask_the_phone(phone: Phone) -> None:
    case, outcome = run(phone, executor=ExecutorKind.PROCESSES)
    assert outcome.status is RunStatus.COMPLETED
    assert warnings_of(case) == []
    assert_items_are_the_backup(phone, case)
    assert phone.state.backups == 1
    assert phone.double.requests.count("backup:Backup") == 1
    (finished,) = [e["data"] for e in case.audit.entries() if e["event"] == "triage-finished"]
    assert finished["executor"] == "processes"  # the items were opened in worker processes


def test_a_phone_refusing_to_turn_encryption_on_is_one_sentence_exit_3_and_nothing_is_taken(
    phone: Phone, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.state.refuse_setting = True
    code = triage_cli(phone)
    line = one_sentence(capsys)
    assert code == Exit.EVIDENCE
    assert f"the iOS device {UDID} refused to turn backup encryption on" in line
    assert line.endswith("; unlock it and run again")
    assert phone.state.backups == 0 and phone.state.backup_password is None
    assert phone.record().password_state == "none"
    assert audit_events(Case.open_existing(phone.case_path)) == []  # nothing was changed on the phone


def test_ctrl_c_during_the_backup_still_removes_the_one_time_password_and_resume_takes_it_again(
    phone: Phone, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.state.interrupt_host = True
    code = triage_cli(phone)
    err = capsys.readouterr().err
    assert code == Exit.INTERRUPTED and "Traceback" not in err
    record = phone.record()
    assert record.finished is None and record.password_state == "removed"  # removed in the finally
    assert phone.state.backup_password is None

    phone.state.interrupt_host = False
    assert triage_cli(phone, "--resume") == 0, capsys.readouterr().err
    assert phone.state.backups == 2  # the unfinished backup was taken again
    assert_items_are_the_backup(phone, Case.create_or_open(phone.case_path))
    assert phone.state.backup_password is None
    password = phone.record().one_time_password
    assert phone.state.password_changes[-2:] == [(None, password), (password, None)]


def undo_cli(phone: Phone, exhibit: str = "EX1") -> int:
    return main(["case", "undo-backup-password", str(phone.case_path), "--exhibit", exhibit])


def test_a_password_left_by_a_completed_run_is_undone_by_its_own_command(
    phone: Phone, capsys: pytest.CaptureFixture[str]
) -> None:
    """A completed exhibit is not triaged again, so its --resume cannot remove the password a refused removal left:
    `safenet case undo-backup-password` does, with the password the case records, and audits it; a phone that
    still refuses is one sentence (exit 3) and the password stays recorded as left."""
    phone.state.refuse_removal = True
    case, outcome = run(phone)
    assert outcome.status is RunStatus.COMPLETED and phone.record().password_state == "left"
    password = phone.record().one_time_password

    assert undo_cli(phone) == Exit.EVIDENCE == 3
    line = one_sentence(capsys)
    assert f"the iOS device {UDID} did not turn backup encryption off (" in line
    assert "passcode was not entered" in line  # the phone's own reason
    assert str(phone.folder / RECORD_NAME) in line
    assert phone.record().password_state == "left" and phone.state.backup_password == password

    phone.state.refuse_removal = False
    assert undo_cli(phone) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert said.startswith("EX1: the phone's backup encryption, which Safenet turned on, is off again")
    assert phone.state.backup_password is None and phone.record().password_state == "removed"
    assert phone.state.password_changes[-1] == (password, None) and phone.state.backups == 1
    events = [e for e, _ in audit_events(case)]
    assert events[-1] == "ios-backup-encryption-removed" and events.count("ios-backup-encryption-left") == 2
    assert verify_case(Case.open_existing(phone.case_path)).ok
    # the SFR1 says both: left at the end of the run, turned off afterwards (when, from the record)
    removed = phone.record().password_removed
    assert removed is not None
    (limitation,) = [
        line
        for line in sfr1_data(case, report_data(case))["phone_limitations"]
        if line.startswith("Exhibit EX1: Safenet turned")
    ]
    assert limitation.endswith(
        f"could not turn it off again at the end of its run (ios-backup-password-left warning): it was turned off "
        f"afterwards, on {removed[:10]} at {removed[11:19]} UTC, with that password (audited)."
    )
    # a record written before the removal time was kept, or edited to hold a number or a time without a zone:
    # removed, when not said (a zone-less time would otherwise be shifted by this host's zone and called UTC)
    record_path = phone.folder / RECORD_NAME
    original = json.loads(record_path.read_text())
    for held in (None, 5, "2026-01-02T03:04:05"):
        kept = dict(original)
        if held is None:
            del kept["password_removed"]
        else:
            kept["password_removed"] = held
        record_path.write_text(json.dumps(kept))
        assert [
            line
            for line in sfr1_data(case, report_data(case))["phone_limitations"]
            if line.endswith("it was turned off afterwards with that password (audited).")
        ], held

    assert undo_cli(phone) == 0
    assert (
        "nothing to undo: Safenet's one-time backup password is not on the phone (removed)" in capsys.readouterr().out
    )
    assert phone.state.password_changes[-1] == (password, None)  # not asked again


def test_undo_backup_password_of_an_exhibit_that_is_not_a_backed_up_iphone_is_one_sentence(
    phone: Phone, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "usb"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg(9))
    assert main(["triage", str(folder), "--case", str(phone.case_path), "--exhibit", "USB1"]) == 0
    capsys.readouterr()
    assert undo_cli(phone, "USB1") == Exit.EVIDENCE
    assert one_sentence(capsys).endswith(
        "not an iPhone or iPad backed up with --ios-backup: Safenet set no backup password on it"
    )
    code = undo_cli(phone, "EX9")
    assert code != 0 and "has no exhibit EX9" in one_sentence(capsys)
