"""Live Android over ADB: the real Debian adb server and the real adbutils against a device-side double.

Only the phone is made up (``adb_double.PhoneDouble``, a device side of the ADB protocol on a loopback port);
each test module starts its own adb server on a private port and kills it after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from safenet.case.schema import Exhibit, ItemRow, WarningRow
from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item
from safenet.evidence.phone.identity import from_details
from safenet.evidence.registry import DeviceAddress
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, write
from tests.evidence.phone.adb_double import AdbServer, MediaRow, PhoneDouble
from tests.evidence.phone.support import listing_threads

if TYPE_CHECKING:
    from safenet.evidence.phone.adb_sync import Entry, SyncSession

pytestmark = [
    pytest.mark.skipif(shutil.which("adb") is None, reason="Debian's adb (package adb) is not installed"),
    pytest.mark.timeout(120),
]

A, C = 1, 3
SDCARD = "/sdcard"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    adb = AdbServer(tmp_path_factory.mktemp("adb-home"))
    try:
        yield adb
    finally:
        adb.kill()


@pytest.fixture(autouse=True)
def _server_port(server: AdbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
    monkeypatch.delenv("ANDROID_ADB_SERVER_HOST", raising=False)


def build_storage(root: Path) -> dict[str, bytes]:
    """A phone's shared storage: camera, WhatsApp (received and sent), Telegram, screenshots, a trashed photo,
    thumbnail caches, and files outside the folders Safenet reads. Returns what must be read, by device path."""
    files = {
        "DCIM/Camera/IMG_20240101_120000.jpg": jpeg(1, (96, 64)),
        "DCIM/Camera/IMG_20240102_120000.jpg": jpeg(2, (96, 64)),
        "DCIM/Camera/.trashed-1735000000-IMG_20231224.jpg": jpeg(3, (96, 64)),
        "DCIM/.thumbnails/.thumbdata4--1967290299": b"\xff\xd8thumbdata" + bytes(range(256)) * 8,
        "DCIM/.thumbnails/1700000000001.jpg": jpeg(4, (32, 24)),
        "Pictures/Screenshots/Screenshot_2024.png": png(5),
        "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240103-WA0001.jpg": jpeg(6),
        "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-20240104-WA0002.jpg": jpeg(7),
        "Android/media/org.telegram.messenger/Telegram/Telegram Images/photo, with comma.jpg": jpeg(8),
        "Download/leaflet.jpg": jpeg(9),
        "Documents/notes.txt": b"shopping list\n",
        "Movies/clip.mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 200,
    }
    outside = {"Alarms/tone.jpg": jpeg(20), "Android/data/com.example/cache/x.jpg": jpeg(21), "top.jpg": jpeg(22)}
    for rel, data in {**files, **outside}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {f"{SDCARD}/{rel}": data for rel, data in files.items()}


MEDIA = [
    MediaRow("DCIM/Camera/IMG_20240101_120000.jpg", owner="com.google.android.GoogleCamera", date_added=1704110400,
             date_taken_ms=1704110400000),
    MediaRow("DCIM/Camera/.trashed-1735000000-IMG_20231224.jpg", owner="com.google.android.apps.photos",
             date_added=1703419200, is_trashed=1),
    MediaRow("Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240103-WA0001.jpg",
             owner="com.whatsapp", date_added=1704283200),
    MediaRow("Android/media/org.telegram.messenger/Telegram/Telegram Images/photo, with comma.jpg",
             owner="org.telegram.messenger", date_added=1704369600),
]  # fmt: skip


@pytest.fixture
def phone(tmp_path: Path, server: AdbServer) -> Iterator[tuple[PhoneDouble, dict[str, bytes]]]:
    expected = build_storage(tmp_path / "sdcard")
    with PhoneDouble(tmp_path / "sdcard", media=MEDIA) as double:
        server.connect(double)
        try:
            yield double, expected
        finally:
            server.disconnect(double)


def known_set(tmp_path: Path, entries: list[tuple[bytes, int]]) -> HashSetStore:
    known = VicsSet()
    for data, category in entries:
        known.add(data, category)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return store


def run(double: PhoneDouble, case: Case, store: HashSetStore | None, **kw: object) -> object:
    options = TriageOptions(
        exhibit="PHONE1", profile=Profile.QUICK, hashsets=("caid-test",) if store else (), operator="tester", **kw
    )  # type: ignore[arg-type]
    return triage(DeviceAddress("android", double.address), case, store, options)


def items_of(case: Case) -> dict[str, ItemRow]:
    with case.sessions() as s:  # type: ignore[attr-defined]
        rows = s.execute(select(ItemRow).where(ItemRow.parent_id.is_(None))).scalars().all()
        return {Locator.from_json(r.locator).leaf.value: r for r in rows}


def warnings_of(case: Case) -> list[WarningRow]:
    with case.sessions() as s:  # type: ignore[attr-defined]
        return list(s.execute(select(WarningRow)).scalars().all())


@pytest.mark.slow
def test_triage_reads_shared_storage_and_matches(tmp_path: Path, phone: tuple[PhoneDouble, dict[str, bytes]]) -> None:
    double, expected = phone
    camera = expected[f"{SDCARD}/DCIM/Camera/IMG_20240102_120000.jpg"]
    trashed = expected[f"{SDCARD}/DCIM/Camera/.trashed-1735000000-IMG_20231224.jpg"]
    store = known_set(tmp_path, [(camera, A), (trashed, C)])
    case = Case.create_or_open(tmp_path / "case")
    outcome = run(double, case, store)
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    items = items_of(case)
    assert set(items) == set(expected)  # exactly the shared folders: not Alarms/, Android/data/, the root
    for path, data in expected.items():
        assert items[path].size == len(data), path
        if items[path].md5 is not None:
            assert items[path].md5 == hashlib.md5(data).hexdigest(), path
    pictures = [p for p in expected if p.endswith((".jpg", ".png"))]
    assert all(items[p].md5 for p in pictures)  # every picture was read whole and hashed
    assert outcome.hits == 2  # type: ignore[attr-defined]
    hit = Locator.from_json(items[f"{SDCARD}/DCIM/Camera/IMG_20240102_120000.jpg"].locator)
    assert [layer.kind for layer in hit.layers] == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH]
    assert hit.layers[0].value == f"android://{double.address}"
    assert hit.layers[1].value == "Google Pixel 7 28031FDH2000TE" and hit.layers[1].detail == "adb-logical"
    assert str(hit).endswith(
        "Google Pixel 7 28031FDH2000TE [adb-logical] › /sdcard/DCIM/Camera/IMG_20240102_120000.jpg"
    )

    notes = {p: r.note for p, r in items.items() if r.note}
    assert notes == {
        f"{SDCARD}/DCIM/Camera/IMG_20240101_120000.jpg": "owner app com.google.android.GoogleCamera; MediaStore added "
        "2024-01-01T12:00:00Z; taken 2024-01-01T12:00:00Z",
        f"{SDCARD}/DCIM/Camera/.trashed-1735000000-IMG_20231224.jpg": "trashed on the device (MediaStore is_trashed); "
        "owner app com.google.android.apps.photos; MediaStore added 2023-12-24T12:00:00Z",
        f"{SDCARD}/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240103-WA0001.jpg": "owner app "
        "com.whatsapp; MediaStore added 2024-01-03T12:00:00Z",
        f"{SDCARD}/Android/media/org.telegram.messenger/Telegram/Telegram Images/photo, with comma.jpg": "owner app "
        "org.telegram.messenger; MediaStore added 2024-01-04T12:00:00Z",
    }
    assert warnings_of(case) == []
    with case.sessions() as s:  # type: ignore[attr-defined]
        exhibit = s.execute(select(Exhibit)).scalar_one()
    assert exhibit.source == f"android://{double.address}" and exhibit.backend == "android-adb"
    found = from_details(json.loads(exhibit.description_json)["details"])
    assert found is not None
    identity, acquisition = found
    assert (identity.manufacturer, identity.model, identity.serial, identity.os_version) == (
        "Google", "Pixel 7", "28031FDH2000TE", "14"
    )  # fmt: skip
    assert identity.imei == ""  # Android 10+ refuses it to the shell user
    assert acquisition.method.value == "adb-logical" and "adbutils 2.12.0" in acquisition.tool
    assert double.counters.refused == []  # nothing asked to write or to run another service
    read_only = ("getprop", "settings get global ", "content query --uri ")  # nothing else ran on the phone
    assert double.counters.shells and all(c.startswith(read_only) for c in double.counters.shells)


# --- states: devices listing and the errors a triage gives -------------------------------------------------


@pytest.fixture
def three_phones(tmp_path: Path, server: AdbServer) -> Iterator[dict[str, PhoneDouble]]:
    (tmp_path / "sd").mkdir()
    phones = {
        "authorised": PhoneDouble(tmp_path / "sd", props={"ro.serialno": "SERIALOK", "ro.build.version.release": "13"}),
        "unauthorised": PhoneDouble(tmp_path / "sd", mode="unauthorised"),
        "offline": PhoneDouble(tmp_path / "sd", mode="offline"),
    }
    try:
        server.connect(phones["authorised"], "device")
        server.connect(phones["unauthorised"], "unauthorized")
        server.connect(phones["offline"], "offline")
        yield phones
    finally:
        for double in phones.values():
            server.disconnect(double)
            double.close()


@pytest.mark.slow
def test_devices_lists_each_state_with_identity(
    three_phones: dict[str, PhoneDouble], capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.cli import main
    from safenet.evidence.phone.android_live import list_android_devices

    rows = {row.ident: row for row in list_android_devices()}
    for state, double in three_phones.items():
        assert rows[double.address].state == state and rows[double.address].platform == "android"
    identity = rows[three_phones["authorised"].address].identity
    assert identity is not None and (identity.model, identity.serial, identity.os_version) == (
        "Pixel 7", "SERIALOK", "13"
    )  # fmt: skip
    assert rows[three_phones["unauthorised"].address].identity is None  # an untrusted phone says nothing
    assert main(["devices"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("android")}
    assert "authorised  Google Pixel 7, serial SERIALOK, Android 13" in lines[three_phones["authorised"].address]
    assert "unauthorised  (unlock it and accept" in lines[three_phones["unauthorised"].address]
    assert "offline  (unplug and reconnect it)" in lines[three_phones["offline"].address]
    assert main(["devices", "--json"]) == 0
    listed = {row["ident"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed[three_phones["authorised"].address]["identity"]["serial"] == "SERIALOK"


@pytest.mark.slow
def test_unauthorised_offline_and_unknown_phones_are_one_sentence_and_exit_3(
    tmp_path: Path, three_phones: dict[str, PhoneDouble], capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.cli import main

    def triage_cli(serial: str) -> tuple[int, str]:
        code = main(["triage", f"android://{serial}", "--case", str(tmp_path / "case"), "--exhibit", "EX1"])
        return code, " ".join(capsys.readouterr().err.split())

    unauthorised = three_phones["unauthorised"].address
    assert triage_cli(unauthorised) == (
        3,
        f"safenet: error: the phone {unauthorised} has not authorised this computer: unlock it and accept the USB "
        "debugging prompt, then run again",
    )
    code, message = triage_cli(three_phones["offline"].address)
    assert code == 3 and message.startswith(f"safenet: error: the phone {three_phones['offline'].address} is offline")
    code, message = triage_cli("R58NOSUCHPHONE")
    assert code == 3 and message.startswith("safenet: error: the adb server sees no phone with serial R58NOSUCHPHONE")
    assert "Traceback" not in message


def test_no_adb_server_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from safenet.cli import main

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    code = main(["triage", "android://R58M12ABCDE", "--case", str(tmp_path / "case"), "--exhibit", "EX1"])
    message = " ".join(capsys.readouterr().err.split())
    assert code == 3
    assert message == (
        f"safenet: error: no adb server is answering on 127.0.0.1:{port}: start it with `adb start-server` (Debian "
        "package adb), connect the phone, and run again"
    )
    assert main(["devices"]) in (0, 3)  # the iOS lister (when installed) may still answer: then a note, not an error
    assert f"no adb server is answering on 127.0.0.1:{port}" in capsys.readouterr().err
    from safenet.commands import devices
    from safenet.evidence.phone.android_live import list_android_devices

    monkeypatch.setattr(devices, "_listers", lambda: [("android", list_android_devices)])
    assert main(["devices"]) == 3  # nothing could be listed at all


# --- a phone unplugged mid-run, then plugged back --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_disconnect_mid_run_then_resume(tmp_path: Path, server: AdbServer, executor: str) -> None:
    from safenet.engine.executor_kind import ExecutorKind

    kind = ExecutorKind(executor)
    workers = 1 if kind is ExecutorKind.INLINE else 2
    root = tmp_path / "sdcard"
    expected = {}
    for i in range(60):
        rel = f"DCIM/Camera/IMG_{i:04d}.jpg"
        data = jpeg(100 + i, (160, 120))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        expected[f"{SDCARD}/{rel}"] = data
    total = sum(len(d) for d in expected.values())
    store = known_set(tmp_path, [(expected[f"{SDCARD}/DCIM/Camera/IMG_0050.jpg"], A)])
    case = Case.create_or_open(tmp_path / "case")
    with PhoneDouble(root, drop_after=total // 3) as double:
        server.connect(double)
        first = run(double, case, store, workers=workers, executor=kind)
        assert first.status is RunStatus.INTERRUPTED  # type: ignore[attr-defined]
        warnings = warnings_of(case)
        assert [(w.code, w.locator) for w in warnings] == [("device-disconnected", None)]  # one, not one per item
        assert "safenet triage --resume" in warnings[0].message
        recorded = items_of(case)
        assert 0 < len(recorded) < len(expected)
        for path, row in recorded.items():  # what was recorded is whole: nothing half-read is kept
            assert row.status == "examined" and row.md5 == hashlib.md5(expected[path]).hexdigest()
        assert server.states().get(double.address) != "device"

        double.come_back()  # plugged back in: adb connects again and the run is resumed
        server.disconnect(double)
        server.connect(double)
        second = run(double, case, store, workers=workers, executor=kind, resume=True)
        assert second.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
        server.disconnect(double)
    items = items_of(case)
    assert set(items) == set(expected)
    with case.sessions() as s:  # type: ignore[attr-defined]
        assert s.execute(select(ItemRow.id)).all().__len__() == len(expected)  # each item recorded once
    assert all(items[p].md5 == hashlib.md5(d).hexdigest() for p, d in expected.items())
    assert first.hits + second.hits == 1  # type: ignore[attr-defined]
    assert [w.code for w in warnings_of(case)] == ["device-disconnected"]
    assert case.audit.verify().ok


# --- identity details and the MediaStore text --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("sdk", "imei", "found"), [("28", "490154203237518", "490154203237518"), ("34", None, "")])
def test_imei_only_where_the_shell_user_may_read_it(
    tmp_path: Path, server: AdbServer, sdk: str, imei: str | None, found: str
) -> None:
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    (tmp_path / "sd").mkdir()
    props = {"ro.build.version.sdk": sdk, "ro.build.version.release": "9" if sdk == "28" else "14"}
    with PhoneDouble(tmp_path / "sd", props=props, imei=imei or "356938035643809") as double:
        server.connect(double)
        try:
            identity = AndroidLiveEvidence(double.address).identity()
        finally:
            server.disconnect(double)
    assert identity.imei == found  # Android 10+: the double holds an IMEI but, like a phone, never gives it
    assert ("service call iphonesubinfo 1" in double.counters.shells) is (sdk == "28")


@pytest.mark.slow
def test_hostile_names_round_trip_and_worker_processes_open_the_phone(tmp_path: Path, server: AdbServer) -> None:
    """Names are the phone's bytes: a newline, a byte that is not UTF-8, a bidi override. Each worker process
    opens the phone itself from the locator's scheme and serial (the process executor)."""
    from safenet.engine.executor_kind import ExecutorKind

    root = tmp_path / "sdcard"
    (root / "DCIM" / "Camera").mkdir(parents=True)
    names = [b"new\nline.jpg", b"bad\xff.jpg", b"gpj.\xe2\x80\xaeexe.jpg", b"plain.jpg"]
    expected = {}
    for i, raw in enumerate(names):
        data = jpeg(200 + i)
        (root / "DCIM" / "Camera" / os.fsdecode(raw)).write_bytes(data)
        expected["/sdcard/DCIM/Camera/" + raw.decode("utf-8", "surrogateescape")] = data
    case = Case.create_or_open(tmp_path / "case")
    with PhoneDouble(root) as double:
        server.connect(double)
        try:
            outcome = run(double, case, None, workers=2, executor=ExecutorKind.PROCESSES)
        finally:
            server.disconnect(double)
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    items = items_of(case)
    assert set(items) == set(expected)
    assert all(items[p].md5 == hashlib.md5(d).hexdigest() for p, d in expected.items())
    shown = {row.display for row in items.values()}
    assert any(s.endswith("/sdcard/DCIM/Camera/new\\nline.jpg") for s in shown)
    assert any(s.endswith("/sdcard/DCIM/Camera/bad\\xff.jpg") for s in shown)
    assert any(s.endswith("/sdcard/DCIM/Camera/gpj.\\u202eexe.jpg") for s in shown)
    assert warnings_of(case) == []


@pytest.mark.slow
def test_a_large_mediastore_answer_is_read_whole(tmp_path: Path, server: AdbServer) -> None:
    """Tens of thousands of MediaStore rows (megabytes of shell output) arrive whole and are parsed."""
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    (tmp_path / "sd").mkdir()
    media = [
        MediaRow(f"DCIM/Camera/IMG_{i:06d}.jpg", owner="com.example.camera", is_trashed=int(i % 7 == 0))
        for i in range(30_000)
    ]
    with PhoneDouble(tmp_path / "sd", media=media) as double:
        server.connect(double)
        try:
            rows, error = AndroidLiveEvidence(double.address).phone.media_rows()
        finally:
            server.disconnect(double)
    assert error is None and len(rows) == 30_000
    assert rows[-1].path == "/sdcard/DCIM/Camera/IMG_029999.jpg" and rows[-1].owner == "com.example.camera"
    assert sum(r.trashed for r in rows) == len(range(0, 30_000, 7))  # trashed rows too (includeTrashed=1)


def test_a_file_gone_since_listed_fails_alone(tmp_path: Path, server: AdbServer) -> None:
    """The phone answers FAIL for one file: that file's open error (the engine records it with its locator);
    the next file is read on another connection (adbd, like the double, ends its sync service after a FAIL)."""
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    root = tmp_path / "sd"
    (root / "DCIM").mkdir(parents=True)
    (root / "DCIM" / "a.jpg").write_bytes(jpeg(1))
    (root / "DCIM" / "b.jpg").write_bytes(jpeg(2))
    with PhoneDouble(root) as double:
        server.connect(double)
        try:
            evidence = AndroidLiveEvidence(double.address)
            first, second = list(evidence.items(lambda w: None))
            (root / "DCIM" / "a.jpg").unlink()
            with pytest.raises(FileNotFoundError):  # at open, as for a file system: a sibling lookup relies on it
                evidence.open(first.locator)
            with evidence.open(second.locator) as there:
                assert there.read() == jpeg(2)
            assert double.counters.recv == 1  # only b.jpg was sent; a.jpg's RECV was answered FAIL
        finally:
            server.disconnect(double)


@pytest.mark.slow
def test_a_phone_read_while_listed_records_what_a_whole_listing_does(
    tmp_path: Path, phone: tuple[PhoneDouble, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared storage is listed on a thread of its own while the first files are read (``LISTS_WHILE_READ``):
    the same items, digests, notes and locators, in the same order, as when it is listed whole first."""
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    double, expected = phone
    store = known_set(tmp_path, [(expected[f"{SDCARD}/DCIM/Camera/IMG_20240102_120000.jpg"], A)])
    listings = listing_threads(monkeypatch)
    found = {}
    for streamed in (False, True):
        monkeypatch.setattr(AndroidLiveEvidence, "LISTS_WHILE_READ", streamed)
        case = Case.create_or_open(tmp_path / f"case-{streamed}")
        outcome = run(double, case, store, workers=2)
        assert outcome.status is RunStatus.COMPLETED and outcome.hits == 1  # type: ignore[attr-defined]
        assert len(listings) == int(streamed)  # the listing thread was used only when the back-end allows it
        with case.sessions() as s:  # type: ignore[attr-defined]
            items = s.execute(
                select(
                    ItemRow.locator, ItemRow.size, ItemRow.md5, ItemRow.sha256, ItemRow.note, ItemRow.status
                ).order_by(ItemRow.id)
            ).all()
            warnings = s.execute(select(WarningRow.code, WarningRow.locator).order_by(WarningRow.id)).all()
        found[streamed] = ([tuple(r) for r in items], [tuple(r) for r in warnings])
    assert found[True] == found[False]
    assert {Locator.from_json(r[0]).leaf.value for r in found[True][0]} >= set(expected)


def listed(server: AdbServer, root: Path) -> tuple[list[Item], list[EvidenceWarning]]:
    """The items and warnings of a phone serving ``root``, listed over the real adb server."""
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    warnings: list[EvidenceWarning] = []
    with PhoneDouble(root) as double:
        server.connect(double)
        try:
            return list(AndroidLiveEvidence(double.address).items(warnings.append)), warnings
        finally:
            server.disconnect(double)


def test_a_folder_listing_past_the_limit_is_cut_with_a_warning_and_the_walk_goes_on(
    tmp_path: Path, server: AdbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone that lists more entries in a folder than any real one holds (a hostile adbd that never says DONE):
    the entries up to the limit are examined, the folder is warned about with its locator, and the next folder
    is listed on a fresh connection (the cut one still has the rest of the listing on its way)."""
    from safenet.evidence.phone import adb_sync

    monkeypatch.setattr(adb_sync, "MAX_LISTED", 5)
    root = tmp_path / "sd"
    for i in range(8):
        write(root, f"DCIM/IMG_{i}.jpg", jpeg(i))
    for i in range(5):  # exactly the limit: listed whole, not cut
        write(root, f"Pictures/kept_{i}.jpg", jpeg(20 + i))
    items, warnings = listed(server, root)
    paths = [item.locator.leaf.value for item in items]
    assert paths == [f"{SDCARD}/DCIM/IMG_{i}.jpg" for i in range(5)] + [
        f"{SDCARD}/Pictures/kept_{i}.jpg" for i in range(5)
    ]
    assert [(w.code, w.locator.leaf.value if w.locator else None) for w in warnings] == [
        ("unreadable", f"{SDCARD}/DCIM")
    ]
    assert "more than 5 entries in one folder" in warnings[0].message


def test_folders_nested_past_the_limit_are_not_entered(
    tmp_path: Path, server: AdbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safenet.evidence.phone import android_live

    monkeypatch.setattr(android_live, "MAX_DEPTH", 3)
    root = tmp_path / "sd"
    write(root, "DCIM/a/b/shallow.jpg", jpeg(1))
    write(root, "DCIM/a/b/c/deep.jpg", jpeg(2))
    items, warnings = listed(server, root)
    assert [item.locator.leaf.value for item in items] == [f"{SDCARD}/DCIM/a/b/shallow.jpg"]
    assert [(w.code, w.locator.leaf.value if w.locator else None, w.message) for w in warnings] == [
        ("unreadable", f"{SDCARD}/DCIM/a/b/c", "folders nested too deep: not entered")
    ]


def _sessions_opened(monkeypatch: pytest.MonkeyPatch) -> list[SyncSession]:
    """Every sync session opened from here on (listings cut after 5 entries)."""
    from safenet.evidence.phone import adb_sync
    from safenet.evidence.phone.adb_sync import SyncSession

    monkeypatch.setattr(adb_sync, "MAX_LISTED", 5)
    opened: list[SyncSession] = []
    init = SyncSession.__init__

    def tracked(self: SyncSession, *args: object, **kw: bool) -> None:
        init(self, *args, **kw)  # type: ignore[arg-type]
        opened.append(self)

    monkeypatch.setattr(SyncSession, "__init__", tracked)
    return opened


def _cut_tree(root: Path) -> Path:
    write(root, "DCIM/A_sub/a.jpg", jpeg(30))  # first in the listing: kept by the cut
    for i in range(8):
        write(root, f"DCIM/IMG_{i}.jpg", jpeg(i))
    return root


def test_a_broken_connection_after_a_cut_listing_closes_the_new_connection(
    tmp_path: Path, server: AdbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk replaces the connection a cut listing left unusable; if a later listing breaks, that replacement
    is closed too (it was the walk's own, which the caller never saw)."""
    from safenet.evidence.model import EvidenceError
    from safenet.evidence.phone.adb_sync import LinkBroken, SyncSession

    opened = _sessions_opened(monkeypatch)
    listing = SyncSession.list

    def breaking(self: SyncSession, path: str) -> list[Entry]:
        if path.endswith("/DCIM/A_sub"):  # listed after DCIM's cut listing, in the same walk
            raise LinkBroken("the adb server closed the connection")
        return listing(self, path)

    monkeypatch.setattr(SyncSession, "list", breaking)
    with pytest.raises((EvidenceError, OSError)):
        listed(server, _cut_tree(tmp_path / "sd"))
    assert len(opened) >= 2 and all(session.sock.fileno() == -1 for session in opened)  # closed, not only marked


def test_a_walk_stopped_early_after_a_cut_listing_closes_its_connection(
    tmp_path: Path, server: AdbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stops at its first hit closes the listing midway: the connection the walk opened in place of the
    cut one is closed, not left to the adb server."""
    from safenet.evidence.phone.android_live import AndroidLiveEvidence

    opened = _sessions_opened(monkeypatch)
    with PhoneDouble(_cut_tree(tmp_path / "sd")) as double:
        server.connect(double)
        try:
            walk = AndroidLiveEvidence(double.address).items(lambda w: None)
            next(walk)
            walk.close()
        finally:
            server.disconnect(double)
    assert len(opened) >= 2 and all(session.sock.fileno() == -1 for session in opened)  # closed, not only marked
