"""Locators: immutable, chained addresses of byte streams inside evidence.

A locator names every layer from the source the examiner pointed Safenet at down to the bytes of one
item, so that any process can reopen the item from the locator alone (dfVFS's path specifications,
with typed frozen dataclasses instead of keyword bags). Names from evidence are hostile: they may hold
control characters or bytes that are not UTF-8 (kept as surrogate escapes). The JSON form is pure
ASCII and round-trips them exactly; :func:`display_safe` renders them for humans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from safenet.wire import by_position


class LayerKind(StrEnum):
    """What one link of a locator chain is. The values are stored in case files: never rename them."""

    SOURCE = "source"  # the path the examiner gave: a folder, an image file, a device
    IMAGE = "image"  # a storage-media image format layer (E01, VMDK, QCOW ...)
    PARTITION = "partition"  # a volume-system entry (MBR/GPT partition, LVM volume, VSS store)
    ENCRYPTION = "encryption"  # an unlocked encrypted volume (BitLocker, LUKS ...)
    FILESYSTEM = "filesystem"  # a file system inside a volume (NTFS, FAT, ext4 ...)
    PATH = "path"  # a file by path (relative to its parent layer), with inode where known
    STREAM = "stream"  # a named data stream of a file (NTFS ADS)
    ARCHIVE_MEMBER = "archive-member"  # a member of a zip/tar/7z archive
    CARVED = "carved"  # a byte range carved from its parent
    CACHE_ENTRY = "cache-entry"  # an entry of a thumbnail or browser cache
    EMBEDDED = "embedded"  # a picture inside a picture or a document (EXIF thumbnail, MPO, PDF, Office)
    # a phone or tablet: value names the device (model and serial/UDID), detail the acquisition method
    # (evidence.phone.identity.Acquisition); the PATH layers below it are paths on the device
    DEVICE = "device"
    # an attachment of an e-mail message in a mailbox (mbox, .eml, PST): value names the message and the file,
    # detail holds the mailbox format and where the attachment is (evidence.mail.common)
    MAIL_ATTACHMENT = "mail-attachment"


#: One encoder for every locator: ``json.dumps`` with options builds a new one per call (once per item recorded).
_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


@by_position
@dataclass(frozen=True, slots=True)
class Layer:
    """One link of a locator chain. Only the fields that mean something for the kind are set."""

    kind: LayerKind
    value: str = ""  # path, member name, partition name, format name, cache id ...
    inode: int | None = None
    offset: int | None = None
    length: int | None = None
    detail: str | None = None  # back-end specific qualifier (archive format, file-system type ...)

    def to_dict(self) -> dict[str, Any]:
        # field by field, not a loop over names: every recorded item's locator comes through here
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.value:
            out["value"] = self.value
        if self.inode is not None:
            out["inode"] = self.inode
        if self.offset is not None:
            out["offset"] = self.offset
        if self.length is not None:
            out["length"] = self.length
        if self.detail:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layer:
        return cls(
            kind=LayerKind(data["kind"]),
            value=data.get("value", ""),
            inode=data.get("inode"),
            offset=data.get("offset"),
            length=data.get("length"),
            detail=data.get("detail"),
        )

    def render(self) -> str:
        text = display_safe(self.value)
        kind = self.kind
        if kind is LayerKind.PATH:  # first: every recorded item's locator renders one or more of these
            return f"{text} (inode {self.inode})" if self.inode is not None else text
        if kind is LayerKind.SOURCE:
            return text
        if kind is LayerKind.STREAM:
            return f":{text}"
        if self.kind is LayerKind.CARVED:
            end = (self.offset or 0) + (self.length or 0)
            return f"carved[{self.offset}-{end}]"
        if self.kind is LayerKind.CACHE_ENTRY:
            return f"entry {text}"
        if self.kind is LayerKind.EMBEDDED:  # value: what it is; offset/length: where in the parent (or stream)
            has_range = self.offset is not None and self.length is not None
            where = f"[{self.offset}-{(self.offset or 0) + (self.length or 0)}]" if has_range else ""
            return f"{'stream ' if self.detail == 'ole' else ''}{text}{where}"
        if self.kind is LayerKind.IMAGE and not text:  # an image format layer names its format ("raw", "ewf")
            return display_safe(self.detail or "image")
        if self.kind in (LayerKind.PARTITION, LayerKind.FILESYSTEM) and self.detail:
            return f"{text} {display_safe(self.detail)}".strip()
        if self.kind is LayerKind.MAIL_ATTACHMENT:
            return f"mail {text}"
        if self.kind is LayerKind.DEVICE:
            return f"{text} [{display_safe(self.detail)}]" if self.detail else text
        return text


@by_position
@dataclass(frozen=True, slots=True)
class Locator:
    """A chain of layers from the evidence source to the bytes of one item."""

    layers: tuple[Layer, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.layers or self.layers[0].kind is not LayerKind.SOURCE:
            raise ValueError("a locator starts with a SOURCE layer")

    @classmethod
    def source(cls, path: str) -> Locator:
        return cls((Layer(LayerKind.SOURCE, path),))

    def child(self, layer: Layer) -> Locator:
        return Locator((*self.layers, layer))

    @property
    def parent(self) -> Locator | None:
        return Locator(self.layers[:-1]) if len(self.layers) > 1 else None

    @property
    def leaf(self) -> Layer:
        return self.layers[-1]

    @property
    def archive_depth(self) -> int:
        return sum(1 for layer in self.layers if layer.kind is LayerKind.ARCHIVE_MEMBER)

    def to_json(self) -> str:
        """Canonical ASCII JSON; equal locators give equal strings (used as the key in case files)."""
        return _JSON.encode([layer.to_dict() for layer in self.layers])

    @classmethod
    def from_json(cls, text: str) -> Locator:
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("a locator is a JSON list of layers")
        return cls(tuple(Layer.from_dict(item) for item in data))

    def __str__(self) -> str:
        parts: list[str] = []
        for layer in self.layers:
            text = layer.render()
            if layer.kind is LayerKind.STREAM and parts:
                parts[-1] += text
            else:
                parts.append(text)
        return " › ".join(parts)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Characters Python calls printable that still draw nothing, so a name holding them looks like another name:
# Hangul fillers, the combining grapheme joiner, the Braille blank, Khmer's invisible vowels.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800\u17b4\u17b5")


def json_display_safe(text: str) -> str:
    """JSON text (``json.dumps`` with ``ensure_ascii=False``) with every character ``display_safe`` would escape
    written as a JSON ``\\u`` escape instead: a terminal or viewer shows none of them raw, and the JSON reads back
    the same. The encoder escapes only C0 controls; this takes C1 controls such as CSI, bidi overrides, zero-width
    and tag characters, lone surrogates. Line breaks between tokens stay (a JSON string holds none raw)."""
    return "\n".join(
        line
        if display_safe(line) == line
        else "".join(ch if display_safe(ch) == ch else _json_escape(ch) for ch in line)
        for line in text.split("\n")
    )


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a JSON escape of a character beyond the BMP is its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def display_safe(text: str) -> str:
    """Render evidence-derived text on one line, every character visible and unambiguous.

    Escaped: control characters, undecodable bytes (kept by surrogateescape), format characters (bidi
    overrides that disguise extensions as in ``x\\u202egpj.exe``, zero-width spaces and joiners, soft
    hyphens, tag characters), separators other than the ASCII space (no-break and other-width spaces, line
    and paragraph separators) and the few printable characters that draw nothing (``_INVISIBLE``).
    """
    if text.isprintable() and _INVISIBLE.isdisjoint(text):  # the common case
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() and ch not in _INVISIBLE:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)
