"""The recorder's items rows (tuples bound in one executemany): every column as the case has always stored it.

Answer key: each value below is what the row dict bound through SQLAlchemy's column types stored before the
rows became tuples (times as UTC text, zone-less ones as written and flagged, booleans as 0/1, digests as hex,
names and codecs display-safe). The batch's audit digest is checked by ``verify`` against the rows read back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from safenet.analysis.filetype import TYPES
from safenet.analysis.video.model import VideoMeta
from safenet.case import integrity
from safenet.case.recorder import ITEM_COLUMNS, record_results
from safenet.case.records import ItemRecord, ItemStatus, PdqRecord, VideoRecord, WorkResult
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import Item, TimeSource, Timestamp
from tests.builders import jpeg, write


def test_item_columns_are_the_tables_in_digest_order() -> None:
    assert list(ITEM_COLUMNS) == integrity._kinds("items")[0]


@pytest.fixture
def started(tmp_path: Path) -> tuple[Case, int, int, Path]:
    """A case with one exhibit triaged (one file), so a batch can be added to its run."""
    write(tmp_path / "ev", "a.jpg", jpeg(1))
    case = Case.create_or_open(tmp_path / "case")
    outcome = triage(tmp_path / "ev", case, None, TriageOptions(exhibit="EX1", operator="tester"))
    return case, outcome.exhibit_id, outcome.run_id, tmp_path / "ev"


def _records(root: Path) -> WorkResult:
    source = Locator.source(str(root))
    archive = source.child(Layer(LayerKind.PATH, "/b\u202egpj.zip", inode=5))
    east = timezone(timedelta(hours=2))
    top = Item(
        archive,
        "b\u202egpj.zip",
        300,
        modified=Timestamp(datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), TimeSource.FS_STAT),
        accessed=Timestamp(datetime(2024, 5, 6, 9, 8, 9, tzinfo=east), TimeSource.FS_STAT),  # stored as UTC
        changed=None,
        created=Timestamp(datetime(2001, 1, 1, tzinfo=UTC), TimeSource.FS_STAT),
        note="a note\n",
    )
    member = Item(
        archive.child(Layer(LayerKind.ARCHIVE_MEMBER, "in/c.mp4", detail="zip")),
        "c.mp4",
        100,
        modified=Timestamp(datetime(2020, 2, 3, 4, 5, 6), TimeSource.ARCHIVE, 2.0, zone_known=False),
        deleted=True,
    )
    digests = {"md5": bytes(range(16)), "sha1": bytes(20), "sha256": bytes([1] * 32), "ed2k": bytes([2] * 16)}
    pdq = PdqRecord(bytes([3] * 32), 87, "too plain", ())
    meta = VideoMeta("mp4", "h264\x1b[31m", 640, 360, 12, None, None, None, 0, False)  # an int duration: REAL
    return WorkResult(
        (
            ItemRecord(top, TYPES["zip"], ItemStatus.EXAMINED, digests, True, pdq=pdq),
            ItemRecord(member, TYPES["mp4"], ItemStatus.PARTIAL, None, False, 0, video=VideoRecord((), meta, "end")),
        ),
        (),
        400,
    )


def test_rows_hold_every_field_as_bound(started: tuple[Case, int, int, Path]) -> None:
    case, exhibit_id, run_id, root = started
    result = _records(root)
    record_results(case, exhibit_id, run_id, [result])
    with case.engine.connect() as db:
        rows = db.execute(text(f"SELECT {', '.join(ITEM_COLUMNS)} FROM items ORDER BY id DESC LIMIT 2")).all()
    member, top = (dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows)
    assert top["locator"] == result.records[0].item.locator.to_json()
    assert top["display"] == str(result.records[0].item.locator)
    assert top["name"] == "b\\u202egpj.zip"
    assert _text(top["modified"]) == "2024-05-06 07:08:09.123456"
    assert _text(top["accessed"]) == "2024-05-06 07:08:09.000000"
    assert top["changed"] is None
    assert _text(top["created"]) == "2001-01-01 00:00:00.000000"
    assert (top["time_source"], bool(top["time_zone_known"])) == ("fs-stat", True)
    assert (top["md5"], top["sha1"]) == (bytes(range(16)).hex(), "00" * 20)
    assert (top["sha256"], top["ed2k"]) == ("01" * 32, "02" * 16)
    assert (top["pdq"], top["pdq_quality"], top["pdq_low_quality"]) == ("03" * 32, 87, "too plain")
    assert (top["filetype"], top["status"], bool(top["extension_mismatch"])) == ("zip", "examined", True)
    assert (top["note"], top["size"], top["parent_id"], top["run_id"]) == ("a note\n", 300, None, run_id)
    assert (bool(top["deleted"]), bool(top["carved"]), top["video_codec"]) == (False, False, None)
    assert member["parent_id"] == top["id"] == member["id"] - 1
    assert _text(member["modified"]) == "2020-02-03 04:05:06.000000"  # zone-less: as written, flagged
    assert (member["time_source"], bool(member["time_zone_known"])) == ("archive", False)
    assert (bool(member["deleted"]), member["md5"], member["status"]) == (True, None, "partial")
    assert (member["video_duration_s"], member["video_width"], member["video_height"]) == (12.0, 640, 360)
    assert member["video_codec"] == "h264\\x1b[31m"
    assert member["exhibit_id"] == exhibit_id
    outcome = verify_case(case)
    assert not [p for p in outcome.problems if "differ" in p or "edited" in p], outcome.problems


def _text(value: object) -> str:
    """A stored time as SQLite's text (PostgreSQL gives a datetime back)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    return str(value)


def test_one_timestamp_for_several_times_is_stored_in_each(started: tuple[Case, int, int, Path]) -> None:
    case, exhibit_id, run_id, root = started
    when = Timestamp(datetime(2023, 3, 4, 5, 6, 7, 890, tzinfo=UTC), TimeSource.FS_STAT)
    other = Timestamp(datetime(2023, 3, 4, 5, 6, 8, tzinfo=UTC), TimeSource.FS_STAT)
    item = Item(Locator.source(str(root)).child(Layer(LayerKind.PATH, "/t.bin")), "t.bin", 1, when, other, when)
    record = ItemRecord(item, TYPES["zip"], ItemStatus.EXAMINED, None, False)
    record_results(case, exhibit_id, run_id, [WorkResult((record,), (), 1)])
    with case.engine.connect() as db:
        row = db.execute(text("SELECT modified, accessed, changed, created FROM items ORDER BY id DESC LIMIT 1")).one()
    assert [None if v is None else _text(v) for v in row] == [
        "2023-03-04 05:06:07.000890",
        "2023-03-04 05:06:08.000000",
        "2023-03-04 05:06:07.000890",
        None,
    ]
