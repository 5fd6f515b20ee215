"""File typing by signature (magic bytes), never by extension.

The head of each file (the first chunk the digest loop reads anyway) is matched against the table
below. The extension is only compared afterwards: a JPEG named ``notes.txt`` is a JPEG, and the
mismatch is recorded because an examiner may need to say so in court.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from safenet.wire import by_position


class MediaKind(StrEnum):
    """Broad class of a file type; stored in case files."""

    IMAGE = "image"
    VIDEO = "video"
    ARCHIVE = "archive"
    DOCUMENT = "document"
    OTHER = "other"


@by_position
@dataclass(frozen=True, slots=True)
class FileType:
    name: str  # stable short name, stored in case files ("jpeg", "mp4", "zip" ...)
    kind: MediaKind
    mime: str
    extensions: frozenset[str]

    @property
    def is_media(self) -> bool:
        return self.kind in (MediaKind.IMAGE, MediaKind.VIDEO)


def _ft(name: str, kind: MediaKind, mime: str, *exts: str) -> FileType:
    return FileType(name, kind, mime, frozenset(exts))


IMG, VID, ARC, DOC = MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.ARCHIVE, MediaKind.DOCUMENT
TYPES: dict[str, FileType] = {
    t.name: t
    for t in (
        _ft("jpeg", IMG, "image/jpeg", "jpg", "jpeg", "jpe", "jfif"),
        _ft("png", IMG, "image/png", "png"),
        _ft("apng", IMG, "image/apng", "png", "apng"),
        _ft("gif", IMG, "image/gif", "gif"),
        _ft("bmp", IMG, "image/bmp", "bmp", "dib"),
        _ft("webp", IMG, "image/webp", "webp"),
        _ft("tiff", IMG, "image/tiff", "tif", "tiff", "dng", "nef", "cr2", "arw", "orf"),
        _ft("heic", IMG, "image/heic", "heic", "heif", "hif"),
        _ft("heif", IMG, "image/heif", "heif", "heic", "hif"),
        _ft("avif", IMG, "image/avif", "avif"),
        _ft("cr3", IMG, "image/x-canon-cr3", "cr3"),
        _ft("raf", IMG, "image/x-fuji-raf", "raf"),
        _ft("jxl", IMG, "image/jxl", "jxl"),
        _ft("ico", IMG, "image/x-icon", "ico", "cur"),
        _ft("mp4", VID, "video/mp4", "mp4", "m4v", "m4a", "f4v"),
        _ft("mov", VID, "video/quicktime", "mov", "qt"),
        _ft("3gp", VID, "video/3gpp", "3gp", "3g2"),
        _ft("avi", VID, "video/x-msvideo", "avi"),
        _ft("mkv", VID, "video/x-matroska", "mkv", "mk3d"),
        _ft("webm", VID, "video/webm", "webm"),
        _ft("asf", VID, "video/x-ms-asf", "wmv", "asf", "wma"),
        _ft("flv", VID, "video/x-flv", "flv"),
        _ft("mpeg-ps", VID, "video/mpeg", "mpg", "mpeg", "vob"),
        _ft("mpeg-ts", VID, "video/mp2t", "ts", "mts", "m2ts"),
        _ft("zip", ARC, "application/zip", "zip", "jar", "apk", "cbz"),
        _ft("tar", ARC, "application/x-tar", "tar"),
        _ft("gzip", ARC, "application/gzip", "gz", "tgz"),
        _ft("bzip2", ARC, "application/x-bzip2", "bz2", "tbz", "tbz2"),
        _ft("xz", ARC, "application/x-xz", "xz", "txz"),
        _ft("7z", ARC, "application/x-7z-compressed", "7z"),
        _ft("rar", ARC, "application/vnd.rar", "rar", "cbr"),
        _ft("pdf", DOC, "application/pdf", "pdf"),
        _ft("ooxml", DOC, "application/vnd.openxmlformats-officedocument", "docx", "xlsx", "pptx", "docm"),
        _ft("odf", DOC, "application/vnd.oasis.opendocument", "odt", "ods", "odp", "odg"),
        _ft("ole", DOC, "application/x-ole-storage", "doc", "xls", "ppt", "msg", "db"),
        _ft("rtf", DOC, "application/rtf", "rtf"),
        _ft("thumbcache", MediaKind.OTHER, "application/x-windows-thumbcache", "db"),
        # mailboxes: the mail producer takes the attachments out (Thunderbird's mbox files have no extension)
        _ft("mbox", DOC, "application/mbox", "mbox", "mbx", ""),
        _ft("eml", DOC, "message/rfc822", "eml"),
        _ft("emlx", DOC, "message/x-emlx", "emlx"),  # Apple Mail: a byte count line, the message, a plist
        _ft("pst", DOC, "application/vnd.ms-outlook-pst", "pst", "ost"),
    )
}
UNKNOWN = _ft("unknown", MediaKind.OTHER, "application/octet-stream")
EMPTY = _ft("empty", MediaKind.OTHER, "application/x-empty")

#: How many bytes of the head the sniffers need at most.
HEAD_BYTES = 4096

_FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "heic",
    b"heix": "heic",
    b"hevc": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"hevm": "heic",
    b"mif1": "heif",
    b"msf1": "heif",
    b"avif": "avif",
    b"avis": "avif",
    b"crx ": "cr3",  # Canon CR3 camera RAW
    b"qt  ": "mov",
    b"3gp4": "3gp",
    b"3gp5": "3gp",
    b"3gp6": "3gp",
    b"3g2a": "3gp",
}


def _ftyp(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    if major in _FTYP_BRANDS:
        return _FTYP_BRANDS[major]
    if major.startswith(b"3g"):
        return "3gp"
    box_len = int.from_bytes(head[0:4], "big")
    compatible = head[16 : min(box_len, len(head))]
    brands = {compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)}
    for brand in (b"avif", b"heic", b"mif1"):
        if brand in brands:
            return _FTYP_BRANDS[brand]
    return "mp4"


def _riff(head: bytes) -> str | None:
    if head[:4] != b"RIFF" or len(head) < 12:
        return None
    return {b"WEBP": "webp", b"AVI ": "avi"}.get(head[8:12])


def _png(head: bytes) -> str | None:
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    actl, idat = head.find(b"acTL"), head.find(b"IDAT")
    return "apng" if actl != -1 and (idat == -1 or actl < idat) else "png"


def _zip(head: bytes) -> str | None:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return None
    if b"[Content_Types].xml" in head or b"word/" in head[:200] or b"xl/" in head[:200] or b"ppt/" in head[:200]:
        return "ooxml"
    if head[30:38] == b"mimetype" and b"application/vnd.oasis.opendocument" in head[38:120]:
        return "odf"
    return "zip"


def _tar(head: bytes) -> str | None:
    return "tar" if head[257:262] == b"ustar" else None


def _matroska(head: bytes) -> str | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    return "webm" if b"webm" in head[:64] else "mkv"


def _mpeg_ts(head: bytes) -> str | None:
    if len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    return None


_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"IIRO", "tiff"),  # Olympus ORF: a TIFF with its own magic number
    (b"IIRS", "tiff"),
    (b"MMOR", "tiff"),
    (b"FUJIFILMCCD-RAW ", "raf"),
    (b"\xff\x0a", "jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"),
    (b"FLV\x01", "flv"),
    (b"\x00\x00\x01\xba", "mpeg-ps"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"{\\rtf", "rtf"),
    (b"!BDN", "pst"),  # Outlook PST/OST: the NDB header's magic
)

# Header fields that open a message as mail clients store it; a text file rarely starts with two of them.
_MAIL_FIELDS = frozenset(
    b"from to cc bcc date subject message-id mime-version received return-path delivered-to reply-to sender "
    b"x-mozilla-status x-mozilla-status2 x-mozilla-keys x-account-key user-agent content-type".split()
)
_FIELD = re.compile(rb"([!-9;-~]+):[ \t]?[^\r\n]*\r?\n|[ \t][^\r\n]*\r?\n")


def _mail_header(head: bytes, start: int) -> bool:
    """Whether ``head[start:]`` begins an RFC 5322 header block: whole field lines up to the blank line or the
    end of the head, the first of them and at least one more known mail fields (From, Date, Received ...)."""
    known: set[bytes] = set()
    pos = start
    while (match := _FIELD.match(head, pos)) is not None:
        name = match.group(1)
        if name is not None:
            if name.lower() in _MAIL_FIELDS:
                known.add(name.lower())
            elif pos == start:
                return False
        elif pos == start:
            return False
        pos = match.end()
    rest = head[pos:]
    ends = rest.startswith((b"\n", b"\r\n")) or b"\n" not in rest  # the blank line, or a field cut by the head
    return ends and len(known) >= 2


_EMLX_COUNT = re.compile(rb"\d{1,12}[ \t]*\r?\n")


def _mail(head: bytes) -> str | None:
    if head.startswith(b"From "):  # an mbox: each message after a "From " separator line
        line_end = head.find(b"\n", 0, 1024)
        return "mbox" if line_end != -1 and _mail_header(head, line_end + 1) else None
    if (count := _EMLX_COUNT.match(head)) is not None:
        return "emlx" if _mail_header(head, count.end()) else None
    return "eml" if head[:1].isalpha() and _mail_header(head, 0) else None


_SNIFFERS: tuple[Callable[[bytes], str | None], ...] = (_png, _ftyp, _riff, _zip, _tar, _matroska, _mpeg_ts, _mail)


def _bmp(head: bytes) -> str | None:
    # "BM" alone is too weak (text files start with it); check the declared header size too.
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)
    ):
        return "bmp"
    return None


_THUMBCACHE_VERSIONS = frozenset({20, 21, 26, 28, 30, 31, 32})  # Vista .. 11 (evidence.caches.thumbcache)


def _thumbcache(head: bytes) -> str | None:
    # Windows Explorer's thumbnail cache: "CMMM" and a known format version (4 letters alone are weak).
    if head[:4] == b"CMMM" and len(head) >= 8 and int.from_bytes(head[4:8], "little") in _THUMBCACHE_VERSIONS:
        return "thumbcache"
    return None


def _by_first_byte(prefixes: tuple[tuple[bytes, str], ...]) -> dict[int, tuple[tuple[bytes, FileType], ...]]:
    table: dict[int, list[tuple[bytes, FileType]]] = {}
    for prefix, name in prefixes:
        table.setdefault(prefix[0], []).append((prefix, TYPES[name]))
    return {first: tuple(entries) for first, entries in table.items()}


# Asked once per file: the prefixes that can match by the head's first byte (in the order of _PREFIXES), and the
# sniffers in the order they are tried.
_PREFIXES_BY_FIRST_BYTE = _by_first_byte(_PREFIXES)
_ALL_SNIFFERS = (*_SNIFFERS, _bmp, _thumbcache)


def sniff(head: bytes) -> FileType:
    """The file type of a stream given its first bytes (at least HEAD_BYTES where the file has them)."""
    if not head:
        return EMPTY
    for prefix, filetype in _PREFIXES_BY_FIRST_BYTE.get(head[0], ()):
        if head.startswith(prefix):
            return filetype
    for sniffer in _ALL_SNIFFERS:
        found = sniffer(head)
        if found:
            return TYPES[found]
    return UNKNOWN


_UNTYPED = frozenset({UNKNOWN.name, EMPTY.name})


def extension_mismatch(filetype: FileType, name: str) -> bool:
    """True when a typed file's extension is not one its type uses (no extension counts as a mismatch)."""
    if filetype.name in _UNTYPED:
        return False
    dot = name.rfind(".")
    ext = name[dot + 1 :].lower() if dot > 0 else ""
    return ext not in filetype.extensions
