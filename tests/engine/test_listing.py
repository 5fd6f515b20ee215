"""Examining while the listing goes on (engine.listing, ordering.ranked): the first read comes before the
listing ends, and the case holds the same rows, in the same order, as a run that listed everything first."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.engine import listing
from safenet.engine.ordering import order, ranked
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence import directory
from safenet.evidence.directory import DirectoryEvidence
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item, WarningSink
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, write, zip_bytes


def _item(path: str, offset: int | None = None, partition: int | None = None) -> Item:
    locator = Locator.source("/ev")
    if partition is not None:
        locator = locator.child(Layer(LayerKind.PARTITION, "p1", offset=partition))
    return Item(locator.child(Layer(LayerKind.PATH, path, offset=offset)), path.rsplit("/", 1)[-1], 1)


def test_ranked_is_order_whatever_the_mix() -> None:
    paths = [
        "/Users/a/Pictures/x.jpg",
        "/Users/a/Pictures/y.txt",
        "/home/b/c.png",
        "/Windows/System32/d.jpg",
        "/usr/lib/e.so",
        "/data/f.jpg",
        "/data/g.bin",
        "/DCIM/h.mp4",
    ]
    rng = random.Random(20)
    for _ in range(200):
        items = [
            _item(rng.choice(paths), rng.choice([None, None, 0, 512, 4096]), rng.choice([None, 2048]))
            for _ in range(rng.randrange(0, 40))
        ]
        assert list(ranked(iter(items))) == order(items)


def test_a_hostile_negative_offset_ranks_as_zero() -> None:
    first = _item("/Users/a/x.jpg")  # first rank: no offset
    negative = _item("/Users/a/y.jpg", offset=-4096)
    assert order([first, negative]) == [first, negative] == list(ranked(iter([first, negative])))


def _tree(root: Path) -> VicsSet:
    known = VicsSet()
    for i in range(40):
        data = jpeg(i)
        write(root, f"Users/bob/Pictures/{i % 4}/p{i:02d}.jpg", data)
        if i % 9 == 0:
            known.add(data, 1)
    write(root, "Users/bob/Documents/notes.txt", png(50))
    write(root, "Users/bob/Downloads/pics.zip", zip_bytes({"a/inner.jpg": jpeg(60), "readme.txt": b"hi"}))
    known.add(jpeg(60), 2)
    write(root, "Windows/system.dll", b"MZ" + b"\0" * 500)
    write(root, "data/z.jpg", jpeg(70))
    write(root, "empty.jpg", b"")
    (root / "Users/bob/Pictures/link.jpg").symlink_to("/nonexistent")  # a listing warning
    return known


Counts = tuple[int, int, int, list[tuple[int, ...]]]  # recorded, hits, warnings, the run's items_planned


def _triage(
    tmp_path: Path, root: Path, known: VicsSet, name: str, **kw: object
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], Counts]:
    store = HashSetStore(tmp_path / "hashdb")
    if not store.list():
        store.import_file(known.write(tmp_path / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / name)
    options = TriageOptions(exhibit="EX1", profile=Profile.QUICK, hashsets=("s",), operator="t", **kw)  # type: ignore[arg-type]
    outcome = triage(root, case, store, options)
    with sqlite3.connect(tmp_path / name / "case.db") as db:
        items = db.execute("SELECT id, parent_id, locator, display, md5, status FROM items ORDER BY id").fetchall()
        warnings = db.execute("SELECT id, code, locator FROM warnings ORDER BY id").fetchall()
        planned = db.execute("SELECT items_planned FROM runs").fetchall()
    return items, warnings, (outcome.items_recorded, outcome.hits, outcome.warnings, planned)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_streamed_listing_records_what_a_whole_listing_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    root = tmp_path / "ev"
    known = _tree(root)
    monkeypatch.setattr(DirectoryEvidence, "LISTS_WHILE_READ", False)
    whole = _triage(tmp_path, root, known, "whole", workers=workers)
    monkeypatch.setattr(DirectoryEvidence, "LISTS_WHILE_READ", True)
    monkeypatch.setattr(listing, "FIRST_CHUNK", 3)  # many chunks, each handed over in small parts
    monkeypatch.setattr(listing, "HANDOVER", 2)
    streamed = _triage(tmp_path, root, known, "streamed", workers=workers)
    assert streamed == whole
    assert whole[2] == (45, 5, 1, [(45,)])  # 45 files, 5 hits, the dangling link


def test_the_first_read_comes_before_the_listing_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ev"
    known = _tree(root)
    read = threading.Event()
    waited: list[bool] = []
    real_open, real_items = directory.open_readonly, DirectoryEvidence.items

    def opened(path: Path | str) -> object:
        read.set()
        return real_open(path)

    def slow_listing(self: DirectoryEvidence, warn: WarningSink) -> Iterator[Item]:
        yield from real_items(self, warn)
        waited.append(read.wait(timeout=20))  # the listing ends only once a file was read (or gives up)

    monkeypatch.setattr(directory, "open_readonly", opened)
    monkeypatch.setattr(DirectoryEvidence, "items", slow_listing)
    monkeypatch.setattr(listing, "FIRST_CHUNK", 3)
    _, _, counts = _triage(tmp_path, root, known, "case", workers=2)
    assert waited == [True]
    assert counts == (45, 5, 1, [(45,)])


def test_stopped_at_the_first_hit_the_listing_still_counts_what_was_planned(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    known = _tree(root)
    _, _, counts = _triage(tmp_path, root, known, "case", workers=2, stop_at_first_hit=True)
    recorded, hits, _, planned = counts
    assert hits == 1 and planned == [(45,)] and recorded < 45


def test_a_listing_that_fails_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ev"
    _tree(root)
    real_items = DirectoryEvidence.items

    def broken(self: DirectoryEvidence, warn: WarningSink) -> Iterator[Item]:
        yield from list(real_items(self, warn))[:5]
        warn(EvidenceWarning("x", "y"))
        raise RuntimeError("listing broke")

    monkeypatch.setattr(DirectoryEvidence, "items", broken)
    case = Case.create_or_open(tmp_path / "case")
    with pytest.raises(RuntimeError, match="listing broke"):
        triage(root, case, None, TriageOptions(exhibit="EX1", operator="t", workers=2))
    run = case.last_run(1)
    assert run is not None and run.status == RunStatus.RUNNING  # resumable
