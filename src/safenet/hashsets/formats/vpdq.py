"""vPDQ feature files (Meta's ``vpdq``): the frame hashes of one known video, one line per sampled frame.

The format is what vpdq's C++ ``outputVPDQFeatureToFile`` writes and its ``loadHashesFromFileOrDie`` reads
(vpdq 0.2.5 ``cpp/vpdq/cpp/io/vpdqio.cpp``), and what the Python binding's features hold::

    frame_number,quality,pdq_hex,timestamp_seconds
    0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000

Four comma-separated fields, no header; vpdq itself refuses a line with any other number of fields, and so
does this reader (a three-field line from an old vpdq has no time, and a time must not be guessed).

One file is one video, so the whole file becomes one entry whose frames are its usable lines (quality
≥ 50, as vPDQ's ``quality_filter``: a featureless frame must not support a match), named after the file.
The frames of one video are held in memory to make that entry (a line per second of video: 7,200 lines
for two hours). Frames below quality 50 and bad lines are counted in warnings and skipped; a file without a
single usable frame is refused. The entry matches found videos by the vPDQ rule and, as with ``hashset
build``, its frames also go into the set's image index, so a still from the video is found too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Final

from safenet.hashsets.formats.base import HEAD_SIZE, HashSetFormat, clip, iter_lines, strip_bom
from safenet.hashsets.model import HashRecord, HashSetError, SetKind, VideoFrameRecord, WarnFn

#: PDQ's usable-quality floor (``analysis.pdq.MIN_QUALITY``; not imported: formats stay free of analysis).
MIN_QUALITY: Final = 50
_LINE_RE = re.compile(
    r"^\s*(?P<frame>\d{1,10})\s*,\s*(?P<quality>\d{1,3})\s*,\s*(?P<hex>[0-9A-Fa-f]{64})\s*,"
    r"\s*(?P<time>\d{1,9}(?:\.\d*)?(?:[eE][-+]?\d{1,3})?)\s*$"
)
_SNIFF_LINES: Final = 20


class VpdqFormat(HashSetFormat):
    """One video's vPDQ frame hashes: ``frame_number,quality,pdq_hex,timestamp`` per line."""

    NAME: ClassVar[str] = "vpdq"
    DEFAULT_KIND: ClassVar[SetKind | None] = None
    DESCRIPTION: ClassVar[str] = "vPDQ feature file of one video (Meta vpdq): frame,quality,pdq_hex,seconds per line"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        if not head or b"\x00" in head:
            return False
        lines = strip_bom(head).decode("utf-8", "replace").splitlines()
        if len(head) >= HEAD_SIZE:
            lines = lines[:-1]  # the last line of a full head may be cut
        lines = [ln.strip() for ln in lines[:_SNIFF_LINES] if ln.strip()]
        return bool(lines) and all(_LINE_RE.match(ln) for ln in lines)

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        frames: list[VideoFrameRecord] = []
        low_quality = bad = 0
        first_bad = ""
        last_line = 0
        for number, raw in iter_lines(path, warn):
            last_line = number
            text = raw.decode("utf-8", errors="backslashreplace")
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            match = _LINE_RE.match(text)
            seconds = float(match.group("time")) if match else math.nan
            if match is None or not math.isfinite(seconds) or int(match.group("quality")) > 100:
                bad += 1
                if bad <= 10:  # the first few with their line; the rest counted
                    warn(
                        f"line {number}",
                        f"not a vPDQ line (frame_number,quality 0-100,64 hex digits,seconds): '{clip(text)}'; skipped",
                    )
                first_bad = first_bad or f"line {number}"
                continue
            quality = int(match.group("quality"))
            if quality < MIN_QUALITY:
                low_quality += 1
                continue
            frames.append(VideoFrameRecord(round(seconds, 3), bytes.fromhex(match.group("hex")), quality))
        if bad > 10:
            warn(first_bad, f"{bad} lines in all are not vPDQ lines; skipped")
        if low_quality:
            warn("", f"{low_quality} frames below PDQ quality {MIN_QUALITY} skipped: they cannot support a match")
        if not frames:
            raise HashSetError(
                f"{path} has no usable vPDQ frame line ({last_line} lines read); expected "
                "'frame_number,quality,pdq_hex,seconds' per line with quality ≥ 50, as vpdq writes them"
            )
        yield HashRecord(None, None, None, None, name=path.name, ref=f"lines 1-{last_line}", video_frames=tuple(frames))
