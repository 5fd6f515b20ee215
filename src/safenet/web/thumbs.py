"""Pictures for the review grid: blurred greyscale small thumbnails, and the clear picture on reveal.

Why server-side: the browser never receives the clear picture unless an examiner reveals that one item
(docs/domain.md, examiner welfare). Evidence is reopened from the item's locator through the exhibit's stored
source, read with a size cap, and decoded with the PDQ decode helpers (pixel limits, hostile input
becomes a typed skip, not an exception). Blurred thumbnails are cached in the case's ``thumbs/review/``
folder, owner-only (the default-settings one of each image is written there during triage, see
``safenet.analysis.thumbs``); the clear picture is never written anywhere.

Videos are shown by their frame sheet (already blurred and grey, written during hashing as
``thumbs/<sha256>.jpg``, or ``thumbs/sheets/<sha256>.jpg``) or a placeholder; there is no clear video and
no audio at all.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw

from safenet.analysis.pdq.decode import Decoded, decode
from safenet.analysis.thumbs import CACHE_FOLDER, blur_grey, cache_name, decode_for_thumbnail, jpeg, thumbnail_jpeg
from safenet.case.items import ItemSource, item_source
from safenet.case.store import Case
from safenet.evidence.locator import Locator
from safenet.evidence.model import Evidence, EvidenceError
from safenet.evidence.registry import open_locator, open_source
from safenet.web.settings import Preferences, WebSettings

SHEET_FOLDERS: Final = ("", "sheets")


class MediaError(Exception):
    """An item's picture cannot be produced (not in the case, not a picture, unreadable)."""


MediaItem = ItemSource  # an item the review UI reads from evidence


def blur_thumbnail(image: Image.Image, prefs: Preferences) -> Image.Image:
    """Grey, fitted inside ``size``×``size`` and blurred at the user's level: never the clear picture."""
    return blur_grey(image, prefs.size, prefs.blur)


def placeholder(text: str, prefs: Preferences) -> Image.Image:
    """A plain grey tile with a word on it, for videos without a sheet and unreadable items."""
    tile = Image.new("L", (prefs.size, prefs.size * 3 // 4), 96)
    ImageDraw.Draw(tile).text((6, 6), text, fill=230)
    return tile


class Thumbnailer:
    """Produces (and caches) the grid's thumbnails and the revealed pictures of one case."""

    def __init__(self, case: Case, settings: WebSettings) -> None:
        self.case = case
        self.settings = settings
        self.cache = case.path.joinpath(*CACHE_FOLDER)
        self._lock = threading.Lock()  # evidence back-ends (dfVFS) are not known to be thread-safe
        self._evidence: dict[str, Evidence] = {}

    # -- public ----------------------------------------------------------------------------------
    def thumbnail(self, item_id: int, prefs: Preferences) -> bytes:
        """Blurred greyscale JPEG of the item (a placeholder when it cannot be shown)."""
        target = self.cache / f"{cache_name(item_id, prefs.size, prefs.blur)}.jpg"
        if target.is_file():
            return target.read_bytes()
        item = self.item(item_id)
        if item.media_kind == "video":
            sheet = self._sheet(item)
            data = jpeg(blur_thumbnail(sheet, prefs) if sheet else placeholder("video: no frame sheet", prefs))
        else:
            decoded = self._decode(item, fast=True, side=prefs.size)
            if isinstance(decoded, str):
                return jpeg(placeholder(decoded, prefs))  # not cached: the evidence may become readable
            data = thumbnail_jpeg(decoded.pixels, prefs.size, prefs.blur)
        self._store(target, data)
        return data

    def clear(self, item_id: int) -> bytes:
        """The clear picture, re-encoded and reduced; only for a revealed still image. Never cached."""
        item = self.item(item_id)
        if item.media_kind != "image":
            raise MediaError("only still images can be revealed; videos are reviewed from their frame sheet")
        decoded = self._decode(item, fast=False)
        if isinstance(decoded, str):
            raise MediaError(decoded)
        image = Image.fromarray(decoded.pixels)
        side = self.settings.clear_max_side
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return jpeg(image.convert("RGB"))

    def item(self, item_id: int) -> MediaItem:
        found = item_source(self.case, item_id)
        if found is None:
            raise MediaError(f"item {item_id} is not in this case")
        return found

    # -- internals -------------------------------------------------------------------------------
    def _decode(self, item: MediaItem, *, fast: bool, side: int | None = None) -> Decoded | str:
        """Decoded pixels, or a short reason why not (shown on the placeholder)."""
        if item.size is not None and item.size > self.settings.max_read_bytes:
            return "too large to show"
        try:
            with self._lock:
                evidence = self._evidence.get(item.source)
                if evidence is None:
                    evidence = self._evidence[item.source] = open_source(Path(item.source))
                with open_locator(evidence, Locator.from_json(item.locator)) as stream:
                    data = stream.read(self.settings.max_read_bytes + 1)
        except (OSError, EvidenceError, ValueError):
            return "evidence not available"
        if len(data) > self.settings.max_read_bytes:
            return "too large to show"
        result = decode_for_thumbnail(data, side) if side is not None else decode(data, fast=fast, orient=True)
        return result if isinstance(result, Decoded) else f"cannot decode ({result.reason})"

    def _sheet(self, item: MediaItem) -> Image.Image | None:
        if not item.sha256:
            return None
        for folder in SHEET_FOLDERS:
            path = self.case.path / "thumbs" / folder / f"{item.sha256}.jpg"
            if path.is_file():
                try:
                    with Image.open(path) as sheet:
                        return sheet.convert("L")
                except Exception:  # a damaged sheet is shown as a placeholder, never an error page
                    return None
        return None

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
