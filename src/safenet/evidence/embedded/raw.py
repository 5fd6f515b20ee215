"""Fujifilm RAF: the JPEG preview named by the file header.

The RAF header (all integers big-endian; layout as read by dcraw and LibRaw):

    0   16  magic "FUJIFILMCCD-RAW " (the format version, e.g. "0201", follows at 16)
    20   8  camera ID
    28  32  camera model (NUL-padded)
    60   4  directory version
    64  20  unknown
    84   4  JPEG preview offset (from the start of the file)
    88   4  JPEG preview length
    92   4  CFA header offset, then its length, the CFA offset and length (not read here)

The preview is a whole Exif JPEG (its own EXIF thumbnail sits in its APP1 and is not extracted
separately). It becomes parent › EMBEDDED("preview-1", offset, length, detail="raf").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from safenet.evidence.embedded.common import read_upto
from safenet.evidence.embedded.exif import Found

RAF = "raf"
MAGIC = b"FUJIFILMCCD-RAW "
_PREVIEW_AT = 84  # offset u32, then length u32


def raf_found(stream: BinaryIO, report: Callable[[str], None]) -> Iterator[Found]:
    head = read_upto(stream, 0, _PREVIEW_AT + 8)
    if not head.startswith(MAGIC) or len(head) < _PREVIEW_AT + 8:
        report(f"RAF header is {len(head)} bytes, shorter than the {_PREVIEW_AT + 8} that name the preview")
        return
    offset = int.from_bytes(head[_PREVIEW_AT : _PREVIEW_AT + 4], "big")
    length = int.from_bytes(head[_PREVIEW_AT + 4 : _PREVIEW_AT + 8], "big")
    yield Found("preview", RAF, offset, length, "JPEG preview (RAF header, offset/length at 84/88)")
