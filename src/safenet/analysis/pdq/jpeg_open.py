"""Whether Pillow can open a JPEG-signed file, told from its marker structure alone, without asking Pillow.

Why: a file typed as JPEG by its signature that does not decode (damaged, or other data behind a JPEG
head) costs Pillow about 75 µs to refuse: its JPEG reader walks the markers a byte at a time, then every
other reader without a signature check is tried. The triage asks for each such file's review thumbnail
(and PDQ hash where a set holds them), so on a tree of such files that refusal was most of the full profile's
extra cost. This walk follows Pillow's own JPEG reader (``JpegImagePlugin.JpegImageFile._open``) over the
bytes, with ``bytes.find`` for the junk it skips, and answers only where the outcome is certain:

- a byte after 0xFF that is no marker: Pillow's "no marker found"; a JFIF or Adobe segment too short for its
  fields, a frame header or quantisation table its handler cannot take; a length field cut off by the end:
  the JPEG reader refuses with an error that lets Pillow try its
  other readers, and none of them accepts data that starts FF D8 (a PhotoCD file, named at offset 2048, could:
  such bytes are left to Pillow), so ``Image.open`` raises ``UnidentifiedImageError``;
- a segment that runs past the end: Pillow reads it whole and raises ``OSError("Truncated File Read")``.

Anything else (a scan read whole, after which Pillow opens the picture; the end of the data; a Photoshop segment, whose
parser may raise anything; a frame header after an ICC profile) is left to Pillow. Tests hold this to
Pillow's own answer on every input they build, so a Pillow upgrade that reads JPEG differently shows there.
"""

from __future__ import annotations

import io

from PIL import JpegImagePlugin, UnidentifiedImageError

_SIGNATURE = b"\xff\xd8\xff"
_APP = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is JpegImagePlugin.APP)
_BARE = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is None)
_FRAME = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is JpegImagePlugin.SOF)
_DQT = 0xDB
#: Markers Pillow reads a length and a segment for (each handler but none).
_SEGMENTED = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is not None)
_SOS = 0xDA
_SHORT_FIELDS = ((0xE0, b"JFIF"), (0xEE, b"Adobe"))  # APP segments whose parser reads a 16-bit field at 5
_PHOTOSHOP = (0xED, b"Photoshop 3.0\x00")


def refusal(data: bytes, *, complete: bool = True) -> BaseException | None:
    """The exception ``PIL.Image.open(io.BytesIO(data))`` raises, where the markers alone decide it; else None.

    ``complete`` False: ``data`` is the file's first bytes only (the head read for typing), and an answer that
    would depend on where the data ends (a length field or a segment cut off) is None: what is returned then
    is the whole file's answer too."""
    if not data.startswith(_SIGNATURE) or data[2048:2052] == b"PCD_" or (not complete and len(data) < 2052):
        return None
    end = len(data)
    pos = 3  # Pillow reads the signature, then takes its last 0xFF as the start of the first marker
    icc = False  # an ICC profile segment was seen: Pillow's frame header handler then parses it
    while True:
        if pos >= end:
            return None  # the data ends: Pillow's loop ends and its later checks decide
        marker = data[pos]
        pos += 1
        if marker == 0xFF:  # fill byte: the next one is the marker
            continue
        if marker in _SEGMENTED:
            if pos + 2 > end:
                return UNIDENTIFIED if complete else None  # the length field is cut off: struct.error
            size = int.from_bytes(data[pos : pos + 2], "big") - 2
            pos += 2
            if size > end - pos:
                return TRUNCATED if complete else None
            segment = data[pos : pos + size] if size > 0 else b""
            pos += max(size, 0)
            if marker == _SOS:
                return None  # a scan read whole: Pillow opens the picture (decoding may still fail)
            if marker in _APP:
                if marker == _PHOTOSHOP[0] and segment.startswith(_PHOTOSHOP[1]):
                    return None
                if any(marker == m and segment.startswith(s) and size < 7 for m, s in _SHORT_FIELDS):
                    return UNIDENTIFIED
                icc = icc or (marker == 0xE2 and segment.startswith(b"ICC_PROFILE\0"))
            elif marker in _FRAME:
                if icc:
                    return None
                if not _frame_header_reads(segment):
                    return UNIDENTIFIED
            elif marker == _DQT and not _tables_read(segment):
                return UNIDENTIFIED
        elif marker != 0x00 and marker not in _BARE:
            return UNIDENTIFIED  # no marker after 0xFF: Pillow's "no marker found"
        # After a marker (or an escaped 0xFF00) Pillow reads one byte, and skips anything up to the next 0xFF.
        if pos >= end:
            return None
        if data[pos] != 0xFF:
            following = data.find(b"\xff", pos)
            if following < 0:
                return None
            pos = following
        pos += 1


def _frame_header_reads(segment: bytes) -> bool:
    """Whether Pillow's frame header handler (``SOF``) takes this segment without raising."""
    return len(segment) >= 6 and segment[0] == 8 and segment[5] in (1, 3, 4) and (len(segment) - 6) % 3 == 0


def _tables_read(segment: bytes) -> bool:
    """Whether Pillow's quantisation table handler (``DQT``) takes this segment without raising."""
    while segment:
        length = 65 if segment[0] < 16 else 129
        if len(segment) < length:
            return False
        segment = segment[length:]
    return True


#: What ``Image.open(io.BytesIO(data))`` raises when no reader accepts the bytes (the same words: the object's
#: address, the only part that differs, is left out of reports), and when a segment runs past the end. One of
#: each, so that a caller can keep what it makes of them.
UNIDENTIFIED = UnidentifiedImageError(f"cannot identify image file {io.BytesIO()!r}")
TRUNCATED = OSError("Truncated File Read")
