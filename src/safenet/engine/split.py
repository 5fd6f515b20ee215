"""Large regions carved as byte ranges on several workers, and put back together as if carved whole.

Why: one unallocated region of a disk image can hold most of its bytes; as one task it runs on one worker
while the others wait. When the executor is parallel (worker processes, a Dask cluster), a region larger
than ``SPLIT_BYTES`` is examined as consecutive ``RegionRange`` s, one task each (``executors.run_ordered``).
Each range carves the files *starting* inside it and reads past its end as far as a file needs, so a file
crossing a boundary is carved whole, once, by the range holding its first byte (``carve.CarveSpan``).

Why the result is exactly the unsplit one: the carver skips candidates inside a whole file it found (an
EXIF thumbnail is not carved twice), so what a range finds depends on the ranges before it. Ranges are
carved at once without that state (``skip_until`` 0); ``Rejoin`` takes their results in order, tracks
the true state (where the last whole file ends, how many files were carved), and accepts a range's carves
only when they cannot differ from the unsplit scan's: none starts inside a file carved before, the carve
limit is not crossed, and the range did not stop on an error. Otherwise (rare: a file found inside a
boundary-crossing file, the limit, a read error) the range is carved again with the true state, which
gives the unsplit scan's carves by construction. The accepted records follow the one region record in
offset order, their parent links and P2P sources renumbered, so the case holds the same items, ids,
links and warnings as an unsplit run.

Long videos are split by time (``engine.videosplit``): the worker examining a top-level video of several
segments leaves its frames pending, and ``Rejoin`` sends the segments as tasks and merges them back under the
video's record with the function every run uses (the video algorithm is itself segmented:
``analysis.video.hasher``), so the record is the one an inline run makes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from safenet.analysis.filetype import UNKNOWN
from safenet.analysis.video.model import SegmentHash
from safenet.case.records import ItemRecord, ItemStatus, P2PFound, WorkResult
from safenet.engine.videosplit import VideoJoin, VideoSegment, VideoSplitting
from safenet.evidence.carve import PARTIAL, CarveLimits, CarveSpan, is_region
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceWarning, Item

#: Regions larger than this are carved as byte ranges of about this size (rounded to the carve window),
#: one task each, when the executor is parallel (read at each run: tests turn it down). 256 MiB: a scan of
#: zeros or of data without signatures runs at 1-3 GB/s, so a range is a task of a few tenths of a second or
#: more, which the per-task cost (the worker reopening the region, a result round trip) does not outweigh.
SPLIT_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class RegionRange:
    """One task's share of a split region: the region item and the byte range of it to carve."""

    region: Item
    span: CarveSpan
    index: int  # 0 .. count - 1, in offset order
    count: int

    def limits(self, limits: CarveLimits) -> CarveLimits:
        """``limits`` restricted to this range."""
        return dataclasses.replace(limits, span=self.span)


#: What one task examines: a top-level item, a range of a split region, or a time segment of a long video.
Unit = Item | RegionRange | VideoSegment
#: What a task gives back per unit: an item's (or a range's) result, or a video segment's hashes.
Outcome = WorkResult | SegmentHash


@dataclass(frozen=True, slots=True)
class Splitting:
    """Which regions a run splits (larger than ``every`` bytes) and the carve limits its workers scan with."""

    limits: CarveLimits
    every: int = SPLIT_BYTES

    def step(self) -> int:
        """The range length: ``every`` rounded down to whole carve windows (or, below one window, to the sector
        grid), so that each range's scan sees the candidates the whole scan sees (``carve.carve``)."""
        grain = self.limits.window if self.every >= self.limits.window else max(1, self.limits.alignment)
        return max(grain, self.every // grain * grain)

    def ranges(self, region: Item) -> tuple[RegionRange, ...]:
        """``region`` as ranges, or () when it is not split."""
        size = region.size
        if size is None or size <= self.every or not is_region(region):
            return ()
        step = self.step()
        starts = range(0, size, step)
        count = len(starts)
        return tuple(
            RegionRange(region, CarveSpan(start, min(start + step, size)), index, count)
            for index, start in enumerate(starts)
        )


def plan(items: Sequence[Item], splitting: Splitting | None) -> list[Unit]:
    """The tasks' units: each item, except a region to split, which becomes its ranges."""
    if splitting is None:
        return list(items)
    units: list[Unit] = []
    for item in items:
        units.extend(splitting.ranges(item) or (item,))
    return units


@dataclass(slots=True)
class _Joined:
    """One region's merged result so far, and the unsplit scan's state at the end of the ranges taken."""

    region: Item
    records: list[ItemRecord] = field(default_factory=list)
    warnings: list[EvidenceWarning] = field(default_factory=list)
    p2p: list[P2PFound] = field(default_factory=list)
    bytes_read: int = 0
    skip_until: int = 0  # where the last whole file carved ends
    carved: int = 0  # files carved so far
    stopped: bool = False  # the scan stopped (carve limit, read error, region unreadable): later ranges dropped

    def again(self, part: RegionRange, result: WorkResult, max_carves: int) -> RegionRange | None:
        """``part`` to carve again with the true state, or None when ``result`` is what the unsplit scan found."""
        span = part.span
        if span.skip_until == self.skip_until and span.carved_before == self.carved:
            return None  # carved with the true state
        carves = list(_carves(result))
        if (
            any(offset < self.skip_until for offset, _, _ in carves)
            or self.carved + len(carves) > max_carves
            or _stopped(self.region, result)
        ):
            return dataclasses.replace(
                part, span=dataclasses.replace(span, skip_until=self.skip_until, carved_before=self.carved)
            )
        return None

    def add(self, result: WorkResult) -> None:
        records = result.records
        if not records:  # pragma: no cover - a region's result always starts with the region's record
            return
        if not self.records:
            self.records.append(records[0])
        base = len(self.records) - 1  # where this result's record 1 goes, less one

        def moved(index: int) -> int:
            return 0 if index == 0 else base + index

        self.records.extend(
            dataclasses.replace(r, parent=moved(r.parent)) if r.parent is not None else r for r in records[1:]
        )
        self.p2p.extend(dataclasses.replace(f, source=moved(f.source)) for f in result.p2p)
        self.warnings.extend(result.warnings)
        self.bytes_read += result.bytes_read
        for offset, length, whole in _carves(result):
            self.carved += 1
            if whole:
                self.skip_until = offset + length
        self.stopped = _stopped(self.region, result)

    def result(self) -> WorkResult:
        records = self.records or [ItemRecord(self.region, UNKNOWN, ItemStatus.UNREADABLE, None, False)]
        return WorkResult(tuple(records), tuple(self.warnings), self.bytes_read, tuple(self.p2p))


def _carves(result: WorkResult) -> Iterator[tuple[int, int, bool]]:
    """(offset, length, whole) of each file carved in a range's result: the records directly under the region."""
    for record in result.records:
        leaf = record.item.locator.leaf
        if record.parent == 0 and leaf.kind is LayerKind.CARVED and leaf.offset is not None:
            yield leaf.offset, leaf.length or 0, leaf.detail != PARTIAL


def _stopped(region: Item, result: WorkResult) -> bool:
    """Whether carving stopped in this range: the carver's own warnings (carve limit, read error, region not
    opened) name the region itself; everything found in it names a carve below it."""
    return any(w.locator == region.locator for w in result.warnings)


class Rejoin:
    """Takes results in planned order and gives back one result per planned item, split regions and videos merged."""

    def __init__(self, splitting: Splitting | None, videos: VideoSplitting | None = None) -> None:
        self.max_carves = splitting.limits.max_carves if splitting is not None else 0
        self.videos = videos
        self._joined: _Joined | None = None
        self._video: VideoJoin | None = None

    def take(self, unit: Unit, result: Outcome) -> tuple[WorkResult | None, tuple[Unit, ...]]:
        """(the item's result when complete, or units to run, in order, before the next result is taken: a
        range to carve again, or a pending video's segments)."""
        if isinstance(unit, VideoSegment):
            if not isinstance(result, SegmentHash) or self._video is None:  # pragma: no cover - a bug
                raise TypeError("a video segment's result taken out of turn")
            self._video.add(result)
            return self._video_done(), ()
        if not isinstance(result, WorkResult):  # pragma: no cover - a bug
            raise TypeError("an item's result is a WorkResult")
        if isinstance(unit, Item):
            parts = self.videos.segments(result) if self.videos is not None else ()
            if not parts:
                return result, ()
            self._video = VideoJoin(result, parts)
            return None, parts
        joined = self._region(unit)
        if not joined.stopped:
            again = joined.again(unit, result, self.max_carves)
            if again is not None:
                return None, (again,)
            joined.add(result)
        return self._done(unit), ()

    def crashed(self, unit: RegionRange | VideoSegment, warning: EvidenceWarning) -> WorkResult | None:
        """A range or segment that killed its workers: ``warning`` in its place; the item's result when complete.
        What the unsplit scan would have carved after a range is not known: the next ranges are taken as they come."""
        if isinstance(unit, VideoSegment):
            if self._video is None:  # pragma: no cover - a bug
                raise TypeError("a video segment crashed out of turn")
            self._video.crashed(unit, warning)
            return self._video_done()
        joined = self._region(unit)
        if not joined.stopped:
            joined.warnings.append(warning)
        return self._done(unit)

    def _video_done(self) -> WorkResult | None:
        if self._video is None or not self._video.complete():
            return None
        video, self._video = self._video, None
        return video.joined()

    def _region(self, unit: RegionRange) -> _Joined:
        if self._joined is None or self._joined.region != unit.region:
            self._joined = _Joined(unit.region)
        return self._joined

    def _done(self, unit: RegionRange) -> WorkResult | None:
        if unit.index < unit.count - 1 or self._joined is None:
            return None
        joined, self._joined = self._joined, None
        return joined.result()
