"""Blurred, greyscale frame sheets: how an examiner reviews a video without watching it.

Why it is built during hashing: the frames are decoded once (docs/architecture.md). Each sampled frame that the sheet
may use is reduced, turned grey and blurred at once, so no clear frame is ever kept: the collector holds
only blurred thumbnails, at most ``2 × tiles`` of them, by keeping every *stride*-th sample and doubling
the stride (dropping every other thumbnail) when full. The kept ones are therefore evenly spread over the
video without knowing its length in advance.

The sheet carries each tile's timestamp as text, so an examiner can name a moment without seeing it.
Writing it is the caller's choice of place (the case folder's ``thumbs/``); the file is owner-only.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from safenet.analysis.pdq.core import U8Image

COLUMNS: Final = 4
ROWS: Final = 5
TILE: Final = (192, 108)  # width, height: 16:9, small on purpose
LABEL_HEIGHT: Final = 14
#: Gaussian radius as a fraction of the tile width: at 192 px, 8 px: shapes and layout stay visible,
#: faces and detail do not.
BLUR_FRACTION: Final = 1 / 24
JPEG_QUALITY: Final = 70
_SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_T = TypeVar("_T")


def blurred_tile(pixels: U8Image, tile: tuple[int, int] = TILE) -> Image.Image:
    """Grey, reduced to fit ``tile`` (aspect kept, centred on black) and blurred: never the clear frame."""
    image = Image.fromarray(np.ascontiguousarray(pixels)).convert("L")
    image.thumbnail(tile, Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("L", tile, 0)
    canvas.paste(image, ((tile[0] - image.width) // 2, (tile[1] - image.height) // 2))
    return canvas.filter(ImageFilter.GaussianBlur(radius=max(2.0, tile[0] * BLUR_FRACTION)))


@dataclass(slots=True)
class SheetCollector:
    """Keeps up to ``2 × tiles`` blurred thumbnails evenly spread over the samples offered."""

    tiles: int = COLUMNS * ROWS
    stride: int = 1
    offered: int = 0
    kept: list[tuple[float, Image.Image]] = field(default_factory=list)

    def wants(self) -> bool:
        """Whether the next sample offered will be kept (so callers skip work for the others)."""
        return self.offered % self.stride == 0

    def offer(self, timestamp_s: float, pixels: U8Image) -> None:
        if self.wants():
            self.kept.append((timestamp_s, blurred_tile(pixels)))
            if len(self.kept) >= 2 * self.tiles:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.offered += 1

    def chosen(self) -> list[tuple[float, Image.Image]]:
        """Up to ``tiles`` thumbnails, evenly spaced over those kept, first and last included."""
        return spread(self.kept, self.tiles)

    def chosen_bytes(self) -> tuple[tuple[float, bytes], ...]:
        """``chosen`` as plain data (each tile's raw mode L pixels), to cross a process boundary."""
        return tuple((timestamp, tile.tobytes()) for timestamp, tile in self.chosen())

    def render(self) -> bytes | None:
        """The sheet as greyscale JPEG bytes, or None when no frame was offered."""
        chosen = self.chosen()
        return render_sheet(chosen) if chosen else None


def spread(kept: Sequence[_T], tiles: int = COLUMNS * ROWS) -> list[_T]:
    """Up to ``tiles`` of ``kept``, evenly spaced, first and last included (all of them when no more)."""
    count = len(kept)
    if count <= tiles:
        return list(kept)
    picks = np.linspace(0, count - 1, tiles).round().astype(int)
    return [kept[i] for i in picks]


def render_tiles(tiles: Sequence[tuple[float, bytes]]) -> bytes | None:
    """The sheet of up to ``COLUMNS × ROWS`` of ``tiles`` (``chosen_bytes`` of segments, in time order), evenly
    spread, or None without tiles. One segment's tiles give exactly its collector's sheet."""
    chosen = spread(tiles)
    if not chosen:
        return None
    return render_sheet([(timestamp, Image.frombytes("L", TILE, data)) for timestamp, data in chosen])


def render_sheet(tiles: list[tuple[float, Image.Image]], columns: int = COLUMNS) -> bytes:
    """Lay already blurred tiles out in a grid, each with its timestamp below, as a mode "L" JPEG."""
    width, height = tiles[0][1].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("L", (columns * width, rows * (height + LABEL_HEIGHT)), 0)
    draw = ImageDraw.Draw(sheet)
    for i, (timestamp, tile) in enumerate(tiles):
        x, y = (i % columns) * width, (i // columns) * (height + LABEL_HEIGHT)
        sheet.paste(tile, (x, y))
        draw.text((x + 4, y + height + 1), _clock(timestamp), fill=255)
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def write_frame_sheet(sheet: bytes, folder: Path, name: str) -> Path:
    """Write ``sheet`` as ``folder/name.jpg``, owner-only, atomically; returns the path.

    ``name`` is chosen by the caller (e.g. the item's SHA-256) and must be a plain file name: evidence
    names never reach the file system here. ``folder`` must already exist (the case folder's ``thumbs/``).
    """
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"frame sheet name must be letters, digits, '.', '_' or '-', got {name!r}")
    if not folder.is_dir():
        raise ValueError(f"frame sheet folder {folder} does not exist")
    target = folder / f"{name}.jpg"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".sheet-", suffix=".tmp")  # created 0o600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(sheet)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
