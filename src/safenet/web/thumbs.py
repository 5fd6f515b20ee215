"""Pictures for the review grid: blurred greyscale thumbnails, frame strips, and the graded reveal.

Why server-side: the browser never receives the clear picture unless an examiner reveals that one item
(docs/domain.md, examiner welfare). Evidence is reopened from the item's locator through the exhibit's stored
source, read with a size cap, and decoded with the PDQ decode helpers (pixel limits, hostile input
becomes a typed skip, not an exception). Blurred pictures are cached in the case's ``thumbs/review/``
folder, owner-only (the default-settings one of each image is written there during triage, see
``safenet.analysis.thumbs``); the clear picture is never written anywhere.

Moving pictures (videos and animated GIFs) are shown by their frame sheet (already blurred and grey:
written during hashing as ``thumbs/<sha256>.jpg``, or made here on demand as ``thumbs/sheets/<sha256>.jpg``
when triage made none, e.g. for an exactly matched video) and by a bounded sample of frames that can be
stepped through one at a time, each blurred; one frame may be revealed. There is no clear video and no
audio at all.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw

from safenet.analysis.pdq.core import U8Image
from safenet.analysis.pdq.decode import Decoded, decode
from safenet.analysis.thumbs import CACHE_FOLDER, blur_grey, cache_name, decode_for_thumbnail, jpeg, thumbnail_jpeg
from safenet.analysis.video.frames import FramesUnavailable, SampledFrame, frame_list, frame_pixels, frame_sheet
from safenet.analysis.video.sheet import write_frame_sheet
from safenet.case.items import ItemSource, item_source
from safenet.case.store import Case
from safenet.engine.video import GIF_RATE_FPS
from safenet.evidence.locator import Locator
from safenet.evidence.model import Evidence, EvidenceError
from safenet.evidence.phone.ios_fullbackup import reopen_context
from safenet.evidence.registry import as_source, open_locator, open_source
from safenet.web.reveals import RevealStep
from safenet.web.settings import Preferences, WebSettings

#: Where frame sheets are looked for under ``thumbs/`` (triage's, then those made here).
SHEET_FOLDERS: Final = ("", "sheets")
#: A single frame is shown at least this large (a strip of 30 px frames cannot be reviewed).
MIN_FRAME_SIDE: Final = 256
#: Frame lists kept in memory (a list is a full decoding pass of the video).
_FRAME_LISTS: Final = 256


class MediaError(Exception):
    """An item's picture cannot be produced because the item is not in the case (HTTP 404)."""


class CannotDisplay(MediaError):
    """The item is in the case but cannot be shown (unreadable, undecodable, no such frame): HTTP 409."""

    def __init__(self, item_id: int, reason: str) -> None:
        super().__init__(f"item {item_id} cannot be displayed: {reason}")
        self.reason = reason


class Motion(StrEnum):
    VIDEO = "video"
    GIF = "gif"


@dataclass(frozen=True, slots=True)
class Frames:
    kind: Motion
    frames: tuple[SampledFrame, ...]


MediaItem = ItemSource  # an item the review UI reads from evidence


def blur_thumbnail(image: Image.Image, prefs: Preferences) -> Image.Image:
    """Grey, fitted inside ``size``×``size`` and blurred at the user's level: never the clear picture."""
    return blur_grey(image, prefs.size, prefs.blur)


def fit(image: Image.Image, side: int) -> Image.Image:
    """An already blurred picture (a frame sheet) fitted inside ``side``×``side``: not blurred again."""
    fitted = image.convert("L")
    fitted.thumbnail((side, side), Image.Resampling.LANCZOS)
    return fitted


def placeholder(text: str, prefs: Preferences) -> Image.Image:
    """A plain grey tile with a word on it, for moving pictures without frames and unreadable items."""
    tile = Image.new("L", (prefs.size, prefs.size * 3 // 4), 96)
    ImageDraw.Draw(tile).text((6, 6), text, fill=230)
    return tile


def frame_side(prefs: Preferences) -> int:
    return max(MIN_FRAME_SIDE, prefs.size)


class Thumbnailer:
    """Produces (and caches) the grid's thumbnails, frame strips and the revealed pictures of one case."""

    def __init__(self, case: Case, settings: WebSettings) -> None:
        self.case = case
        self.settings = settings
        self.cache = case.path.joinpath(*CACHE_FOLDER)
        self._lock = threading.Lock()  # evidence back-ends (dfVFS) are not known to be thread-safe
        self._evidence: dict[tuple[str, str], Evidence] = {}  # by exhibit and source
        self._motion: dict[int, Motion | None] = {}
        self._frames: OrderedDict[int, Frames] = OrderedDict()

    # -- public ----------------------------------------------------------------------------------
    def item(self, item_id: int) -> MediaItem:
        found = item_source(self.case, item_id)
        if found is None:
            raise MediaError(f"item {item_id} is not in this case")
        return found

    def thumbnail(self, item_id: int, prefs: Preferences) -> bytes:
        """Blurred greyscale JPEG of the item (a placeholder when it cannot be shown); moving pictures show
        their frame sheet."""
        item = self.item(item_id)
        motion = self.motion(item)
        name = cache_name(item_id, prefs.size, prefs.blur) + ("-sheet" if motion else "")
        target = self.cache / f"{name}.jpg"
        if target.is_file():
            return target.read_bytes()
        if motion is not None:
            sheet = _open_sheet(self._sheet(item, motion))
            if sheet is None:
                return jpeg(placeholder(f"{motion.value}: no frames", prefs))
            data = jpeg(fit(sheet, prefs.size))
        else:
            decoded = self._decode(item, thumbnail=True)
            if isinstance(decoded, str):
                return jpeg(placeholder(decoded, prefs))  # not cached: the evidence may become readable
            data = thumbnail_jpeg(decoded.pixels, prefs.size, prefs.blur)
        self._store(target, data)
        return data

    def sheet(self, item_id: int) -> bytes:
        """The whole blurred frame sheet of a moving picture, at the size it was made (a usable size)."""
        item = self.item(item_id)
        motion = self._moving(item)
        sheet = self._sheet(item, motion)
        if sheet is None:
            raise CannotDisplay(item_id, f"no frame of this {motion.value} decodes")
        return sheet

    def frames(self, item_id: int) -> Frames:
        """The sampled frames of a moving picture (index and time), decoded once and remembered."""
        with self._lock:
            known = self._frames.get(item_id)
        if known is not None:
            return known
        item = self.item(item_id)
        motion = self._moving(item)
        try:
            found = Frames(motion, tuple(frame_list(self._read(item), rate_fps=_rate(motion))))
        except FramesUnavailable as exc:
            raise CannotDisplay(item_id, str(exc)) from exc
        with self._lock:
            self._frames[item_id] = found
            while len(self._frames) > _FRAME_LISTS:
                self._frames.popitem(last=False)
        return found

    def frame(self, item_id: int, index: int, prefs: Preferences) -> bytes:
        """One sampled frame, blurred and grey, at least ``MIN_FRAME_SIDE`` pixels (cached, it is blurred)."""
        side = frame_side(prefs)
        target = self.cache / f"{cache_name(item_id, side, prefs.blur)}-f{index}.jpg"
        if target.is_file():
            return target.read_bytes()
        pixels = self._frame_pixels(self.item(item_id), index)
        data = jpeg(blur_grey(Image.fromarray(pixels), side, prefs.blur))
        self._store(target, data)
        return data

    def revealed(
        self, item_id: int, step: RevealStep, frame: int | None, prefs: Preferences
    ) -> tuple[bytes, int | None]:
        """The picture of a reveal at ``step`` and the frame shown: the still image (frame None), or one sampled
        frame of a moving picture (the first unless ``frame`` says which).

        Raises :class:`CannotDisplay` when it cannot be produced, so nothing is audited as shown.
        """
        item = self.item(item_id)
        motion = self.motion(item)
        if motion is not None and frame is None:
            frame = 0
        if motion is None and frame is not None:
            raise CannotDisplay(item_id, "it is a still image and has no frames")
        if item.media_kind not in ("image", "video"):
            raise CannotDisplay(item_id, "it is not a picture")
        if frame is not None:
            pixels = self._frame_pixels(item, frame)
        else:
            decoded = self._decode(item)
            if isinstance(decoded, str):
                raise CannotDisplay(item_id, decoded)
            pixels = decoded.pixels
        return self._render_step(pixels, step, prefs), frame

    def motion(self, item: MediaItem) -> Motion | None:
        """Whether the item is a moving picture: a video, or a GIF of more than one frame."""
        if item.media_kind == "video":
            return Motion.VIDEO
        if item.filetype != "gif":
            return None
        with self._lock:
            if item.item_id in self._motion:
                return self._motion[item.item_id]
        animated = self._find_sheet(item) is not None or _animated_gif(self._read_or_empty(item))
        motion = Motion.GIF if animated else None
        with self._lock:
            self._motion[item.item_id] = motion
        return motion

    # -- internals -------------------------------------------------------------------------------
    def _moving(self, item: MediaItem) -> Motion:
        motion = self.motion(item)
        if motion is None:
            raise CannotDisplay(item.item_id, "it is a still picture and has no frames")
        return motion

    def _render_step(self, pixels: U8Image, step: RevealStep, prefs: Preferences) -> bytes:
        image = Image.fromarray(pixels)
        if step is RevealStep.LARGE_BLURRED:
            return jpeg(blur_grey(image, self.settings.large_blurred_side, prefs.blur))
        side = self.settings.clear_max_side
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return jpeg(image.convert("L" if step is RevealStep.GREY else "RGB"))

    def _frame_pixels(self, item: MediaItem, index: int) -> U8Image:
        motion = self._moving(item)
        try:
            pixels = frame_pixels(self._read(item), index, rate_fps=_rate(motion))
        except FramesUnavailable as exc:
            raise CannotDisplay(item.item_id, str(exc)) from exc
        if pixels is None:
            raise CannotDisplay(item.item_id, f"it has no sampled frame {index}")
        return pixels

    def read_head(self, item_id: int, limit: int) -> bytes:
        """At most the first ``limit`` bytes of an item, reopened from the evidence (for metadata such as the
        side panel's EXIF camera; never shown). MediaError or CannotDisplay as for pictures."""
        return self._read_upto(self.item(item_id), limit)

    def _read(self, item: MediaItem) -> bytes:
        """The item's bytes (capped), or CannotDisplay with the reason."""
        if item.size is not None and item.size > self.settings.max_read_bytes:
            raise CannotDisplay(item.item_id, "too large to show")
        data = self._read_upto(item, self.settings.max_read_bytes + 1)
        if len(data) > self.settings.max_read_bytes:
            raise CannotDisplay(item.item_id, "too large to show")
        return data

    def _read_upto(self, item: MediaItem, limit: int) -> bytes:
        try:
            with self._lock:
                evidence = self._evidence.get((item.exhibit, item.source))
                if evidence is None:  # a phone backup taken into the case is reopened from there
                    context = reopen_context(self.case.path, item.exhibit, item.source, self.settings.evidence_context)
                    evidence = self._evidence[item.exhibit, item.source] = open_source(as_source(item.source), context)
                with open_locator(evidence, Locator.from_json(item.locator)) as stream:
                    return stream.read(limit)
        except (OSError, EvidenceError, ValueError) as exc:
            raise CannotDisplay(item.item_id, "evidence not available") from exc

    def _read_or_empty(self, item: MediaItem) -> bytes:
        try:
            return self._read(item)
        except CannotDisplay:
            return b""

    def _decode(self, item: MediaItem, *, thumbnail: bool = False) -> Decoded | str:
        """Decoded pixels of a still picture, or a short reason why not (shown on the placeholder): for a
        thumbnail, the decode triage makes them from; else the whole picture."""
        try:
            data = self._read(item)
        except CannotDisplay as exc:
            return exc.reason
        result = decode_for_thumbnail(data) if thumbnail else decode(data, fast=False, orient=True)
        return result if isinstance(result, Decoded) else f"cannot decode ({result.reason})"

    def _find_sheet(self, item: MediaItem) -> Path | None:
        for folder in SHEET_FOLDERS:
            path = self.case.path / "thumbs" / folder / f"{_sheet_name(item)}.jpg"
            if path.is_file():
                return path
        return None

    def _sheet(self, item: MediaItem, motion: Motion) -> bytes | None:
        """The blurred frame sheet (JPEG bytes): triage's, else one made now from a capped sample and kept."""
        path = self._find_sheet(item)
        if path is not None:
            with contextlib.suppress(OSError):
                return path.read_bytes()
        try:
            data = frame_sheet(self._read(item), rate_fps=_rate(motion))
        except (CannotDisplay, FramesUnavailable):
            return None
        if data is not None:
            folder = self.case.path / "thumbs" / "sheets"
            with contextlib.suppress(OSError):  # a cache: a failed write costs a decode next time
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                write_frame_sheet(data, folder, _sheet_name(item))
        return data

    def _store(self, target: Path, data: bytes) -> None:
        """Write atomically, owner-only (mkstemp creates 0600); a cache, so failures are not fatal."""
        try:
            self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.cache, prefix=".thumb-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            pass


def _rate(motion: Motion) -> float:
    """Sampling rate: GIFs are short loops sampled densely, as triage samples them."""
    return GIF_RATE_FPS if motion is Motion.GIF else 1.0


def _sheet_name(item: MediaItem) -> str:
    """Sheets are named by content (two copies share one), or by item id when no digest was recorded."""
    return item.sha256 or f"item-{item.item_id}"


def _animated_gif(data: bytes) -> bool:
    """Whether GIF bytes hold more than one frame; a damaged GIF counts as still (its first frame is shown)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(getattr(image, "n_frames", 1) or 1) > 1
    except Exception:  # hostile or truncated GIF: never an error page
        return False


def _open_sheet(data: bytes | None) -> Image.Image | None:
    """A sheet's pixels; a damaged sheet file is shown as a placeholder, never an error page."""
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as sheet:
            return sheet.convert("L")
    except Exception:  # a damaged cache file from a crashed run
        return None
