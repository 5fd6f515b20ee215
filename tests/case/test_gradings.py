"""Examiner grading: roles, history, confirmation, the audit trail and the review queue.

The case is built by a real triage of benign generated pictures (safenet.demo.picture): two exact copies
of pictures in confirmed-scheme sets (trusted A and C), one picture in a VICS UK set (assumed codes:
indicative B), four unknown pictures, a benign corpus video and a text file.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safenet.case.gradings import (
    Grade,
    GradingConflict,
    GradingError,
    confirm_grading,
    confirm_gradings,
    current_gradings,
    grade_events,
    grade_items,
    grading_history,
    record_reveal,
    record_reveal_closed,
    undo_gradings,
)
from safenet.case.reviewqueue import review_queue
from safenet.case.schema import ItemRow
from safenet.case.store import Case, CaseError
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.tally import review_tally
from safenet.users import Role, User
from tests.builders import VicsSet, jpeg, write
from tests.datafiles import DATA
from tests.evidence.test_embedded import exif_app1, with_app1

VIDEO = DATA / "media" / "video" / "realshort.mp4"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXAMINER = User("alice", Role.EXAMINER, NOW)
EXAMINER2 = User("erin", Role.EXAMINER, NOW)
REVIEWER = User("bob", Role.REVIEWER, NOW)
VIEWER = User("vic", Role.VIEWER, NOW)
ADMIN = User("root", Role.ADMIN, NOW)


@dataclass
class Built:
    case: Case
    ids: dict[str, int]  # file name -> item id
    evidence: Path
    hashdb: Path


def build_case(tmp_path: Path, exhibit: str = "EX1", extra: dict[str, bytes] | None = None) -> Built:
    """Triage the standard small exhibit; ``extra`` adds files (name -> bytes) as unknown material."""
    store = HashSetStore(tmp_path / "db")
    for name, seed, category in (("ref-a", 1, "A"), ("ref-c", 2, "C")):
        write(tmp_path / "ref" / name, f"{seed}.jpg", jpeg(seed))
        store.build_folder(
            tmp_path / "ref" / name, name, kind=SetKind.ILLICIT, category=category, scheme="uk", warn=_no_warning
        )
    vics = VicsSet()
    vics.add(jpeg(3), 2)
    store.import_file(vics.write(tmp_path / "vics.json"), "vics", kind=SetKind.ILLICIT, warn=_no_warning)
    ev = tmp_path / "ev"
    write(ev, "trusted_a.jpg", jpeg(1))
    write(ev, "trusted_c.jpg", jpeg(2))
    write(ev, "indicative_b.jpg", jpeg(3))
    for seed in range(10, 14):
        write(ev, f"u{seed}.jpg", jpeg(seed))
    shutil.copy(VIDEO, ev / "clip.mp4")
    write(ev, "notes.txt", b"not a picture\n")
    for name, data in (extra or {}).items():
        write(ev, name, data)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit=exhibit, hashsets=("ref-a", "ref-c", "vics"), operator="DC Op", executor=ExecutorKind.INLINE
    )
    triage(ev, case, store, options)
    with case.sessions() as s:
        ids = {row.name: row.id for row in s.query(ItemRow)}
    return Built(case, ids, ev, tmp_path / "db")


def _no_warning(ref: str | None, message: str) -> None:
    raise AssertionError(f"unexpected warning {ref}: {message}")


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build_case(tmp_path)


def _names(built: Built, items: list[object]) -> set[str]:
    by_id = {v: k for k, v in built.ids.items()}
    return {by_id[i.item_id] for i in items}  # type: ignore[attr-defined]


def test_review_queue_hides_trusted_matches_unless_asked(built: Built) -> None:
    queue = review_queue(built.case)
    assert _names(built, queue) == {"indicative_b.jpg", "u10.jpg", "u11.jpg", "u12.jpg", "u13.jpg", "clip.mp4"}
    indicative = next(i for i in queue if i.item_id == built.ids["indicative_b.jpg"])
    assert (indicative.category, indicative.match_kind, indicative.trusted) == ("B", "exact", False)
    everything = review_queue(built.case, include_matched=True)
    trusted = {i.item_id: i for i in everything if i.trusted}
    assert set(trusted) == {built.ids["trusted_a.jpg"], built.ids["trusted_c.jpg"]}
    assert trusted[built.ids["trusted_a.jpg"]].category == "A"
    assert all(i.exhibit == "EX1" and not i.deleted and i.grade is None for i in everything)


def test_review_queue_filters(built: Built) -> None:
    assert _names(built, review_queue(built.case, media_kind="video")) == {"clip.mp4"}
    assert _names(built, review_queue(built.case, match_kind="exact")) == {"indicative_b.jpg"}
    assert len(review_queue(built.case, match_kind="none")) == 5
    assert review_queue(built.case, exhibit="EX2") == []
    assert review_queue(built.case, deleted=True) == []
    grade_items(built.case, [built.ids["u10.jpg"]], Grade.A, EXAMINER)
    assert _names(built, review_queue(built.case, category="A")) == {"u10.jpg"}
    # an indicative hit still needs an examiner's grade: it is "ungraded" until then, not "B" (defect 14)
    assert _names(built, review_queue(built.case, category="B")) == set()
    assert _names(built, review_queue(built.case, category="ungraded")) == {
        "indicative_b.jpg",
        "u11.jpg",
        "u12.jpg",
        "u13.jpg",
        "clip.mp4",
    }


def test_grading_supersedes_keeps_history_and_is_audited(built: Built) -> None:
    u10, u11 = built.ids["u10.jpg"], built.ids["u11.jpg"]
    first = grade_items(built.case, [u10, u11, u10], Grade.B, EXAMINER)
    assert [r.item_id for r in first] == [u10, u11] and all(r.examiner == "alice" for r in first)
    again = grade_items(built.case, [u10], Grade.B, EXAMINER)  # same grade, same examiner: nothing new
    assert len(grading_history(built.case, u10)) == 1 and again[0].at == first[0].at
    grade_items(built.case, [u10], Grade.A, EXAMINER2)
    history = grading_history(built.case, u10)
    assert [(r.grade, r.examiner) for r in history] == [(Grade.B, "alice"), (Grade.A, "erin")]
    current = current_gradings(built.case)
    assert current[u10].grade is Grade.A and current[u11].grade is Grade.B
    graded = [e["data"] for e in built.case.audit.entries() if e["event"] == "item-graded"]
    assert graded[-1] == {
        "row": history[-1].row_id,
        "at": history[-1].at.isoformat(),
        "item": u10,
        "grade": "A",
        "examiner": "erin",
        "role": "examiner",
        "previous": "B",
        "previous_examiner": "alice",
    }
    assert len(graded) == 3 and built.case.audit.verify().ok
    assert any(i.item_id == u10 and i.grade is Grade.A for i in review_queue(built.case))


def test_only_examiners_and_admins_grade(built: Built) -> None:
    u10 = built.ids["u10.jpg"]
    for user in (VIEWER, REVIEWER):
        with pytest.raises(GradingError, match="only examiners and admins may grade"):
            grade_items(built.case, [u10], Grade.C, user)
    assert grade_items(built.case, [u10], "non-indecent", ADMIN)[0].grade is Grade.NON_INDECENT  # type: ignore[arg-type]
    with pytest.raises(GradingError, match="unknown grade 'D'"):
        grade_items(built.case, [u10], "D", EXAMINER)  # type: ignore[arg-type]
    with pytest.raises(GradingError, match="not an image or video"):
        grade_items(built.case, [built.ids["notes.txt"]], Grade.C, EXAMINER)
    with pytest.raises(GradingError, match="item 99999 is not in this case"):
        grade_items(built.case, [u10, 99999], Grade.C, EXAMINER)
    with pytest.raises(GradingError, match="no items"):
        grade_items(built.case, [], Grade.C, EXAMINER)
    assert [r.grade for r in grading_history(built.case, u10)] == [Grade.NON_INDECENT]  # refused bulk wrote nothing


def test_confirmation_needs_a_second_person_with_the_right_role(built: Built) -> None:
    u12 = built.ids["u12.jpg"]
    with pytest.raises(GradingError, match="has no grade to confirm"):
        confirm_grading(built.case, u12, REVIEWER)
    grade_items(built.case, [u12], Grade.C, ADMIN)
    with pytest.raises(GradingError, match="only reviewers and admins"):
        confirm_grading(built.case, u12, EXAMINER)
    with pytest.raises(GradingError, match="a different person must confirm"):
        confirm_grading(built.case, u12, ADMIN)
    record_reveal(built.case, u12, REVIEWER, step="grey")
    record = confirm_grading(built.case, u12, REVIEWER)
    assert (record.grade, record.examiner, record.confirmed_by) == (Grade.C, "root", "bob")
    assert record.confirmed_at is not None
    with pytest.raises(GradingError, match="already confirmed by bob"):
        confirm_grading(built.case, u12, User("other", Role.ADMIN, NOW))
    assert current_gradings(built.case)[u12].confirmed_by == "bob"
    grade_items(built.case, [u12], Grade.B, EXAMINER)  # a new grade needs a new confirmation
    assert current_gradings(built.case)[u12].confirmed_by is None
    events = [e["event"] for e in built.case.audit.entries()]
    assert events.count("grading-confirmed") == 1


def test_reveals_are_audited_and_viewers_may_not_reveal(built: Built) -> None:
    u13 = built.ids["u13.jpg"]
    record_reveal(built.case, u13, EXAMINER)
    [entry] = [e for e in built.case.audit.entries() if e["event"] == "item-revealed"]
    assert entry["data"] == {"item": u13, "user": "alice", "role": "examiner", "step": "colour", "frame": None}
    assert entry["ts"]
    with pytest.raises(GradingError, match="viewers may not reveal"):
        record_reveal(built.case, u13, VIEWER)
    with pytest.raises(GradingError, match="not in this case"):
        record_reveal(built.case, 424242, REVIEWER)


def test_cases_from_before_grading_are_refused(built: Built, tmp_path: Path) -> None:
    built.case.close()
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(CaseError, match=r"schema version 2, written by an older Safenet.*examiner grading"):
        Case.open_existing(tmp_path / "case")


def test_a_bulk_grade_never_replaces_another_grade_unless_asked(built: Built) -> None:
    """Defect 3: a cluster/selection grade silently overwrote an existing A."""
    u10, u11 = built.ids["u10.jpg"], built.ids["u11.jpg"]
    grade_items(built.case, [u10], Grade.A, EXAMINER2)
    with pytest.raises(GradingConflict, match=r"item \d+ \(A by erin\)") as caught:
        grade_items(built.case, [u10, u11], Grade.NON_INDECENT, EXAMINER, overwrite=False)
    assert [(c.item_id, c.grade, c.examiner) for c in caught.value.conflicts] == [(u10, Grade.A, "erin")]
    assert set(current_gradings(built.case)) == {u10}  # nothing written
    grade_items(built.case, [u10, u11], Grade.A, EXAMINER, overwrite=False)  # the same grade is no conflict
    grade_items(built.case, [u10, u11], Grade.B, EXAMINER, overwrite=True)
    assert {i: r.grade for i, r in current_gradings(built.case).items()} == {u10: Grade.B, u11: Grade.B}


def test_undo_restores_the_state_before_with_a_new_audited_row(built: Built) -> None:
    u10, u11 = built.ids["u10.jpg"], built.ids["u11.jpg"]
    grade_items(built.case, [u10], Grade.A, EXAMINER2)
    record_reveal(built.case, u10, REVIEWER)
    confirm_grading(built.case, u10, REVIEWER)
    rows = grade_items(built.case, [u10, u11], Grade.C, EXAMINER)
    with pytest.raises(GradingError, match="only they may undo it"):
        undo_gradings(built.case, [rows[0].row_id or 0], EXAMINER2)
    undone = undo_gradings(built.case, [r.row_id or 0 for r in rows], EXAMINER)
    restored = {u.item_id: u.restored for u in undone}
    assert restored[u11] is None  # back to no examiner grade
    back = restored[u10]
    assert back is not None and (back.grade, back.examiner, back.confirmed_by) == (Grade.A, "erin", "bob")
    current = current_gradings(built.case)
    assert set(current) == {u10} and current[u10].grade is Grade.A
    assert [r.grade for r in grading_history(built.case, u10)] == [Grade.A, Grade.C, Grade.A]  # history kept
    assert [e.grade for e in grade_events(built.case, u11)] == ["C", "withdrawn"]
    assert grade_events(built.case, u11)[-1].undo_of == rows[1].row_id
    assert any(i.item_id == u11 and i.needs_grade for i in review_queue(built.case))
    with pytest.raises(GradingError, match="graded again after this grade"):
        undo_gradings(built.case, [rows[0].row_id or 0], EXAMINER)  # not the current row any more
    graded = [e["data"] for e in built.case.audit.entries() if e["event"] == "item-graded"]
    assert graded[-1]["undo_of"] == rows[1].row_id and graded[-1]["grade"] == "withdrawn"
    assert graded[-1]["row"] == undone[1].row_id and graded[-1]["undone_by"] == "alice"
    with pytest.raises(GradingError, match="only they may undo it"):
        undo_gradings(built.case, [undone[0].row_id], EXAMINER2)  # erin's grade restored, but alice's undo
    redo = undo_gradings(built.case, [undone[0].row_id], EXAMINER)  # undoing the undo gives C back
    assert redo[0].restored is not None and redo[0].restored.grade is Grade.C
    assert built.case.audit.verify().ok


def test_a_confirmation_needs_the_item_shown_to_the_confirmer_and_records_what_was_shown(built: Built) -> None:
    """Defect 5: reviewers confirmed whole selections from blurred thumbnails."""
    u12 = built.ids["u12.jpg"]
    grade_items(built.case, [u12], Grade.B, EXAMINER)
    record_reveal(built.case, u12, EXAMINER)  # shown to someone else: not enough
    with pytest.raises(GradingError, match=r"bob has not been shown item .*reveal it"):
        confirm_grading(built.case, u12, REVIEWER)
    assert current_gradings(built.case)[u12].confirmed_by is None
    record_reveal(built.case, u12, REVIEWER, step="large-blurred")
    record_reveal(built.case, u12, REVIEWER, step="grey")
    record_reveal_closed(built.case, u12, REVIEWER, "expired")
    confirm_grading(built.case, u12, REVIEWER)
    [entry] = [e["data"] for e in built.case.audit.entries() if e["event"] == "grading-confirmed"]
    assert entry["shown"]["step"] == "grey" and entry["confirmed_by"] == "bob" and entry["row"]
    closed = [e["data"] for e in built.case.audit.entries() if e["event"] == "reveal-closed"]
    assert closed == [{"item": u12, "user": "bob", "reason": "expired"}]
    with pytest.raises(GradingError, match="unknown reveal step"):
        record_reveal(built.case, u12, REVIEWER, step="huge")


def test_children_of_a_trusted_match_are_settled_with_it_and_labelled_by_source(tmp_path: Path) -> None:
    """Defect 8: the EXIF thumbnail of a trusted A was queued for review labelled "deleted"."""
    matched = with_app1(jpeg(1, (96, 72)), exif_app1(jpeg(50, (32, 24))))
    unknown = with_app1(jpeg(41, (96, 72)), exif_app1(jpeg(51, (32, 24))))
    store = HashSetStore(tmp_path / "db")
    write(tmp_path / "ref", "m.jpg", matched)
    store.build_folder(tmp_path / "ref", "ref-x", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=_no_warning)
    write(tmp_path / "ev", "matched.jpg", matched)
    write(tmp_path / "ev", "unknown.jpg", unknown)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit="EX1", hashsets=("ref-x",), operator="t", executor=ExecutorKind.INLINE, profile=Profile.STANDARD
    )
    triage(tmp_path / "ev", case, store, options)
    everything = {i.item_id: i for i in review_queue(case, include_matched=True)}
    children = {everything[i.parent_id].name: i for i in everything.values() if i.parent_id in everything}
    assert set(children) == {"matched.jpg", "unknown.jpg"}
    assert all(i.source == "embedded" and i.deleted is not None for i in children.values())
    settled, open_child = children["matched.jpg"], children["unknown.jpg"]
    assert settled.settled_by == settled.parent_id and not settled.needs_grade
    assert open_child.settled_by is None and open_child.needs_grade
    queue = {i.item_id for i in review_queue(case)}
    assert settled.item_id not in queue and open_child.item_id in queue
    assert {i.item_id for i in review_queue(case, source="embedded")} == {open_child.item_id}
    counts = review_tally(case)
    assert (counts["total"], counts["to_grade"], counts["ungraded"]) == (2, 2, 2)
    assert (counts["A"], counts["with-trusted-parent"]) == (1, 1)
    case.close()


def test_a_bulk_grade_undo_and_confirm_are_one_audit_write_each_and_verify(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2,000-item bulk grade took 248 s when every item's audit line was its own fsync and signed head."""
    from safenet.case import audit
    from safenet.cli import main

    ids = [built.ids[n] for n in ("u10.jpg", "u11.jpg", "u12.jpg", "u13.jpg", "clip.mp4")]
    for item in ids[:3]:
        record_reveal(built.case, item, REVIEWER)
    syncs: list[int] = []
    real_fsync = audit.os.fsync
    monkeypatch.setattr(audit.os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
    before = len(built.case.audit.entries())
    records = grade_items(built.case, ids, Grade.B, EXAMINER)
    assert len(syncs) == 2  # the log and its signed head, once for the whole grade
    lines = built.case.audit.entries()[before:]
    assert [e["event"] for e in lines] == ["item-graded"] * 5
    assert [e["data"]["item"] for e in lines] == ids and [e["data"]["row"] for e in lines] == [
        r.row_id for r in records
    ]
    assert [e["seq"] for e in lines] == list(range(before, before + 5))
    undone = undo_gradings(built.case, [r.row_id or 0 for r in records[3:]], EXAMINER)
    assert [u.restored for u in undone] == [None, None] and len(syncs) == 4
    confirmed, refused = confirm_gradings(built.case, ids, REVIEWER)
    assert [r.item_id for r in confirmed] == ids[:3] and len(syncs) == 6
    assert [item for item, _ in refused] == ids[3:]  # withdrawn by the undo: nothing to confirm
    head = built.case.audit.read_head()
    assert head is not None and head.seq == len(built.case.audit.entries()) - 1
    path = built.case.path
    built.case.close()
    assert main(["verify", str(path)]) == 0, capsys.readouterr().out
    # a bulk grade's middle line edited: the chain breaks there
    log = path / "audit.jsonl"
    raw = log.read_bytes().splitlines(keepends=True)
    raw[before + 2] = raw[before + 2].replace(b'"grade": "B"', b'"grade": "C"')
    log.write_bytes(b"".join(raw))
    assert main(["verify", str(path)]) != 0
    assert "chain broken" in capsys.readouterr().out


def test_a_video_grade_names_its_frames_in_the_row_audit_history_and_json_report(built: Built) -> None:
    import json

    import jsonschema

    from safenet.case.itemdetail import item_detail
    from safenet.report.data import report_data

    clip, still = built.ids["clip.mp4"], built.ids["u10.jpg"]
    with pytest.raises(GradingError, match="only a video or GIF grade names frames"):
        grade_items(built.case, [still], Grade.B, EXAMINER, frames=[0])
    with pytest.raises(GradingError, match="1 to 48 frames"):
        grade_items(built.case, [clip], Grade.B, EXAMINER, frames=[-1])
    [first] = grade_items(built.case, [clip], Grade.B, EXAMINER, frames=[3, 0, 3])
    assert first.frames == (0, 3)
    [again] = grade_items(built.case, [clip], Grade.B, EXAMINER, frames=[0, 3])
    assert again.row_id == first.row_id  # the same grade on the same frames: no new row
    [regraded] = grade_items(built.case, [clip], Grade.A, EXAMINER2)
    assert regraded.frames is None
    undo_gradings(built.case, [regraded.row_id or 0], EXAMINER2)  # restores alice's B on frames 0, 3
    lines = [e["data"] for e in built.case.audit.entries() if e["event"] == "item-graded"]
    assert [(d["grade"], d.get("frames")) for d in lines] == [("B", [0, 3]), ("A", None), ("B", [0, 3])]
    assert [e.frames for e in grade_events(built.case, clip)] == [(0, 3), None, (0, 3)]
    history = item_detail(built.case, clip)["grade_history"]
    assert history[0].startswith("B by alice") and "resting on frames 0, 3" in history[0]
    data = report_data(built.case)
    schema = json.loads((Path(__file__).parents[2] / "src/safenet/report/report.schema.json").read_text())
    jsonschema.validate(data, schema)
    [item] = [i for i in data["items"] if i["item_id"] == clip]
    grading = item["grading"]
    assert grading["grade"]["frames"] == [0, 3] and [g["frames"] for g in grading["superseded"]] == [[0, 3], None]
