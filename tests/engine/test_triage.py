"""End-to-end triage through the library API on generated evidence with a synthetic VICS set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.analysis.ed2k import ed2k, ed2k_link
from safenet.case.integrity import findings_digest
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.events import Hit
from safenet.engine.profiles import Profile
from safenet.engine.triage import OptionsError, RunStatus, TriageError, TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.summary import summarise
from tests.builders import VicsSet, jpeg, png, write, zip_bytes

# UK profile codes as shipped (vics-uk scheme): 1=A, 2=B, 3=C
A, B, C = 1, 2, 3


class Collect:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.planned_items = 0

    def planned(self, items: int, total_bytes: int) -> None:
        self.planned_items = items

    def advanced(self, items: int, bytes_read: int) -> None:
        pass

    def hit(self, hit: Hit) -> None:
        self.hits.append(hit)


@pytest.fixture
def exhibit(tmp_path: Path) -> tuple[Path, VicsSet]:
    root = tmp_path / "exhibit"
    known = VicsSet()
    for i in range(6):
        data = jpeg(i)
        write(root, f"Users/bob/Pictures/p{i}.jpg", data)
        if i < 3:
            known.add(data, [A, B, C][i])
    renamed = png(50)
    write(root, "Users/bob/Documents/notes.txt", renamed)
    known.add(renamed, C)
    inner = jpeg(60)
    write(root, "Users/bob/Downloads/pics.zip", zip_bytes({"a/inner.jpg": inner, "readme.txt": b"hi"}))
    known.add(inner, A)
    nested = jpeg(61)
    write(root, "Users/bob/Downloads/nested.zip", zip_bytes({"deeper.zip": zip_bytes({"x/nested.jpg": nested})}))
    known.add(nested, None)
    write(root, "Windows/system.dll", b"MZ" + b"\0" * 500)
    write(root, "empty.jpg", b"")
    return root, known


def _run(
    tmp_path: Path, root: Path, known: VicsSet, profile: Profile, name: str = "case", **kw: object
) -> tuple[Case, Collect, object]:
    store = HashSetStore(tmp_path / "hashdb")
    if not store.list():
        store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / name)
    events = Collect()
    outcome = triage(
        root,
        case,
        store,
        TriageOptions(exhibit="EX1", profile=profile, hashsets=("caid-test",), operator="tester", **kw),
        events,
    )  # type: ignore[arg-type]
    return case, events, outcome


def _counts(case: Case) -> dict[str, int]:
    total = summarise(case).total
    return {code: row.counts["total"] for code, row in total.items() if row.counts["total"]}


def test_quick_profile_matches_loose_media_and_leaves_archives_closed(
    tmp_path: Path, exhibit: tuple[Path, VicsSet]
) -> None:
    root, known = exhibit
    case, events, outcome = _run(tmp_path, root, known, Profile.QUICK)
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert _counts(case) == {"A": 1, "B": 1, "C": 2}
    assert sorted(h.category for h in events.hits) == ["A", "B", "C", "C"]
    renamed = next(h for h in events.hits if "notes.txt" in str(h.locator))
    assert renamed.hash_kind == "md5" and renamed.hashsets == ("caid-test",)
    summary = summarise(case).exhibits[0]
    assert summary.items["skipped"] >= 3  # zips, dll, empty file are typed but not hashed in quick
    assert any("archives were not opened" in note for note in summary.not_examined)


def test_standard_profile_opens_archives_recursively(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    case, events, _ = _run(tmp_path, root, known, Profile.STANDARD)
    assert _counts(case) == {"A": 2, "B": 1, "C": 2, "uncategorised": 1}
    nested = next(h for h in events.hits if "nested.jpg" in str(h.locator))
    assert nested.locator.archive_depth == 2
    assert str(nested.locator).endswith(" › deeper.zip › x/nested.jpg")
    assert "/Users/bob/Downloads/nested.zip (inode " in str(nested.locator)


def test_full_profile_hashes_everything(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    case, _, _ = _run(tmp_path, root, known, Profile.FULL)
    items = summarise(case).exhibits[0].items
    assert items["skipped"] == 0 and items["examined"] > 10


def test_same_evidence_gives_the_same_findings(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    first, _, o1 = _run(tmp_path, root, known, Profile.STANDARD, name="one")
    second, _, o2 = _run(tmp_path, root, known, Profile.STANDARD, name="two")
    assert findings_digest(first, o1.exhibit_id) == findings_digest(second, o2.exhibit_id)  # type: ignore[attr-defined]


def test_stop_at_first_hit_then_resume_without_duplicates(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    case, events, outcome = _run(tmp_path, root, known, Profile.STANDARD, stop_at_first_hit=True)
    assert outcome.status is RunStatus.STOPPED  # type: ignore[attr-defined]
    assert len(events.hits) == 1
    assert summarise(case).hits == 1
    assert any("not reached" in n for n in summarise(case).exhibits[0].not_examined)
    with pytest.raises(TriageError, match="--resume"):
        _run(tmp_path, root, known, Profile.STANDARD)
    case, events, outcome = _run(tmp_path, root, known, Profile.QUICK, resume=True)  # profile of the first run wins
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert _counts(case) == {"A": 2, "B": 1, "C": 2, "uncategorised": 1}
    assert case.audit.verify().ok
    with pytest.raises(TriageError, match="already triaged"):
        _run(tmp_path, root, known, Profile.STANDARD)


def test_resume_with_nothing_to_resume_is_refused(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    with pytest.raises(TriageError, match="no unfinished run"):
        _run(tmp_path, root, known, Profile.QUICK, resume=True)


def test_run_is_recorded_in_the_audit_log(tmp_path: Path, exhibit: tuple[Path, VicsSet]) -> None:
    root, known = exhibit
    case, _, _ = _run(tmp_path, root, known, Profile.QUICK)
    events = [e for e in case.audit.entries()]
    started = next(e for e in events if e["event"] == "triage-started")["data"]
    assert started["operator"] == "tester" and started["profile"] == "quick"
    assert started["hashsets"][0]["name"] == "caid-test" and len(started["hashsets"][0]["sha256"]) == 64
    assert started["tool_version"]
    finished = next(e for e in events if e["event"] == "triage-finished")["data"]
    assert finished["hits"] == 4 and finished["status"] == "completed"
    assert (case.path / "case.db").stat().st_mode & 0o077 == 0
    assert case.path.stat().st_mode & 0o077 == 0


def _digests_recorded(case: Case) -> set[tuple[bool, bool, bool]]:
    """(md5, sha1, sha256) present, per hashed item."""
    with case.sessions() as s:
        rows = s.execute(select(ItemRow.md5, ItemRow.sha1, ItemRow.sha256).where(ItemRow.sha256.is_not(None))).all()
    return {(bool(md5), bool(sha1), bool(sha256)) for md5, sha1, sha256 in rows}


def _one_entry_set(tmp_path: Path, kind: str, data: bytes) -> HashSetStore:
    """A hash set of one entry, as a ``<kind>sum`` listing (md5sum, sha1sum), or an ed2k:// link."""
    listing = tmp_path / f"known.{kind}"
    if kind == "ed2k":
        listing.write_text(ed2k_link("known.jpg", len(data), ed2k(data)) + "\n")
    else:
        listing.write_text(f"{hashlib.new(kind, data).hexdigest()}  known.jpg\n")
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(listing, f"{kind}-only", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return store


def _two_photos(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "exhibit"
    write(root, "DCIM/known.jpg", jpeg(1))
    write(root, "DCIM/other.jpg", jpeg(2))
    return root, jpeg(1)


@pytest.mark.parametrize(
    ("profile", "kind", "asked", "expected"),
    [
        (Profile.QUICK, "md5", None, (True, False, True, False)),  # MD5 + SHA-256: the set holds no SHA-1
        (Profile.QUICK, "sha1", None, (True, True, True, False)),  # SHA-1 too: the set holds it
        (Profile.QUICK, "ed2k", None, (True, False, True, True)),  # ED2K too: the set holds it
        (Profile.STANDARD, "md5", None, (True, True, True, False)),  # the lab profiles compute all three
        (Profile.FULL, "md5", None, (True, True, True, True)),  # and the full profile ED2K as well
        (Profile.QUICK, "md5", ("md5",), (True, False, False, False)),  # asked for: exactly that
    ],
)
def test_digests_follow_the_profile_and_the_hash_sets(
    tmp_path: Path,
    profile: Profile,
    kind: str,
    asked: tuple[str, ...] | None,
    expected: tuple[bool, bool, bool, bool],
) -> None:
    root, known = _two_photos(tmp_path)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=profile, hashsets=(f"{kind}-only",), algorithms=asked)
    outcome = triage(root, case, _one_entry_set(tmp_path, kind, known), options)
    assert outcome.hits == 1
    with case.sessions() as s:
        rows = s.execute(select(ItemRow.md5, ItemRow.sha1, ItemRow.sha256, ItemRow.ed2k)).all()
    assert len(rows) == 2 and {tuple(bool(v) for v in row) for row in rows} == {expected}
    computed = [n for n, on in zip(("md5", "sha1", "sha256", "ed2k"), expected, strict=True) if on]
    started = next(e for e in case.audit.entries() if e["event"] == "triage-started")["data"]
    assert started["config"]["algorithms"] == computed
    assert summarise(case).exhibits[0].runs[0]["digests"] == computed  # the report says which were computed


def test_digests_that_no_selected_set_holds_are_refused(tmp_path: Path) -> None:
    root, known = _two_photos(tmp_path)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", hashsets=("md5-only",), algorithms=("sha1", "sha256"))
    with pytest.raises(OptionsError, match="hash set md5-only holds md5 digests, which --digests leaves out; add md5"):
        triage(root, case, _one_entry_set(tmp_path, "md5", known), options)
    assert case.runs() == [] and case.exhibits() == []  # refused before anything was recorded
