"""Large regions carved as byte ranges (``engine.split``) record exactly what one whole carve records.

The evidence: a FAT16 volume whose free clusters hold benign pictures placed against the range boundaries
(the split size turned down to 1 MiB): a JPEG cut by a boundary, one whose header straddles one, one starting
exactly on one (inside the previous range's read-ahead), a truncated JPEG across one (a partial carve, which
skips nothing), and bitmaps crossing boundaries with pictures inside their pixel data at sector starts: the
whole carve skips those, a range starting inside the bitmap finds them, so the range is carved again.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from safenet.case.store import Case
from safenet.engine import executors, split
from safenet.engine.cluster import ClusterTarget
from safenet.engine.executors import (
    CRASH_CODE,
    ExecutorKind,
    InlineExecutor,
    Stage,
    WorkerSetup,
    batches,
    open_stage,
    run_ordered,
)
from safenet.engine.pipeline import Settings
from safenet.engine.profiles import Profile
from safenet.engine.split import Outcome, RegionRange, Splitting, Unit
from safenet.engine.triage import RunStatus, TriageOptions, TriageOutcome, triage
from safenet.evidence.carve import REGION, CarveLimits
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import Item, OpenContext
from safenet.evidence.registry import open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png
from tests.dasklocal import local_cluster
from tests.engine.daskcases import rows
from tests.engine.test_triage import Collect

pytestmark = pytest.mark.skipif(not shutil.which("mkfs.vfat"), reason="dosfstools missing (make sysdeps-test)")

MIB = 1 << 20
STEP = MIB  # the split size in these tests: ranges of 1 MiB
RANGES = 12  # of the 12 MiB volume's free space


def _bmp(size: int, inside: dict[int, bytes]) -> bytes:
    """A valid 24-bit bitmap of about ``size`` bytes whose pixel bytes hold ``inside`` (offset in the file)."""
    width = 256
    height = max(1, (size - 54) // (width * 3))
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buf, format="BMP")
    data = bytearray(buf.getvalue())
    assert struct.unpack("<I", data[2:6])[0] == len(data)
    for at, blob in inside.items():
        assert at >= 54 and at + len(blob) <= len(data)
        data[at : at + len(blob)] = blob
    return bytes(data)


def _layout() -> dict[int, bytes]:
    """Region offset -> bytes written there (offsets on the 512-byte sector grid the region is carved on)."""
    place: dict[int, bytes] = {}
    for k in (0, 1, 2, 3, 4, 7, 8, 9):  # an ordinary picture in the middle of each range not inside the bitmap
        place[k * STEP + 200 * 512] = jpeg(100 + k, (96, 64)) if k % 2 else png(100 + k)
    place[1 * STEP - 8192] = jpeg(1, (1024, 768))  # cut by boundary 1 (30 KB)
    place[2 * STEP - 512] = jpeg(2, (640, 480))  # its header straddles boundary 2
    place[3 * STEP] = jpeg(3, (320, 240))  # starts on boundary 3: in range 2's read-ahead, owned by range 3
    # a bitmap across boundary 4, with a JPEG in its pixels just after the boundary: not carved by a whole scan
    place[4 * STEP - 16384] = _bmp(64 * 1024, {16384 + 4096: jpeg(4, (64, 48))})
    # a bitmap across two boundaries (5 and 6) with pictures inside after each
    big = 5 * STEP - 4096
    place[big] = _bmp(int(1.8 * MIB), {5 * STEP + 8192 - big: png(5), 6 * STEP + 512 - big: jpeg(6, (64, 48))})
    truncated = jpeg(7, (640, 480))
    place[7 * STEP - 1024] = truncated[:3000]  # a partial carve across boundary 7: it skips nothing
    place[7 * STEP + 2560] = jpeg(8, (64, 48))
    place[8 * STEP + 512] = jpeg(9, (200, 150))
    return place


def _known() -> list[bytes]:
    return [jpeg(1, (1024, 768)), jpeg(3, (320, 240)), jpeg(4, (64, 48)), jpeg(9, (200, 150)), jpeg(107, (96, 64))]


def _fat_image(path: Path) -> Path:
    image = path / "stick.img"
    subprocess.run(["truncate", "-s", "12M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", "STICK", str(image)], check=True, capture_output=True)
    raw = bytearray(image.read_bytes())
    sector, _, reserved, fats, roots, _, _, fat_sectors = struct.unpack("<HBHBHHBH", raw[11:24])
    data_start = (reserved + fats * fat_sectors) * sector + roots * 32  # cluster 2: the first free byte
    for offset, blob in _layout().items():
        raw[data_start + offset : data_start + offset + len(blob)] = blob
    image.write_bytes(bytes(raw))
    return image


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("split")
    image = _fat_image(base)
    known = VicsSet()
    for data in _known():
        known.add(data, 1)
    store = HashSetStore(base / "db")
    store.import_file(known.write(base / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    return image, base / "db"


def _region(image: Path) -> tuple[Item, bytes]:
    source = open_source(image, OpenContext(unallocated=True))
    (region,) = [
        i for i in source.items(lambda w: None) if i.locator.leaf.detail == REGION and i.name == "$Unallocated"
    ]
    with open_locator(source, region.locator) as stream:
        return region, stream.read()


def test_the_pictures_lie_where_the_ranges_cut(evidence: tuple[Path, Path]) -> None:
    region, data = _region(evidence[0])
    assert region.size == len(data) and -(-len(data) // STEP) == RANGES
    for offset, blob in _layout().items():
        assert data[offset : offset + len(blob)] == blob


class _Counting(InlineExecutor):
    """The inline stage with splitting turned on, counting the ranges it is given (first carves and again)."""

    def __init__(self, stage: Stage, splitting: Splitting | None) -> None:
        super().__init__(stage)
        self.splitting = splitting
        self.ranges: list[RegionRange] = []

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        self.ranges.extend(u for u in batch if isinstance(u, RegionRange))
        return super().submit(batch, bytes_only)


@pytest.mark.parametrize(
    ("window", "max_carves"),
    [
        (16 * MIB, 1_000_000),  # ranges shorter than a window: on the sector grid
        (256 * 1024, 1_000_000),  # ranges of four windows
        (16 * MIB, 9),  # the carve limit falls in a later range
        (256 * 1024, 1),  # ... in the first
    ],
)
def test_a_split_region_gives_the_whole_carve_result_for_result(
    evidence: tuple[Path, Path], window: int, max_carves: int
) -> None:
    image, _ = evidence
    source = open_source(image, OpenContext(unallocated=True))
    items = list(source.items(lambda w: None))
    limits = CarveLimits(window=window, alignment=512, max_carves=max_carves)
    stage = Stage(source, Settings(Profile.FULL, ("md5", "sha1"), carve=limits))
    whole = _Counting(stage, None)
    expected = list(run_ordered(whole, items))
    assert not whole.ranges
    parts = _Counting(stage, Splitting(limits, STEP))
    got = list(run_ordered(parts, items))
    assert [r.records[0].item for r in got] == items
    assert got == expected  # records (items, digests, parents, types), warnings, bytes read: all equal
    assert len({r.span.start for r in parts.ranges}) == RANGES
    carved = [r for result in expected for r in result.records if r.item.carved]
    if max_carves > 100:
        assert len(parts.ranges) == RANGES + 3  # ranges 4, 5 and 6 start inside a bitmap: carved again
        assert [r.item.locator.leaf.offset for r in carved] == sorted(_layout())  # nothing inside the bitmaps
    else:
        assert len(carved) == max_carves
        assert [w.code for result in got for w in result.warnings].count("carve-limit") == 1


def _triage(source: Path, case_dir: Path, db: Path, executor: ExecutorKind, **kw: Any) -> tuple[Case, TriageOutcome]:
    case = Case.create_or_open(case_dir)
    options = TriageOptions(
        exhibit="EX1", profile=Profile.FULL, hashsets=("s",), operator="t", executor=executor, workers=2, **kw
    )
    return case, triage(source, case, HashSetStore(db), options, Collect())


@pytest.fixture(scope="module")
def reference(evidence: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    image, db = evidence
    case, _ = _triage(image, tmp_path_factory.mktemp("whole") / "case", db, ExecutorKind.INLINE)
    expected = rows(case)
    assert len(expected["findings"]) == 4  # the picture inside a bitmap is not carved
    return expected


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(split, "SPLIT_BYTES", STEP)
    yield


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("small_ranges")
def test_worker_processes_record_the_unsplit_case(
    tmp_path: Path, evidence: tuple[Path, Path], reference: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    image, db = evidence
    seen: list[int] = []
    plan = split.plan

    def counted(items: Sequence[Item], splitting: Splitting | None) -> list[Unit]:
        units = plan(items, splitting)
        seen.append(sum(isinstance(u, RegionRange) for u in units))
        return units

    monkeypatch.setattr(executors, "plan", counted)
    case, outcome = _triage(image, tmp_path / "case", db, ExecutorKind.PROCESSES)
    assert outcome.status is RunStatus.COMPLETED
    assert sum(seen) == RANGES  # (triage may plan the listing in several chunks)
    assert rows(case) == reference


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("small_ranges")
def test_a_dask_cluster_records_the_unsplit_case(
    tmp_path: Path, evidence: tuple[Path, Path], reference: dict[str, list[Any]]
) -> None:
    image, db = evidence
    with local_cluster() as local:
        case, outcome = _triage(
            image, tmp_path / "case", db, ExecutorKind.DASK, cluster=ClusterTarget(local.scheduler_address)
        )
    assert outcome.status is RunStatus.COMPLETED
    assert rows(case) == reference


CRASH_RANGE = 2  # the range [2 MiB, 3 MiB): the JPEG straddling boundary 2 starts in range 1 and is kept


class _CrashingRange(Stage):
    def run(self, batch: Sequence[Unit]) -> list[Outcome]:
        if any(isinstance(u, RegionRange) and u.index == CRASH_RANGE for u in batch):
            os._exit(3)  # as a decoder crashing on hostile data would
        return super().run(batch)


def crashing_range(setup: WorkerSetup) -> Stage:
    stage = open_stage(setup)
    return _CrashingRange(stage.evidence, stage.settings)


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("small_ranges")
def test_a_range_that_kills_its_worker_twice_is_a_warning_and_the_other_ranges_are_kept(
    tmp_path: Path, evidence: tuple[Path, Path], reference: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    image, db = evidence
    monkeypatch.setattr(executors, "open_stage", crashing_range)
    case, outcome = _triage(image, tmp_path / "case", db, ExecutorKind.PROCESSES)
    assert outcome.status is RunStatus.COMPLETED
    got = rows(case)
    lost = [row for row in reference["items"] if _carved_at(row[2]) in range(2 * STEP, 3 * STEP)]
    assert len(lost) == 1  # the picture in the middle of range 2 (the JPEG straddling boundary 2 is range 1's)
    assert [row[2:] for row in got["items"]] == [row[2:] for row in reference["items"] if row not in lost]
    crash = [w for w in got["warnings"] if w[0] == CRASH_CODE]
    assert len(crash) == 1 and "$Unallocated" in crash[0][1]
    assert f"bytes {2 * STEP:,} to {3 * STEP:,} of this region died twice" in crash[0][2]
    assert [w for w in got["warnings"] if w[0] != CRASH_CODE] == reference["warnings"]
    assert len(got["findings"]) == len(reference["findings"])  # no known picture starts in range 2


def _carved_at(locator: str) -> int | None:
    """The offset of a carve named by a locator (JSON) directly under the region, else None."""
    layers = json.loads(locator)
    leaf = layers[-1]
    if leaf.get("kind") != "carved" or layers[-2].get("detail") != REGION:
        return None
    return int(leaf["offset"])


def test_ranges_fall_on_carve_windows_or_the_sector_grid() -> None:
    sectors = CarveLimits(alignment=512)
    assert Splitting(sectors, 1000).step() == 512
    assert Splitting(sectors, MIB).step() == MIB  # below a window: on the sector grid
    assert Splitting(sectors, 20 * MIB).step() == 16 * MIB  # whole windows
    assert Splitting(sectors).step() == split.SPLIT_BYTES
    source = Locator.source("/ev.img")
    region = Item(source.child(Layer(LayerKind.PATH, "$Unallocated", detail=REGION)), "$Unallocated", 5 * MIB // 2)
    parts = Splitting(sectors, MIB).ranges(region)
    assert [(p.span.start, p.span.stop, p.index, p.count) for p in parts] == [
        (0, MIB, 0, 3),
        (MIB, 2 * MIB, 1, 3),
        (2 * MIB, 5 * MIB // 2, 2, 3),
    ]
    assert Splitting(sectors, 3 * MIB).ranges(region) == ()  # not larger than the split size
    a_file = Item(source.child(Layer(LayerKind.PATH, "big.bin")), "big.bin", 5 * MIB)
    assert Splitting(sectors, MIB).ranges(a_file) == ()  # only regions are split
    small = [Item(source.child(Layer(LayerKind.PATH, f"{i}.jpg")), f"{i}.jpg", 100) for i in range(4)]
    units = split.plan([small[0], small[1], region, small[2], small[3]], Splitting(sectors, MIB))
    assert list(batches(units, 64, 16 * MIB)) == [(small[0], small[1]), *((p,) for p in parts), (small[2], small[3])]


def test_a_worker_is_handed_the_regions_runs_and_does_not_list_the_file_system(
    evidence: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker (process or cluster) that examines a region gets its runs with the task (``reading_hints``):
    it carves what the listing process carves, without listing every file again to work them out."""
    image, _ = evidence
    listed = open_source(image, OpenContext(unallocated=True))
    items = list(listed.items(lambda w: None))
    region = next(i for i in items if i.locator.leaf.detail == REGION and i.name == "$Unallocated")
    plan = executors.StagePlan(Profile.FULL, ("md5", "sha1"))
    here = Stage(listed, executors.settings_for(plan, None))
    expected = here.run([region])
    file = Item(region.locator.parent.child(Layer(LayerKind.PATH, "DCIM/1.jpg", inode=9)), "1.jpg", 10)  # type: ignore[union-attr]
    hints = executors.reading_hints(listed, [region, file, RegionRange(region, split.CarveSpan(0, STEP), 0, 2)])
    assert [locator for locator, _ in hints] == [region.locator]  # once for region and range; no file
    assert executors.reading_hints(listed, [file]) == () and executors.reading_hints(None, [region]) == ()

    worker = open_stage(WorkerSetup(image, plan, OpenContext(unallocated=True)))
    from safenet.evidence.image import tsk

    def no_listing(*args: object, **kw: object) -> Iterator[Item]:
        raise AssertionError("the worker listed the file system again")

    monkeypatch.setattr(tsk.TskFileSystem, "items", no_listing)
    with pytest.raises(AssertionError):  # without the runs, the worker would have to list
        open_stage(WorkerSetup(image, plan, OpenContext(unallocated=True))).run([region])
    worker.adopt(hints)
    assert worker.run([region]) == expected
