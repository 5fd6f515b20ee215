"""Chrome caches read with their folder's other files (``registry.open_sibling``): bodies kept in the
block files ``data_2``/``data_3`` get the URL and creation time of their entry in ``data_1``, and simple
cache entries get their last-used time from ``index-dir/the-real-index``. Inside an archive (no
siblings) each file is read on its own, as before. Benign Pillow pictures only."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from safenet.case.records import ItemRecord
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind, Stage, StagePlan, WorkerSetup, open_stage
from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence.caches import cache_kind, expand_cache
from safenet.evidence.caches.chrome_simple import parse_index
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import Evidence, EvidenceError, EvidenceWarning, Item, TimeSource
from safenet.evidence.registry import SiblingNotFound, open_locator, open_sibling, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, write, zip_bytes
from tests.engine.test_triage import Collect
from tests.evidence.browser_cache_builders import BlockfileCache, simple_entry, simple_index

CHROME = "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Cache"
PREFIX = "1/0/_dk_https://a.example https://a.example "
LAST_USED = 13_360_000_123_000_000  # microseconds since 1601: 2024-05-12 (whole seconds, as Chrome keeps them)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _blockfile_cache(folder: Path) -> dict[str, bytes]:
    """A block-file cache with a body in data_1, data_2, data_3 and an f_ file, and one body left in
    data_2 whose entry record is gone (evicted): {url or "evicted": body}."""
    cache = BlockfileCache()
    bodies = {
        "https://a.example/tiny.png": png(4, (8, 8)),  # data_1
        "https://a.example/small.jpg": jpeg(1),  # data_2
        "https://a.example/mid.jpg": jpeg(3, (400, 300)),  # data_3
        "https://a.example/big.jpg": jpeg(6, (900, 700)),  # f_000001
    }
    for url, body in bodies.items():
        cache.add(url, body, key_prefix=PREFIX)
    bodies["evicted"] = jpeg(2)
    assert len(bodies["evicted"]) < 4096
    cache.data[2].add(bodies["evicted"], mark=False)
    cache.write(folder)
    return bodies


def _records(evidence: Evidence) -> tuple[list[ItemRecord], list[EvidenceWarning]]:
    """Every top-level item examined as the executors do (standard profile, MD5)."""
    items = list(evidence.items(lambda w: None))
    results = Stage(evidence, Settings(Profile.STANDARD, ("md5",))).run(items)
    records = [r for result in results for r in result.records]
    warnings = [w for result in results for w in result.warnings]
    return records, warnings


def _by_md5(records: list[ItemRecord]) -> dict[str, list[ItemRecord]]:
    out: dict[str, list[ItemRecord]] = {}
    for record in records:
        if record.digests is not None:
            out.setdefault(record.digests["md5"].hex(), []).append(record)
    return out


# --- open_sibling -----------------------------------------------------------------------------------------
def test_open_sibling_opens_files_of_the_folder_and_refuses_to_leave_it(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    write(root, "cache/data_2", b"two")
    write(root, "cache/data_1", b"one")
    write(root, "cache/index-dir/the-real-index", b"index")
    write(root, "secret", b"outside the folder")
    (root / "cache" / "linked").symlink_to(tmp_path)  # a linked folder out of the source
    write(tmp_path, "elsewhere", b"outside the source")
    evidence = open_source(root)
    item = next(i for i in evidence.items(lambda w: None) if i.name == "data_2")
    with open_sibling(evidence, item.locator, "data_1") as stream:
        assert stream.read() == b"one"
    with open_sibling(evidence, item.locator, "index-dir/the-real-index") as stream:
        assert stream.read() == b"index"
    for bad in ("../secret", "index-dir/../../secret", "/secret", "", "./data_1", "index-dir//x"):
        with pytest.raises(EvidenceError):
            open_sibling(evidence, item.locator, bad)
    with pytest.raises(EvidenceError, match="linked folder"):
        open_sibling(evidence, item.locator, "linked/elsewhere")
    with pytest.raises(SiblingNotFound):
        open_sibling(evidence, item.locator, "data_3")
    with pytest.raises(FileNotFoundError):
        open_sibling(evidence, item.locator, "data_3")
    # A file at the root of the exhibit: its siblings are the root's files, not files under its own name.
    root_file = next(i for i in evidence.items(lambda w: None) if i.name == "secret")
    with open_sibling(evidence, root_file.locator, "cache/data_1") as stream:
        assert stream.read() == b"one"


def test_open_sibling_refuses_what_is_not_a_file_in_a_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "cache.zip", zip_bytes({"Cache/data_2": b"two", "Cache/data_1": b"one"}))
    evidence = open_source(path)
    (item,) = evidence.items(lambda w: None)
    with pytest.raises(EvidenceError, match="single-file exhibit"):  # its folder is not evidence
        open_sibling(evidence, item.locator, "data_1")
    folder = open_source(tmp_path)  # the zip in a folder exhibit: a member has no siblings either
    (item,) = folder.items(lambda w: None)
    member = item.locator.child(Layer(LayerKind.ARCHIVE_MEMBER, "Cache/data_2"))
    with pytest.raises(EvidenceError, match="no siblings"):
        open_sibling(folder, member, "data_1")


# --- block-file cache -------------------------------------------------------------------------------------
def test_blockfile_bodies_in_data_2_and_3_get_their_url_and_are_reported_once(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    bodies = _blockfile_cache(root / CHROME)
    evidence = open_source(root)
    records, warnings = _records(evidence)
    found = _by_md5(records)
    for key, body in bodies.items():
        assert len(found[md5(body)]) == 1, f"{key} reported {len(found.get(md5(body), []))} times"
    for url in ("https://a.example/small.jpg", "https://a.example/mid.jpg"):
        (record,) = found[md5(bodies[url])]
        item = record.item
        assert item.locator.leaf.kind is LayerKind.CACHE_ENTRY and item.locator.leaf.detail == "chrome-blockfile"
        assert item.note is not None and f"URL {url}" in item.note and "entry in data_1 block" in item.note
        assert item.created is not None and item.created.source is TimeSource.CACHE
        assert item.created.value.year == 2024 and item.name == url.rsplit("/", 1)[1]
        with open_locator(evidence, item.locator) as stream:  # reopens from this file alone
            assert stream.read() == bodies[url]
    (evicted,) = found[md5(bodies["evicted"])]
    assert evicted.item.locator.leaf.kind is LayerKind.CACHE_ENTRY
    assert evicted.item.note is not None and "no entry record in data_1 points at it" in evicted.item.note
    assert evicted.item.created is None
    (tiny,) = found[md5(bodies["https://a.example/tiny.png"])]
    assert tiny.item.note is not None and "URL https://a.example/tiny.png" in tiny.item.note
    (big,) = found[md5(bodies["https://a.example/big.jpg"])]
    assert big.item.name == "f_000001" and big.item.locator.leaf.kind is LayerKind.PATH  # a plain file
    (elsewhere,) = [w for w in warnings if w.code == "cache-body-elsewhere"]
    assert elsewhere.message.startswith("1 cached bodies")
    assert "f_000001 <- https://a.example/big.jpg" in elsewhere.message
    assert "data_2" not in elsewhere.message and "data_3" not in elsewhere.message


@pytest.mark.parametrize("executor", [ExecutorKind.THREADS, ExecutorKind.PROCESSES])
def test_blockfile_triage_finds_every_body_once(tmp_path: Path, executor: ExecutorKind) -> None:
    root = tmp_path / "exhibit"
    bodies = _blockfile_cache(root / CHROME)
    known = VicsSet()
    for body in bodies.values():
        known.add(body, 1)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    options = TriageOptions(
        exhibit="EX1", profile=Profile.STANDARD, hashsets=("caid-test",), operator="tester", executor=executor
    )
    outcome = triage(root, case, store, options, events)
    assert outcome.status is RunStatus.COMPLETED
    evidence = open_source(root)
    got = Counter()
    for hit in events.hits:
        with open_locator(evidence, hit.locator) as stream:
            got[md5(stream.read())] += 1
    assert got == Counter(md5(body) for body in bodies.values())


def test_blockfile_stage_a_worker_process_opens_reads_siblings(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    bodies = _blockfile_cache(root / CHROME)
    stage = open_stage(WorkerSetup(root, StagePlan(Profile.STANDARD, ("md5",))))  # what each worker runs
    item = next(i for i in stage.evidence.items(lambda w: None) if i.name == "data_3")
    (result,) = stage.run([item])
    (record,) = _by_md5(list(result.records))[md5(bodies["https://a.example/mid.jpg"])]
    assert record.item.note is not None and "URL https://a.example/mid.jpg" in record.item.note


def test_blockfile_data_2_without_data_1_is_carved_as_before_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    bodies = _blockfile_cache(root / CHROME)
    (root / CHROME / "data_1").unlink()
    records, _ = _records(open_source(root))
    found = _by_md5(records)
    (small,) = found[md5(bodies["https://a.example/small.jpg"])]
    assert small.item.note is not None and "data_1 is not there" in small.item.note
    assert len(found[md5(bodies["evicted"])]) == 1


def test_blockfile_stale_record_for_the_same_blocks_yields_the_body_once(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    cache = BlockfileCache()
    body = jpeg(1)
    cache.add("https://a.example/new.jpg", body)
    # an evicted leftover record (not in data_1's bitmap) naming the same data_2 blocks
    old = bytearray(cache.data[1].blocks[-1])
    old[96 : 96 + 24] = b"https://a.example/old.jp"
    cache.data[1].add(bytes(old), mark=False)
    cache.write(root / CHROME)
    records, _ = _records(open_source(root))
    (record,) = _by_md5(records)[md5(body)]
    assert record.item.note is not None and "new.jpg" in record.item.note


def test_blockfile_cache_inside_a_zip_is_read_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    bodies = _blockfile_cache(folder)
    members = {f"Cache/{p.name}": p.read_bytes() for p in folder.iterdir()}
    path = write(tmp_path, "cache.zip", zip_bytes(members))
    evidence = open_source(path)
    (item,) = evidence.items(lambda w: None)
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(Profile.STANDARD, ("md5",)))
    found = _by_md5(list(result.records))
    for body in bodies.values():
        assert len(found[md5(body)]) == 1
    (small,) = found[md5(bodies["https://a.example/small.jpg"])]
    assert small.item.note is not None and "does not point back to" in small.item.note  # no URL: no siblings
    (elsewhere,) = [w for w in result.warnings if w.code == "cache-body-elsewhere"]
    assert elsewhere.message.startswith("3 cached bodies")


needs_tools = pytest.mark.skipif(
    not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing (make sysdeps-test)"
)


@needs_tools
def test_blockfile_siblings_through_a_fat_image(tmp_path: Path) -> None:
    folder = tmp_path / "Cache"
    bodies = _blockfile_cache(folder)
    image = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", "DISK", str(image)], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(image), "::/Cache"], check=True)
    for path in sorted(folder.iterdir()):
        subprocess.run(["mcopy", "-i", str(image), str(path), f"::/Cache/{path.name}"], check=True)
    evidence = open_source(image)
    records, _ = _records(evidence)
    (small,) = _by_md5(records)[md5(bodies["https://a.example/small.jpg"])]
    assert small.item.note is not None and "URL https://a.example/small.jpg" in small.item.note
    with open_locator(evidence, small.item.locator) as stream:
        assert stream.read() == bodies["https://a.example/small.jpg"]


# --- simple cache -----------------------------------------------------------------------------------------
def _simple_cache(root: Path, index: bytes | None) -> tuple[Evidence, dict[str, bytes]]:
    pictures = {"0b1862f8e0d8319f_0": jpeg(11), "1c2973a9f1e9420a_0": jpeg(12)}
    for name, body in pictures.items():
        write(root, f"{CHROME}/Cache_Data/{name}", simple_entry(body, f"{PREFIX}https://a.example/{name[:4]}.jpg"))
    if index is not None:
        write(root, f"{CHROME}/Cache_Data/index-dir/the-real-index", index)
    return open_source(root), pictures


def _simple_items(evidence: Evidence, name: str, siblings: bool = True) -> tuple[Item, list[EvidenceWarning]]:
    parent = next(i for i in evidence.items(lambda w: None) if i.name == name)
    kind = cache_kind(parent, "unknown")
    assert kind == "chrome-simple"
    warnings: list[EvidenceWarning] = []
    opener = partial(open_locator, evidence, parent.locator)
    found = list(
        expand_cache(
            parent,
            kind,
            opener,
            warnings.append,
            siblings=partial(open_sibling, evidence, parent.locator) if siblings else None,
        )
    )
    (item, _stream) = found[0]
    assert len(found) == 1
    return item, warnings


def test_simple_cache_entry_gets_its_last_used_time_from_the_index(tmp_path: Path) -> None:
    index = simple_index({0x0B1862F8E0D8319F: LAST_USED, 0x7777: LAST_USED + 5})
    evidence, _ = _simple_cache(tmp_path / "exhibit", index)
    item, warnings = _simple_items(evidence, "0b1862f8e0d8319f_0")
    assert warnings == []
    assert item.accessed is not None and item.accessed.source is TimeSource.CACHE
    assert item.accessed.value == datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=LAST_USED)
    assert item.accessed.value.isoformat() == "2024-05-12T15:08:43+00:00" and item.accessed.precision_s == 1.0
    assert item.note is not None and "last-used time (accessed) from index-dir/the-real-index" in item.note
    other, _ = _simple_items(evidence, "1c2973a9f1e9420a_0")  # not in the index
    assert other.accessed is None and other.note is not None and "not listed in" in other.note
    quiet, _ = _simple_items(evidence, "0b1862f8e0d8319f_0", siblings=False)
    assert quiet.accessed is None and quiet.note is not None and "not read" in quiet.note


def test_simple_cache_through_the_executor_stage(tmp_path: Path) -> None:
    evidence, pictures = _simple_cache(tmp_path / "exhibit", simple_index({0x1C2973A9F1E9420A: LAST_USED}))
    records, _ = _records(evidence)
    (record,) = _by_md5(records)[md5(pictures["1c2973a9f1e9420a_0"])]
    assert record.item.accessed is not None and record.item.accessed.value.year == 2024


@pytest.mark.parametrize(
    ("index", "said"),
    [
        (None, "no index-dir/the-real-index beside"),
        (simple_index({0x0B1862F8E0D8319F: LAST_USED})[:30], "too short"),
        (simple_index({0x0B1862F8E0D8319F: LAST_USED})[:60], "says"),
        (simple_index({0x0B1862F8E0D8319F: LAST_USED}, count=1 << 60), "has room for"),
        (simple_index({0x0B1862F8E0D8319F: LAST_USED}, version=5), "version 5"),
        (struct.pack("<II", 4088, 0) + bytes(4088), "no simple-index magic"),
    ],
)
def test_simple_cache_bad_or_missing_index_gives_no_time_and_says_why(
    tmp_path: Path, index: bytes | None, said: str
) -> None:
    evidence, _ = _simple_cache(tmp_path / "exhibit", index)
    item, warnings = _simple_items(evidence, "0b1862f8e0d8319f_0")
    assert warnings == [] and item.accessed is None
    assert item.note is not None and said in item.note


def test_simple_index_crc_mismatch_is_noted_and_the_time_kept(tmp_path: Path) -> None:
    evidence, _ = _simple_cache(tmp_path / "exhibit", simple_index({0x0B1862F8E0D8319F: LAST_USED}, crc=1))
    item, _ = _simple_items(evidence, "0b1862f8e0d8319f_0")
    assert item.accessed is not None and item.note is not None and "CRC-32 does NOT match" in item.note


def test_parse_index_bounds_a_huge_count() -> None:
    data = simple_index({1: LAST_USED}, count=(1 << 64) - 1)
    assert parse_index(data).times == {} and "has room for 1" in parse_index(data).problem
