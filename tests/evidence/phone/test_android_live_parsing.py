"""Live Android over ADB, the parts that need no adb server: the scheme, MediaStore text, IMEI parcels."""

from __future__ import annotations

import pytest

from safenet.evidence.registry import DeviceAddress, as_source


def test_the_scheme_is_registered() -> None:
    assert as_source("android://R58M12ABCDE") == DeviceAddress("android", "R58M12ABCDE")


def test_mediastore_rows_are_split_by_column_names_not_commas() -> None:
    from safenet.evidence.phone.adb_device import imei_from_parcel, luhn_ok, parse_rows
    from tests.evidence.phone.adb_double import _imei_parcel

    columns = ("_data", "owner_package_name", "date_added", "datetaken", "is_trashed")
    text = (
        "Row: 0 _data=/storage/emulated/0/DCIM/a, b=c.jpg, owner_package_name=NULL, date_added=1700000000, "
        "datetaken=NULL, is_trashed=1\n"
        "Row: 1 _data=/storage/emulated/0/Pictures/x\ny.jpg, owner_package_name=com.whatsapp, date_added=NULL, "
        "datetaken=1700000000123, is_trashed=0\n"
        "Row: 2 _data=/data/user/0/com.example/private.jpg, owner_package_name=NULL, date_added=1, datetaken=NULL, "
        "is_trashed=0\n"
    )
    rows = parse_rows(text, columns)
    assert [(r.path, r.owner, r.trashed) for r in rows] == [
        ("/sdcard/DCIM/a, b=c.jpg", "", True),
        ("/sdcard/Pictures/x\ny.jpg", "com.whatsapp", False),
    ]  # the private file is not in shared storage: no row for it
    assert rows[0].added is not None and rows[0].added.year == 2023 and rows[1].taken is not None
    assert parse_rows("No result found.\n", columns) == []
    assert luhn_ok("490154203237518") and not luhn_ok("490154203237519")
    assert imei_from_parcel(_imei_parcel("490154203237518").decode()) == "490154203237518"
    assert imei_from_parcel(_imei_parcel(None).decode()) == ""


def test_notes_without_a_mediastore_row_come_from_the_trash_naming() -> None:
    from safenet.evidence.phone.android_live import note_for

    assert note_for(".trashed-1735000000-IMG_1.jpg", None) == "trashed on the device (file name .trashed-…)"
    assert note_for(".pending-1735000000-IMG_2.jpg", None) == (
        "pending on the device, not yet published (file name .pending-…)"
    )
    assert note_for("IMG_3.jpg", None) is None


def test_a_sync_reply_that_breaks_the_protocol_is_a_broken_link_not_a_file() -> None:
    """A phone (or anything on the port) answering out of protocol: an oversized chunk, an unknown reply, a name
    longer than any file name, or the connection ending mid-reply."""
    import socket
    import struct

    import pytest

    from safenet.evidence.phone.adb_sync import LinkBroken, SyncSession

    peers: list[socket.socket] = []  # kept open to take our requests; they only ever send ``data``

    def session_fed(data: bytes) -> SyncSession:
        ours, theirs = socket.socketpair()
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        peers.append(theirs)
        return SyncSession(ours, ls_v2=False, stat_v2=False)

    oversized = session_fed(b"DATA" + struct.pack("<I", 1 << 20))
    with pytest.raises(LinkBroken, match="DATA chunk"):
        oversized.recv("/sdcard/x.jpg").read()
    assert oversized.broken
    with pytest.raises(LinkBroken, match="unexpected sync reply"):
        session_fed(b"WHAT" + bytes(4)).recv("/sdcard/x.jpg").read()
    with pytest.raises(LinkBroken, match="longer than any file name"):
        session_fed(b"DENT" + struct.pack("<IIII", 0o100644, 1, 0, 1 << 20)).list("/sdcard/DCIM")
    with pytest.raises(LinkBroken, match="closed the connection"):
        session_fed(b"DATA" + struct.pack("<I", 100) + b"short").recv("/sdcard/x.jpg").read()
    failed = session_fed(b"FAIL" + struct.pack("<I", 25) + b"No such file or directory")
    with pytest.raises(FileNotFoundError):
        failed.recv("/sdcard/gone.jpg").read()
    # one file's failure, not the phone's; but adbd ends its sync service after a FAIL, so the connection is done
    assert failed.broken and not failed.busy
    for peer in peers:
        peer.close()


def test_each_server_state_gets_its_own_sentence() -> None:
    from safenet.evidence.phone.android_live import not_ready

    assert not_ready("S1", "device") is None
    said = {
        state: str(not_ready("S1", state)) for state in (None, "unauthorized", "offline", "authorizing", "recovery")
    }
    assert said[None].startswith("the adb server sees no phone with serial S1")
    assert said["unauthorized"] == (
        "the phone S1 has not authorised this computer: unlock it and accept the USB debugging prompt, then run again"
    )
    assert said["offline"].startswith("the phone S1 is offline")
    assert said["authorizing"].startswith("the phone S1 is still connecting (authorizing)")
    assert said["recovery"].startswith("the phone S1 is in the 'recovery' state")


@pytest.mark.parametrize("read_size", [1, 7, 4096, 65_536, 1 << 20, -1])
def test_a_file_of_many_chunks_reads_back_exact_whatever_the_read_sizes(read_size: int) -> None:
    """A read fills the caller's buffer across the file's DATA chunks: a file of many chunks of random sizes
    reads back exactly at any read size, and what follows the file's DONE is left for the next reply."""
    import random
    import socket
    import struct
    import threading

    from safenet.evidence.phone.adb_sync import SYNC_DATA_MAX, SyncSession

    rng = random.Random(read_size)
    data = rng.randbytes(1_500_000)
    wire = bytearray()
    at = 0
    while at < len(data):
        n = rng.randint(1, SYNC_DATA_MAX)
        wire += b"DATA" + struct.pack("<I", len(data[at : at + n])) + data[at : at + n]
        at += n
    wire += b"DONE" + bytes(4)
    wire += b"STAT" + struct.pack("<III", 0o100644, 1234, 1_700_000_000)  # the reply to the next request
    ours, theirs = socket.socketpair()
    feeder = threading.Thread(target=theirs.sendall, args=(bytes(wire),))
    feeder.start()
    try:
        session = SyncSession(ours, ls_v2=False, stat_v2=False)
        with session.recv("/sdcard/DCIM/big.jpg") as raw:
            got = bytearray()
            while chunk := (raw.read(read_size) if read_size > 0 else raw.readall()):
                got += chunk
            assert raw.finished
        assert bytes(got) == data and not session.busy and not session.broken
        entry = session.stat("/sdcard/DCIM/big.jpg")
        assert entry is not None and (entry.size, entry.mtime) == (1234, 1_700_000_000)
    finally:
        feeder.join()
        ours.close()
        theirs.close()
