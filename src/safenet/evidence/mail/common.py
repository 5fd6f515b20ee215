"""What the mailbox readers share: limits, warning codes, the MAIL_ATTACHMENT layer and attachment items.

A mail-attachment layer names the message and the attachment for a person (``value``) and says where the
attachment is for the code that reopens it (``detail``, ``offset``/``length``, ``inode``):

- mbox, .eml and Apple Mail's .emlx: ``detail`` is ``"mbox:PART"``, ``"eml:PART"`` or ``"emlx:PART"``, PART
  the attachment's MIME part as 1-based child numbers from the message's root ("2", "2.1.3");
  ``offset``/``length`` the message's bytes in the mailbox file (an .eml or .emlx file is one message);
- PST/OST: ``detail`` is ``"pst:FOLDERS:MESSAGE:ATTACHMENT:FOLDER PATH"``, FOLDERS the sub-folder numbers
  from the root folder ("0.3", empty for the root), MESSAGE and ATTACHMENT 0-based numbers, FOLDER PATH the
  folders' names joined by "/" (last, so a name may hold any character); ``inode`` the message's identifier,
  checked when the attachment is reopened.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Final

from safenet.analysis.filetype import sniff
from safenet.evidence.caches.common import image_extension
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, Timestamp, WarningSink

MIB = 1 << 20
MBOX, EML, EMLX, PST = "mbox", "eml", "emlx", "pst"
FORMATS: Final = (MBOX, EML, EMLX, PST)
ONE_MESSAGE: Final = (EML, EMLX)  # files that hold one message (their folder is the mailbox)

WARNING_CODES: dict[str, str] = {
    "mail-corrupt": "a mailbox or message is damaged (MIME structure that cannot be parsed, base64 with "
    "characters outside its alphabet or cut short, a PST/OST that libpff cannot read); attachments before the "
    "damage stand, a cut-short attachment is examined as far as it goes",
    "mail-limit": "a mailbox or message went past a limit (message size, parts or attachments per message, "
    "nesting of forwarded messages, messages per mailbox, attachment size, mailboxes inside attachments); the "
    "rest was not examined",
    "mail-unsupported": "an Outlook PST/OST file while libpff (libpff-python) is not installed; its attachments "
    "were not examined",
}


@dataclass(frozen=True, slots=True)
class MailLimits:
    """How much work one mailbox may cause (mail is hostile input like any other)."""

    max_message_bytes: int = 64 * MIB  # a larger message is not parsed
    max_parts: int = 2_000  # MIME parts walked in one message
    max_attachments: int = 500  # attachments taken from one message
    max_nesting: int = 8  # multipart and forwarded-message (message/rfc822) levels inside one message
    max_messages: int = 1_000_000  # messages read from one mailbox
    max_attachment_bytes: int = 256 * MIB  # a larger attachment is refused
    max_folders: int = 100_000  # PST/OST folders walked
    max_folder_depth: int = 64  # PST/OST folder nesting
    max_depth: int = 3  # mailboxes inside attachments of mailboxes (an .eml attached to an .eml ...)


def mail_depth(item: Item) -> int:
    return sum(1 for layer in item.locator.layers if layer.kind is LayerKind.MAIL_ATTACHMENT)


def warn_at(warn: WarningSink, code: str, message: str, parent: Item, layer: Layer | None = None) -> None:
    locator = parent.locator.child(layer) if layer is not None else parent.locator
    warn(EvidenceWarning(code, display_safe(message), locator))


@dataclass(frozen=True, slots=True)
class PstPlace:
    """Where a PST/OST attachment is: folder numbers from the root, message and attachment numbers."""

    folders: tuple[int, ...]
    message: int
    attachment: int
    folder_path: str


def parse_detail(layer: Layer) -> tuple[str, str | PstPlace]:
    """The mailbox format and the attachment's place from a MAIL_ATTACHMENT layer (EvidenceError if damaged)."""
    if layer.kind is not LayerKind.MAIL_ATTACHMENT:
        raise EvidenceError(f"not a mail-attachment layer: {layer.kind.value}")
    fmt, _, rest = (layer.detail or "").partition(":")
    if fmt in (MBOX, *ONE_MESSAGE) and re.fullmatch(r"[1-9]\d*(?:\.[1-9]\d*)*", rest):
        return fmt, rest
    if fmt == PST:
        match = re.fullmatch(r"((?:\d+(?:\.\d+)*)?):(\d+):(\d+):(.*)", rest, re.DOTALL)
        if match:
            folders = tuple(int(n) for n in match.group(1).split(".")) if match.group(1) else ()
            return fmt, PstPlace(folders, int(match.group(2)), int(match.group(3)), match.group(4))
    raise EvidenceError(f"damaged mail-attachment layer: {display_safe(layer.detail or '')!r}")


def pst_detail(place: PstPlace) -> str:
    folders = ".".join(str(n) for n in place.folders)
    return f"{PST}:{folders}:{place.message}:{place.attachment}:{place.folder_path}"


def attachment_item(
    parent: Item, layer: Layer, filename: str, data: bytes, note: str, sent: Timestamp | None = None
) -> Item:
    """The Item for one attachment: named as the message named it (a picture without a name gets the part's
    place and its type's extension); an attachment is seen by opening the mail, so it keeps the mailbox's flags.
    ``sent``: the message's date, kept as the item's modified time (the attachment has no file time of its own)."""
    base = re.split(r"[\\/]", filename)[-1].strip() if filename else ""
    name = base or f"attachment-{layer.detail.rsplit(':', 1)[-1] if layer.detail else ''}.{image_extension(data)}"
    locator = parent.locator.child(layer)
    return Item(locator, name, len(data), sent, deleted=parent.deleted, carved=parent.carved, note=note)


def is_examined_type(data: bytes) -> bool:
    """Attachments kept as items: any with a known signature (pictures, videos, archives, documents, mail);
    message bodies, signatures and unknown blobs are not."""
    return sniff(data[:4096]).name not in ("unknown", "empty")


_NOT_BASE64 = bytes(sorted(set(range(256)) - set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")))
_WHITESPACE = b" \t\r\n"


def decode_base64(text: bytes) -> tuple[bytes, list[str]]:
    """Base64 decoded as mail clients do (characters outside the alphabet skipped), with what was wrong with it:
    characters outside the alphabet, padding in the middle, or an end cut short (the whole groups before it
    are kept)."""
    problems: list[str] = []
    stripped = text.translate(None, _WHITESPACE)
    clean = stripped.translate(None, _NOT_BASE64)
    pad = stripped.rstrip(b"=")
    garbage = len(pad.translate(None, b"=")) - len(clean)
    if garbage:
        problems.append(f"{garbage} characters outside base64 skipped")
    if b"=" in pad:
        problems.append("base64 padding in the middle of the data")
    whole = len(clean) // 4 * 4
    tail = clean[whole:]
    if len(tail) == 1:
        problems.append("base64 cut short (one character after the last whole group)")
        tail = b""
    elif tail and not stripped.endswith(b"="):
        problems.append("base64 cut short (the last group has no padding)")
    data = binascii.a2b_base64(clean[:whole] + tail + b"=" * (-len(tail) % 4)) if clean else b""
    return data, problems
