"""End to end: pictures kept only in browser caches and phone thumbnail stores are found by hash in the
standard profile (not in quick), and each finding reopens from its locator alone."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from safenet.case.records import ItemStatus
from safenet.case.store import Case
from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence.locator import LayerKind
from safenet.evidence.registry import open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, write, zip_bytes
from tests.engine.test_triage import Collect
from tests.evidence.browser_cache_builders import firefox_entry, simple_entry, thumbdata

A, C = 1, 3
FIREFOX = "Users/bob/AppData/Local/Mozilla/Firefox/Profiles/ab12.default/cache2/entries/"
CHROME = "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Cache/Cache_Data/"


def _exhibit(root: Path) -> tuple[VicsSet, dict[str, bytes]]:
    pictures = {"firefox": jpeg(70), "chrome": jpeg(71), "android": jpeg(72)}
    write(
        root,
        FIREFOX + "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
        firefox_entry(pictures["firefox"], ":https://x.example/f.jpg"),
    )
    write(
        root,
        CHROME + "0b1862f8e0d8319f_0",
        simple_entry(pictures["chrome"], "1/0/_dk_https://x.example https://x.example https://x.example/c.jpg"),
    )
    write(root, "sdcard/DCIM/.thumbnails/.thumbdata3--1967290299", thumbdata([jpeg(73), pictures["android"]]))
    known = VicsSet()
    known.add(pictures["firefox"], A)
    known.add(pictures["chrome"], C)
    known.add(pictures["android"], None)
    return known, pictures


def _triage(tmp_path: Path, root: Path, known: VicsSet, profile: Profile, name: str) -> tuple[Case, Collect, object]:
    store = HashSetStore(tmp_path / "hashdb")
    if not store.list():
        store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / name)
    events = Collect()
    options = TriageOptions(exhibit="EX1", profile=profile, hashsets=("caid-test",), operator="tester")
    return case, events, triage(root, case, store, options, events)  # type: ignore[arg-type]


def test_standard_profile_finds_cached_pictures_quick_does_not(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    known, pictures = _exhibit(root)
    _, quick, _ = _triage(tmp_path, root, known, Profile.QUICK, "quick")
    assert quick.hits == []  # a cache2 entry hashed whole (body + metadata) never matches
    _, events, outcome = _triage(tmp_path, root, known, Profile.STANDARD, "standard")
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert sorted(h.category for h in events.hits) == ["A", "C", "uncategorised"]
    evidence = open_source(root)
    wanted = {hashlib.md5(p).hexdigest() for p in pictures.values()}
    for hit in events.hits:
        assert hit.locator.leaf.kind is LayerKind.CACHE_ENTRY
        with open_locator(evidence, hit.locator) as stream:
            assert hashlib.md5(stream.read()).hexdigest() in wanted
    firefox = next(h for h in events.hits if h.locator.leaf.detail == "firefox-cache2")
    assert firefox.category == "A"


def test_firefox_entry_inside_a_zip_is_expanded_from_the_spooled_copy(tmp_path: Path) -> None:
    picture = jpeg(74)
    entry = firefox_entry(picture, "a,:https://x.example/z.jpg")
    path = write(tmp_path, "profile.zip", zip_bytes({FIREFOX + "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567": entry}))
    evidence = open_source(path)
    (item,) = evidence.items(lambda w: None)
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(Profile.STANDARD, ("md5",)))
    assert result.warnings == ()
    member, body = result.records[1:]
    assert member.filetype.name == "jpeg" and member.digests != body.digests
    assert body.parent == 1 and body.status is ItemStatus.EXAMINED and body.item.name == "z.jpg"
    assert body.digests == {"md5": hashlib.md5(picture).digest()}
    kinds = [layer.kind for layer in body.item.locator.layers]
    assert kinds[-2:] == [LayerKind.ARCHIVE_MEMBER, LayerKind.CACHE_ENTRY]
    with open_locator(evidence, body.item.locator) as stream:
        assert stream.read() == picture


def test_cache_record_pointing_outside_its_file_is_a_warning_and_the_item_is_still_hashed(tmp_path: Path) -> None:
    data = firefox_entry(jpeg(75), ":https://x.example/bad.jpg")
    path = write(tmp_path, FIREFOX + "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", data[:-4] + b"\xff\xff\xff\x00")
    evidence = open_source(tmp_path)
    (item,) = evidence.items(lambda w: None)
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(Profile.STANDARD, ("md5",)))
    assert [w.code for w in result.warnings] == ["cache-index-outside"]
    assert result.warnings[0].locator == item.locator
    (record,) = result.records
    assert record.status is ItemStatus.EXAMINED
    assert record.digests == {"md5": hashlib.md5(path.read_bytes()).digest()}
