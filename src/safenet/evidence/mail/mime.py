"""One message's attachments: the standard library's parser (policy=default), walked within limits.

Parts are numbered as 1-based child numbers from the message's root ("2.1": the first part of the second
part), the place an attachment's layer keeps; a forwarded message (message/rfc822) is one more level, walked
like a multipart. Decoding is done here, not by ``get_payload(decode=True)``, which drops damaged base64
silently: every problem is reported so the run can record it.
"""

from __future__ import annotations

import quopri
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from email import errors, policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from safenet.evidence.mail.common import MailLimits, decode_base64, is_examined_type
from safenet.evidence.model import TimeSource, Timestamp

Report = Callable[[str, str, str | None], None]  # (code, message, part or None)


@dataclass(frozen=True, slots=True)
class Attachment:
    part: str  # "2.1"
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Header:
    """What names a message for a person: its Message-ID and date (as written, may be hostile). Not its subject,
    which may describe the material: notes are printed in every report."""

    message_id: str
    date: str

    @property
    def sent(self) -> Timestamp | None:
        """The Date field as a time: in UTC when it has an offset, as written when its zone is "-0000" (RFC 5322:
        unknown); None when it is missing or not a date."""
        try:
            value = parsedate_to_datetime(self.date) if self.date else None
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if value is None:
            return None
        if value.tzinfo is None:
            return Timestamp(value, TimeSource.MAIL, 1.0, zone_known=False)
        return Timestamp(value.astimezone(UTC), TimeSource.MAIL, 1.0)


def parse(data: bytes, limits: MailLimits, report: Report) -> tuple[Message, bool]:
    """A message parsed leniently (defects are recorded on the parts, not raised); RecursionError, MemoryError
    and parser bugs on hostile input are left to the caller.

    The parser's work grows with the number of parts, which the walk below limits only after parsing: so the
    message is cut before its part delimiter number ``max_parts`` + 1 (a line starting "--"), and the parser
    sees a message whose later parts are missing (said once). Returns the message and whether it was cut."""
    pos = 0
    for _ in range(limits.max_parts):
        pos = data.find(b"\n--", pos) + 1
        if pos == 0:
            break
    else:
        report("mail-limit", f"more than {limits.max_parts:,} MIME part delimiters; the rest was not examined", None)
        return BytesParser(policy=policy.default).parsebytes(data[:pos]), True
    return BytesParser(policy=policy.default).parsebytes(data), False


def header(message: Message) -> Header:
    def field(name: str) -> str:
        try:
            return " ".join(str(message.get(name) or "").split())[:200]
        except Exception:  # a malformed header the default policy cannot parse into a structured value
            return ""

    return Header(field("Message-ID"), field("Date"))


def attachments(
    message: Message, limits: MailLimits, report: Report, only: str | None = None, cut: bool = False
) -> Iterator[Attachment]:
    """The message's attachments of a known type, in part order; ``only``: just the one at that part (reopen);
    ``cut``: ``parse`` cut the message (its missing closing boundaries are not damage then)."""
    taken = 0
    walked = 0
    stack: list[tuple[str, Message, int]] = [("", message, 0)]
    while stack:
        place, part, depth = stack.pop()
        walked += 1
        if walked > limits.max_parts:
            report("mail-limit", f"more than {limits.max_parts:,} MIME parts; the rest were not examined", None)
            return
        if part.is_multipart():
            defects = getattr(part, "defects", ())
            if not cut and any(isinstance(d, errors.CloseBoundaryNotFoundDefect) for d in defects):
                report("mail-corrupt", "the message ends before its parts' closing boundary (cut short)", place or None)
            children = part.get_payload()
            if not isinstance(children, list):
                continue
            if depth >= limits.max_nesting:
                where = place or "the message"
                report("mail-limit", f"parts nested deeper than {limits.max_nesting} levels at {where}", place or None)
                continue
            for number in range(len(children), 0, -1):  # pushed last first: walked in order
                child = children[number - 1]
                if isinstance(child, Message):
                    stack.append((f"{place}.{number}" if place else str(number), child, depth + 1))
            continue
        if not place or (only is not None and place != only):
            continue  # a single-part message's own body is its text, not an attachment
        found = _attachment(place, part, limits, report)
        if found is None:
            continue
        taken += 1
        if taken > limits.max_attachments:
            report("mail-limit", f"more than {limits.max_attachments:,} attachments; the rest were not examined", None)
            return
        yield found
        if only is not None:
            return


def _attachment(place: str, part: Message, limits: MailLimits, report: Report) -> Attachment | None:
    filename = _filename(part)
    if part.get_content_maintype() == "text" and not filename:
        return None  # a body
    raw = part.get_payload(decode=False)
    if not isinstance(raw, str):
        return None
    if len(raw) > limits.max_attachment_bytes * 4 // 3 + 4096:
        report("mail-limit", f"attachment larger than {limits.max_attachment_bytes:,} bytes: not examined", place)
        return None
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    # the parser keeps bytes that are not ASCII as surrogates (or U+FFFD): in base64 and quoted-printable they
    # are garbage either way, and the base64 decoder counts them
    encoded = raw.encode("utf-8", "surrogateescape")
    if encoding == "base64":
        data, problems = decode_base64(encoded)
        for problem in problems:
            report("mail-corrupt", problem, place)
    elif encoding == "quoted-printable":
        data = quopri.decodestring(encoded)
    else:  # 7bit, 8bit, binary, uuencode: the library's own decoding gives back the bytes as sent
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
    return Attachment(place, filename, data) if is_examined_type(data) else None


def _filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:  # a hostile RFC 2231 parameter the parser cannot decode
        return ""
