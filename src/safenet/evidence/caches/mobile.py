"""Phone thumbnail stores that are not plain picture files.

* Android ``DCIM/.thumbnails/.thumbdata3--1967290299`` / ``.thumbdata4--...`` (MediaProvider's
  MiniThumbFile): fixed-size slots, each a small header (in MiniThumbFile: a 1-byte flag, an 8-byte
  id, a 4-byte length) followed by a JPEG. Safenet does not rely on the slot size or the header, which
  vary between Android versions: each picture is found by structure with the carver (JPEG marker
  segments chained from SOI to EOI), so a damaged slot yields a partial carve or nothing, never a
  wrong range. Locator: the thumbdata file › CACHE_ENTRY(value="@<offset>", offset, length,
  detail="android-thumbdata"). The ``.thumbnails/*.jpg`` files beside it are plain JPEGs, hashed as
  files.
* iOS ``.ithmb`` thumbnail stores (Photos/iPod ``F*_*.ithmb``): raw pixel data in a device-specific
  layout with no header. Safenet has no decoder it can verify, so such a file is hashed whole and
  recorded with a "cache-not-examined" warning: its thumbnails were not looked at. The iOS
  thumbnail stores that are plain JPEG files are hashed as files already.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import range_locator, stream_size, window
from safenet.evidence.carve.model import CarveLimits
from safenet.evidence.carve.scan import CarveLimitReached, carve
from safenet.evidence.model import EvidenceWarning, Item, WarningSink
from safenet.reasons import reason_of

THUMBDATA = "android-thumbdata"
ITHMB = "ios-ithmb"
_THUMBDATA = re.compile(r"^\.thumbdata\d*-")
_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}


def is_thumbdata(name: str) -> bool:
    return _THUMBDATA.match(name) is not None


def is_ithmb(name: str) -> bool:
    return name.lower().endswith(".ithmb")


def expand_thumbdata(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CarveLimits | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each picture found by structure in an Android thumbdata file."""
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            for found in carve(stream, stream_size(stream), limits):
                locator = range_locator(parent, f"@{found.offset}", found.offset, found.length, THUMBDATA)
                note = f"Android thumbnail store slot at offset {found.offset}: {found.filetype} found by structure"
                note += f"; partial: {found.partial}" if found.partial else "; whole"
                note += "; the picture it shows is not named in this file (MediaProvider's database links it)"
                name = f"thumb_{found.offset}.{_EXTENSIONS.get(found.filetype, found.filetype)}"
                item = Item(locator, name, found.length, carved=True, note=note)
                yield item, window(stream, found.offset, found.length)
        except CarveLimitReached as exc:
            warn(
                EvidenceWarning(
                    "cache-limit", f"{reason_of(exc)}; the rest of the thumbnail store was not searched", parent.locator
                )
            )


def expand_ithmb(parent: Item, warn: WarningSink) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Record that an iOS .ithmb store was found and not decoded; it yields no items."""
    message = (
        "iOS .ithmb thumbnail store (raw pixels in a device-specific layout): not decoded, so its thumbnails "
        "were not examined; the file itself was hashed whole"
    )
    warn(EvidenceWarning("cache-not-examined", message, parent.locator))
    yield from ()
