"""Long videos hashed as time segments on several workers, merged back exactly as one worker merges them.

Why: a two-hour film is one task's worth of decoding; on worker processes or a Dask cluster the other workers
would wait for it. Every video is examined as fixed time segments whatever runs it (``analysis.video.hasher``:
each segment is hashed alone, from a fresh open of the file, and ``merge`` puts them together), so the
segments can equally be separate tasks. The worker examining a top-level video of several segments (on a
parallel executor: ``StagePlan.split_videos``) hashes no frames: its record is pending (``video.PENDING_STOP``,
with a ``video.PENDING_CODE`` warning where the video's warnings go). The coordinator (``split.Rejoin``) sends
each segment holding a sampling instant (``model.sampled_segments``, as ``hash_video`` hashes) as a
``VideoSegment`` task, alone (``executors.run_ordered``); each reopens the video by its
locator and returns its ``SegmentHash``. When all are back, ``VideoJoin`` merges them with ``hasher.merge`` and
``video.video_outcome`` — the functions ``hash_video`` and the worker use — and puts the video record and its
warnings where the pending ones were. The case therefore holds what an inline run records, row for row.

A segment that kills two workers is not retried bytes-only (it has no bytes of its own): it is merged as a
segment that stopped (``Stop.DECODE_ERROR``), with a ``worker-crashed`` warning naming the video and the time
range; the other segments' frames are kept.

Only top-level videos are spread: they are what a task reopens by locator. A video inside an archive or carved
from a region is hashed, segment by segment, by the worker that found it (same result, one worker).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from safenet.analysis.video.model import Segment, SegmentHash, Stop, VideoMeta, VideoSettings, sampled_segments
from safenet.case.records import WorkResult
from safenet.engine.video import PENDING_CODE, PENDING_STOP, VideoWork, video_outcome
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, SourceLost
from safenet.reasons import item_reason


@dataclass(frozen=True, slots=True)
class VideoSegment:
    """One task's share of a long top-level video: the video, how it is hashed, and which segment."""

    item: Item
    settings: VideoSettings  # for the video's type (``VideoWork.for_type``)
    sheet: bool
    segment: Segment

    def label(self) -> str:
        return self.segment.label()


@dataclass(frozen=True, slots=True)
class VideoSplitting:
    """How the coordinator spreads pending videos: the run's video work (its settings and sheet choice)."""

    work: VideoWork

    def segments(self, result: WorkResult) -> tuple[VideoSegment, ...]:
        """The segment tasks of ``result``'s top-level video when the worker left it pending, else ()."""
        record = result.records[0] if result.records else None
        video = record.video if record is not None else None
        if record is None or video is None or video.stop != PENDING_STOP:
            return ()
        if video.meta is None:  # pragma: no cover - a pending record always holds the metadata it was planned on
            raise TypeError("a pending video without metadata")
        settings = self.work.for_type(record.filetype)
        return tuple(
            VideoSegment(record.item, settings, self.work.sheet, s) for s in sampled_segments(video.meta, settings)
        )


def examine_segment(unit: VideoSegment, reopen: Callable[[], BinaryIO]) -> SegmentHash:
    """A worker's task: the segment hashed from the video reopened by its locator."""
    from safenet.analysis.video.hasher import hash_segment  # PyAV: imported when a video is met

    try:
        with reopen() as stream:
            return hash_segment(stream, unit.settings, unit.segment.index, sheet=unit.sheet)
    except SourceLost:  # the whole source is gone: the run stops (engine.triage)
        raise
    except (OSError, EvidenceError) as exc:
        return SegmentHash(unit.segment, None, (), Stop.UNDECODABLE, f"cannot reopen the video: {item_reason(exc)}")


@dataclass(slots=True)
class VideoJoin:
    """One pending video's result and its segments' hashes as they come back, in time order."""

    result: WorkResult
    units: tuple[VideoSegment, ...]
    parts: list[SegmentHash] = field(default_factory=list)
    crashes: list[EvidenceWarning] = field(default_factory=list)

    def add(self, part: SegmentHash) -> None:
        self.parts.append(part)

    def crashed(self, unit: VideoSegment, warning: EvidenceWarning) -> None:
        """``unit`` killed its workers: merged as a segment that stopped, and ``warning`` recorded."""
        meta: VideoMeta | None = self.result.records[0].video.meta if self.result.records[0].video else None
        message = "the worker process hashing this segment died twice"
        self.parts.append(SegmentHash(unit.segment, meta, (), Stop.DECODE_ERROR, message))
        self.crashes.append(warning)

    def complete(self) -> bool:
        return len(self.parts) == len(self.units)

    def joined(self) -> WorkResult:
        """The result an inline run gives: the merged video record and its warnings in the pending ones' place."""
        from safenet.analysis.video.hasher import merge

        first = self.units[0]
        record = self.result.records[0]
        video, warnings = video_outcome(
            record.item, record.filetype, merge(self.parts, first.settings, sheet=first.sheet), first.settings
        )
        records = (dataclasses.replace(record, video=video), *self.result.records[1:])
        kept = list(self.result.warnings)
        at = next(
            (i for i, w in enumerate(kept) if w.code == PENDING_CODE and w.locator == record.item.locator), len(kept)
        )
        kept[at : at + 1] = [*warnings, *self.crashes]
        return dataclasses.replace(self.result, records=records, warnings=tuple(kept))
