"""E-mail attachments as an item producer: pictures, videos and containers attached to mail become items.

Mailboxes: mbox files (Thunderbird's ``Inbox`` and ``Sent`` have no extension: recognised by their content,
a "From " line and RFC 5322 header fields), single ``.eml`` messages, Apple Mail's ``.emlx`` messages, and
Outlook PST/OST files through libpff. Each attachment of a known type (by signature) is yielded with a
MAIL_ATTACHMENT layer naming the message and the file (``common`` says how the layer is written), and is
examined like any other item: hashed, matched, graded, expanded itself (a zip attached to a mail is an archive).

Which mailbox an attachment came from (:func:`mailbox_of`: the mbox file, the .eml's folder, or the PST's
folder path) is what ``analysis.appmedia`` reads to flag attachments of sent mail.

Mail is hostile input: every message, part and attachment is held to :class:`MailLimits`, and what cannot be
read is a warning with its locator (codes: :data:`WARNING_CODES`); the run goes on.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Generator, Iterable, Sequence
from email.message import Message
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import stream_size
from safenet.evidence.embedded.common import read_upto
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.mail import mime
from safenet.evidence.mail.common import (
    EML,
    EMLX,
    FORMATS,
    MBOX,
    ONE_MESSAGE,
    PST,
    WARNING_CODES,
    MailLimits,
    PstPlace,
    attachment_item,
    mail_depth,
    parse_detail,
    pst_detail,
    warn_at,
)
from safenet.evidence.mail.mbox import message_ranges
from safenet.evidence.model import EvidenceError, Item, TimeSource, Timestamp, WarningSink
from safenet.reasons import reason_of

__all__ = [
    "WARNING_CODES",
    "MailLimits",
    "expand_mail",
    "mail_kind",
    "mailbox_of",
    "open_mail_attachment",
]

Found = Generator[tuple[Item, BinaryIO], None, None]
Range = tuple[int, int]  # a message's offset and length in its mailbox file
# What the lenient email parser raises on crafted input (deep nesting, odd charsets): the message is damaged
_PARSER_ERRORS = (RecursionError, MemoryError, LookupError, ValueError, TypeError, AttributeError)


def mail_kind(item: Item, filetype: str, limits: MailLimits | None = None) -> str | None:
    """The mailbox format of an item typed ``filetype`` ("mbox", "eml", "pst"), or None: not a mailbox, or a
    mailbox attached inside as many mailboxes as the limit allows."""
    limits = limits if limits is not None else MailLimits()
    return filetype if filetype in FORMATS and mail_depth(item) < limits.max_depth else None


def expand_mail(
    parent: Item, kind: str, open_parent: Callable[[], BinaryIO], warn: WarningSink, limits: MailLimits | None = None
) -> Found:
    """Yield each attachment of a known type in the mailbox with its bytes; a stream is valid until the next.

    Bad data never raises out of here (it becomes warnings); an OSError from ``open_parent`` does."""
    limits = limits if limits is not None else MailLimits()
    if mail_depth(parent) >= limits.max_depth:
        warn_at(warn, "mail-limit", f"a mailbox inside {limits.max_depth} mailboxes: not expanded", parent)
        return
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            if kind == PST:
                yield from _pst(parent, stream, warn, limits)
            else:
                yield from _messages(parent, kind, stream, warn, limits)
        finally:
            if stream is not opened:
                stream.close()


def _ranges(kind: str, stream: BinaryIO, limits: MailLimits, parent: Item, warn: WarningSink) -> Iterable[Range]:
    """Where the messages of a mailbox file are: every one of an mbox, the whole of an .eml, and the byte count
    the first line of an Apple Mail .emlx gives (the flags plist after it is not mail)."""
    if kind == MBOX:
        return message_ranges(stream, limits.max_messages, lambda problem: warn_at(warn, "mail-limit", problem, parent))
    size = stream_size(stream)
    if kind != EMLX:
        return [(0, size)]
    first = read_upto(stream, 0, 64)
    count, _, _ = first.partition(b"\n")
    start = len(count) + 1
    declared = int(count.strip()) if count.strip().isdigit() else 0
    if declared > size - start:
        message = (
            f"the .emlx byte count says {declared:,} bytes, {max(size - start, 0):,} follow: read as far as it goes"
        )
        warn_at(warn, "mail-corrupt", message, parent)
        declared = max(size - start, 0)
    return [(start, declared)]


def _messages(parent: Item, kind: str, stream: BinaryIO, warn: WarningSink, limits: MailLimits) -> Found:
    ranges = _ranges(kind, stream, limits, parent, warn)
    for number, (offset, length) in enumerate(ranges, 1):
        here = stream.tell()
        where = Layer(LayerKind.MAIL_ATTACHMENT, f"message {number}", offset=offset, length=length, detail=kind)
        if length > limits.max_message_bytes:
            problem = f"message {number}: {length:,} bytes, larger than {limits.max_message_bytes:,}: not examined"
            warn_at(warn, "mail-limit", problem, parent, where)
            continue
        data = read_upto(stream, offset, length)
        stream.seek(here)  # the mbox reader goes on from where it was
        parsed = _parse(data, limits, _reporter(warn, parent, kind, where.value, offset, length))
        if parsed is None:
            continue
        message, cut = parsed
        head = mime.header(message)
        name = f"message {number}" + (f" {head.message_id}" if head.message_id else "")
        try:
            report = _reporter(warn, parent, kind, name, offset, length)
            for found in mime.attachments(message, limits, report, cut=cut):
                layer = Layer(
                    LayerKind.MAIL_ATTACHMENT,
                    f"{name} › {found.filename or 'part ' + found.part}",
                    offset=offset,
                    length=length,
                    detail=f"{kind}:{found.part}",
                )
                note = _note(found.filename, head, parent, kind)
                item = attachment_item(parent, layer, found.filename, found.data, note, head.sent)
                yield item, io.BytesIO(found.data)
        except _PARSER_ERRORS as exc:
            warn_at(warn, "mail-corrupt", f"{name}: its parts cannot be read ({reason_of(exc)})", parent, where)


def _reporter(warn: WarningSink, parent: Item, kind: str, name: str, offset: int, length: int) -> mime.Report:
    """Problems of one message, each with the locator of the message, or of its part where it concerns one."""

    def report(code: str, problem: str, part: str | None) -> None:
        detail = f"{kind}:{part}" if part else kind
        at = Layer(LayerKind.MAIL_ATTACHMENT, name, offset=offset, length=length, detail=detail)
        warn_at(warn, code, f"{name}: {problem}", parent, at)

    return report


def _parse(data: bytes, limits: MailLimits, report: mime.Report) -> tuple[Message, bool] | None:
    try:
        return mime.parse(data, limits, report)
    except _PARSER_ERRORS as exc:
        report("mail-corrupt", f"cannot be parsed ({reason_of(exc)})", None)
        return None


def _note(filename: str, head: mime.Header, parent: Item, kind: str) -> str:
    message = f"the message {display_safe(head.message_id)}" if head.message_id else "a message"
    dated = f" dated {display_safe(head.date)}" if head.date else ""
    box = {MBOX: "mbox mailbox", EML: ".eml file", EMLX: "Apple Mail .emlx file", PST: "PST/OST folder"}[kind]
    return _attachment_note(filename, message + dated, f"{box} {parent.name}")


def _attachment_note(filename: str, message: str, mailbox: str) -> str:
    """An attachment's note: its name, its message and its mailbox (the names are the mail's: escaped)."""
    what = f"attachment {display_safe(filename)}" if filename else "attachment"
    return f"{what} of {message} in the {display_safe(mailbox)}"


def _pst(parent: Item, stream: BinaryIO, warn: WarningSink, limits: MailLimits) -> Found:
    from safenet.evidence.mail import pst  # libpff: imported when a PST is met

    try:
        pff = pst.open_pst(stream)
    except pst.PstUnavailable as exc:
        warn_at(warn, "mail-unsupported", f"{exc}: attachments not examined", parent)
        return
    except EvidenceError as exc:
        warn_at(warn, "mail-corrupt", str(exc), parent)
        return

    def report(code: str, problem: str) -> None:
        warn_at(warn, code, problem, parent)

    try:
        for found in pst.pst_attachments(pff, limits, report):
            folder = found.place.folder_path
            name = f"{folder} › message {found.identifier} › {found.filename or f'attachment {found.place.attachment}'}"
            layer = Layer(LayerKind.MAIL_ATTACHMENT, name, inode=found.identifier, detail=pst_detail(found.place))
            # no subject: like a P2P record's name, a subject may describe the material (restricted output only)
            note = _attachment_note(found.filename, f"the message {found.identifier}", f"PST/OST folder {folder}")
            sent = Timestamp(found.sent, TimeSource.MAIL, 1e-7) if found.sent is not None else None
            yield attachment_item(parent, layer, found.filename, found.data, note, sent), io.BytesIO(found.data)
    finally:
        pff.close()


def open_mail_attachment(container: BinaryIO, layer: Layer, limits: MailLimits | None = None) -> BinaryIO:
    """Reopen one attachment from its layer and a seekable stream of its mailbox."""
    limits = limits if limits is not None else MailLimits()
    fmt, place = parse_detail(layer)
    if isinstance(place, PstPlace):
        from safenet.evidence.mail import pst  # libpff: imported when a PST is met

        pff = pst.open_pst(container)
        try:
            return io.BytesIO(pst.open_attachment(pff, layer.inode, place, limits))
        finally:
            pff.close()
    offset, length = layer.offset, layer.length
    size = stream_size(container)
    if offset is None or length is None or offset < 0 or length < 0 or offset + length > size:
        raise EvidenceError(f"mail message range {offset}+{length} lies outside its mailbox ({size} bytes)")
    if length > limits.max_message_bytes:
        raise EvidenceError(f"mail message of {length:,} bytes is larger than the limit")
    problems: list[str] = []

    def report(code: str, problem: str, part: str | None) -> None:
        problems.append(problem)

    try:
        message, cut = mime.parse(read_upto(container, offset, length), limits, report)
        found = next(mime.attachments(message, limits, report, only=place, cut=cut), None)
    except _PARSER_ERRORS as exc:
        raise EvidenceError(f"mail message cannot be parsed: {reason_of(exc)}") from exc
    if found is None:
        raise EvidenceError(f"no attachment at part {place} of the {fmt} message ({'; '.join(problems) or 'gone'})")
    return io.BytesIO(found.data)


def mailbox_of(layers: Sequence[Layer]) -> str | None:
    """The mailbox an item's innermost mail attachment came from, as a path ("Mail/Local Folders/Sent" for an
    mbox, the .eml file's folder, "Outlook.pst/Top of Personal Folders/Sent Items" for a PST folder), or None:
    the item is not a mail attachment. The path is that of the mailbox file: its last path or archive-member
    layer before the attachment's layer."""
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        if layer.kind is not LayerKind.MAIL_ATTACHMENT:
            continue
        named = [x.value for x in layers[:index] if x.kind in (LayerKind.PATH, LayerKind.ARCHIVE_MEMBER)]
        file = named[-1].replace("\\", "/") if named else ""
        try:
            fmt, place = parse_detail(layer)
        except EvidenceError:
            return None
        if isinstance(place, PstPlace):
            return f"{file}/{place.folder_path}"
        return posixpath.dirname(file) if fmt in ONE_MESSAGE else file
    return None
