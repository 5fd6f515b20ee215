"""Blurred greyscale review thumbnails: the one function that turns pixels into the grid's JPEG bytes.

Why here: the triage workers make the default thumbnail of each image from the bytes they already read
(so reviewers never wait), and the review UI makes the others on demand; both call ``thumbnail_jpeg`` so a
cached file is the same whoever wrote it. Files live in the case's ``thumbs/review/`` folder, named by item
id, size and blur level (``cache_name``); the clear picture is never written anywhere.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageFilter

from safenet.analysis.pdq.core import U8Image
from safenet.analysis.pdq.decode import Decoded, Skipped
from safenet.analysis.pdq.hasher import fast_decode

#: Thumbnail sides offered to users (pixels, longest side). Small on purpose (welfare).
THUMB_SIZES: Final = (96, 128, 192)
#: Blur levels: Gaussian radius as a fraction of the thumbnail side. There is deliberately no "off":
#: the clear picture is only ever produced by an audited reveal.
BLUR_LEVELS: Final = {1: 1 / 32, 2: 1 / 16, 3: 1 / 9}
DEFAULT_THUMB_SIZE: Final = 128
DEFAULT_BLUR: Final = 2
JPEG_QUALITY: Final = 70
#: Where cached review thumbnails live, under the case folder.
CACHE_FOLDER: Final = ("thumbs", "review")


def cache_name(item_id: int, size: int, blur: int) -> str:
    """File name (without ``.jpg``) of an item's cached thumbnail at one size and blur level."""
    return f"{item_id}-{size}-{blur}"


def blur_grey(image: Image.Image, size: int, blur: int) -> Image.Image:
    """Grey, fitted inside ``size``×``size`` and blurred at ``blur``: never the clear picture."""
    grey = image.convert("L")
    grey.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    radius = max(2.0, size * BLUR_LEVELS[blur])
    return grey.filter(ImageFilter.GaussianBlur(radius=radius))


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def thumbnail_jpeg(pixels: U8Image, size: int = DEFAULT_THUMB_SIZE, blur: int = DEFAULT_BLUR) -> bytes:
    """The review grid's blurred greyscale JPEG of decoded pixels."""
    return jpeg(blur_grey(Image.fromarray(pixels), size, blur))


def decode_for_thumbnail(data: bytes) -> Decoded | Skipped:
    """Pixels for a review thumbnail, of any size offered: PDQ's fast decode (``pdq.hasher.fast_decode``: JPEGs
    DCT-scaled to no less than 512 px a side, EXIF orientation and pixel limits applied). The triage worker
    makes that decode once for both the picture's PDQ hash and its thumbnail, and the review UI decodes the same
    way, so a thumbnail's bytes are the same whoever made them."""
    return fast_decode(data)


def thumbnail_of(decoded: Decoded | Skipped) -> bytes | None:
    """The default-settings thumbnail of what ``decode_for_thumbnail`` gave, or None when the picture did not
    decode (the UI then makes a placeholder on first view)."""
    return thumbnail_jpeg(decoded.pixels) if isinstance(decoded, Decoded) else None


def default_thumbnail(data: bytes) -> bytes | None:
    """The default-settings thumbnail of an encoded picture, or None when it cannot be decoded."""
    return thumbnail_of(decode_for_thumbnail(data))
