"""Whether Pillow can open a JPEG-signed file, told from its marker structure alone, without asking Pillow.

Why: a file typed as JPEG by its signature that does not decode (damaged, or other data behind a JPEG
head) costs Pillow about 75 µs to refuse: its JPEG reader walks the markers a byte at a time, then every
other reader without a signature check is tried. The triage asks for each such file's review thumbnail
(and PDQ hash where a set holds them), so on a tree of such files that refusal was most of the full profile's
extra cost. This walk follows Pillow's own JPEG reader (``JpegImagePlugin.JpegImageFile._open``) over the
bytes, with ``bytes.find`` for the junk it skips, and answers only where the outcome is certain:

- a byte after 0xFF that is no marker: Pillow's "no marker found"; a JFIF or Adobe segment too short for its
  fields; a length field cut off by the end: the JPEG reader refuses with an error that lets Pillow try its
  other readers, and none of them accepts data that starts FF D8 (a PhotoCD file, named at offset 2048, could:
  such bytes are left to Pillow), so ``Image.open`` raises ``UnidentifiedImageError``;
- a segment that runs past the end: Pillow reads it whole and raises ``OSError("Truncated File Read")``.

Anything else (a frame header or quantisation table, which Pillow parses; a scan, after which it opens; the end
of the data; a Photoshop segment, whose parser may raise anything) is left to Pillow. Tests hold this to
Pillow's own answer on every input they build, so a Pillow upgrade that reads JPEG differently shows there.
"""

from __future__ import annotations

import io

from PIL import JpegImagePlugin, UnidentifiedImageError

_SIGNATURE = b"\xff\xd8\xff"
#: Markers whose segment Pillow reads and stores without parsing it (APP is parsed only as checked below).
_READ = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h in (JpegImagePlugin.Skip,))
_APP = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is JpegImagePlugin.APP)
_COM = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is JpegImagePlugin.COM)
_BARE = frozenset(m & 0xFF for m, (_n, _d, h) in JpegImagePlugin.MARKER.items() if h is None)
#: Markers whose segment Pillow parses (frame headers, quantisation tables, DHP): left to Pillow.
_PARSED = frozenset(m & 0xFF for m in JpegImagePlugin.MARKER) - _READ - _APP - _COM - _BARE
_SOS = 0xDA
_SHORT_FIELDS = ((0xE0, b"JFIF"), (0xEE, b"Adobe"))  # APP segments whose parser reads a 16-bit field at 5
_PHOTOSHOP = (0xED, b"Photoshop 3.0\x00")


def refusal(data: bytes) -> BaseException | None:
    """The exception ``PIL.Image.open(io.BytesIO(data))`` raises, where the markers alone decide it; else None."""
    if not data.startswith(_SIGNATURE) or data[2048:2052] == b"PCD_":
        return None
    end = len(data)
    pos = 3  # Pillow reads the signature, then takes its last 0xFF as the start of the first marker
    while True:
        if pos >= end:
            return None  # the data ends: Pillow's loop ends and its later checks decide
        marker = data[pos]
        pos += 1
        if marker == 0xFF:  # fill byte: the next one is the marker
            continue
        if marker == 0x00 or marker in _BARE:
            pass
        elif marker in _READ or marker in _APP or marker in _COM:
            if marker == _SOS:
                return None  # a scan: Pillow opens the picture (decoding may still fail)
            if pos + 2 > end:
                return _unidentified(data)  # the length field is cut off: struct.error
            size = int.from_bytes(data[pos : pos + 2], "big") - 2
            pos += 2
            if size > 0:
                if pos + size > end:
                    return OSError("Truncated File Read")
                segment = data[pos : pos + size]
                pos += size
                if marker == _PHOTOSHOP[0] and segment.startswith(_PHOTOSHOP[1]):
                    return None
                if any(marker == m and segment.startswith(s) and size < 7 for m, s in _SHORT_FIELDS):
                    return _unidentified(data)
        elif marker in _PARSED:
            return None
        else:
            return _unidentified(data)  # no marker after 0xFF: Pillow's "no marker found"
        # After a marker (or an escaped 0xFF00) Pillow reads one byte, and skips anything up to the next 0xFF.
        if pos >= end:
            return None
        if data[pos] != 0xFF:
            following = data.find(b"\xff", pos)
            if following < 0:
                return None
            pos = following
        pos += 1


def _unidentified(data: bytes) -> UnidentifiedImageError:
    """What ``Image.open`` raises when no reader accepts the bytes (the same words, for the same report)."""
    return UnidentifiedImageError(f"cannot identify image file {io.BytesIO(data)!r}")
