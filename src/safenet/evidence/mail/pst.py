"""Outlook PST/OST attachments through libyal's libpff (``pypff``, the libpff-python binding).

libpff reads the file from a Python stream (``open_file_object``), so a PST inside an image or an archive is
read in place. Folders are walked from the root, depth first, within :class:`MailLimits`; an attachment is
reopened by its folder numbers, message number and attachment number, and the message's identifier is checked
so that a different file at the same place is an error, not a wrong answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from safenet.evidence.mail.common import MailLimits, PstPlace, is_examined_type
from safenet.evidence.model import EvidenceError
from safenet.reasons import reason_of

Report = Callable[[str, str], None]  # (code, message)


class PstUnavailable(EvidenceError):
    """libpff-python is not installed."""


def _pypff() -> Any:
    try:
        return importlib.import_module("pypff")  # no type stubs: kept Any here, typed at this module's surface
    except ImportError as exc:
        raise PstUnavailable("libpff-python (pypff) is not installed") from exc


@dataclass(frozen=True, slots=True)
class PstAttachment:
    place: PstPlace
    identifier: int  # the message's identifier (its descriptor in the PST)
    filename: str
    data: bytes
    sent: datetime | None  # the message's submit time (sent mail) or else its delivery time, UTC


def open_pst(stream: BinaryIO) -> Any:
    """A libpff file over ``stream``; EvidenceError when libpff cannot read it."""
    pff = _pypff().file()
    try:
        pff.open_file_object(stream)
    except (OSError, ValueError, MemoryError) as exc:
        raise EvidenceError(f"libpff cannot read this PST/OST: {reason_of(exc)}") from exc
    return pff


def pst_attachments(pff: Any, limits: MailLimits, report: Report) -> Iterator[PstAttachment]:
    """Every attachment of a known type, folder by folder; a damaged folder or message is reported and skipped."""
    try:
        root = pff.get_root_folder()
    except OSError as exc:
        report("mail-corrupt", f"the PST/OST's root folder cannot be read: {reason_of(exc)}")
        return
    stack: list[tuple[tuple[int, ...], tuple[str, ...], Any]] = [((), (), root)]
    folders = 0
    messages = 0
    while stack:
        numbers, names, folder = stack.pop()
        folders += 1
        if folders > limits.max_folders:
            report("mail-limit", f"more than {limits.max_folders:,} folders; the rest were not examined")
            return
        path = "/".join(names)
        try:
            count = folder.get_number_of_sub_messages()
        except OSError as exc:
            report("mail-corrupt", f"folder {path or '(root)'}: its messages cannot be listed: {reason_of(exc)}")
            count = 0
        for index in range(count):
            messages += 1
            if messages > limits.max_messages:
                report("mail-limit", f"more than {limits.max_messages:,} messages; the rest were not examined")
                return
            yield from _message(folder, numbers, path, index, limits, report)
        try:
            subs = [folder.get_sub_folder(i) for i in range(folder.get_number_of_sub_folders())]
        except OSError as exc:
            report("mail-corrupt", f"folder {path or '(root)'}: its sub-folders cannot be listed: {reason_of(exc)}")
            continue
        if subs and len(numbers) >= limits.max_folder_depth:
            report("mail-limit", f"folder {path}: folders nested deeper than {limits.max_folder_depth} levels")
            continue
        for i in range(len(subs) - 1, -1, -1):  # pushed last first: walked in order
            stack.append(((*numbers, i), (*names, _text(subs[i], "get_name") or f"folder {i}"), subs[i]))


def _message(
    folder: Any, numbers: tuple[int, ...], path: str, index: int, limits: MailLimits, report: Report
) -> Iterator[PstAttachment]:
    try:
        message = folder.get_sub_message(index)
        identifier = int(message.get_identifier())
        count = message.get_number_of_attachments()
    except OSError as exc:
        report("mail-corrupt", f"folder {path or '(root)'}: message {index} cannot be read: {reason_of(exc)}")
        return
    sent = _time(message, "get_client_submit_time") or _time(message, "get_delivery_time")
    if count > limits.max_attachments:
        report("mail-limit", f"message {identifier}: {count:,} attachments, only {limits.max_attachments:,} examined")
        count = limits.max_attachments
    for number in range(count):
        place = PstPlace(numbers, index, number, path)
        try:
            data, filename = read_attachment(message, number, limits)
        except EvidenceError as exc:
            report("mail-corrupt", f"message {identifier}: attachment {number}: {exc}")
            continue
        if data is not None and is_examined_type(data):
            yield PstAttachment(place, identifier, filename, data, sent)


def read_attachment(message: Any, number: int, limits: MailLimits) -> tuple[bytes | None, str]:
    """An attachment's bytes (None: too large, or an attached item rather than a file) and its file name."""
    try:
        attachment = message.get_attachment(number)
        size = attachment.get_size()
        if size is None:
            return None, ""  # an attached Outlook item (a forwarded message): no data stream of its own
        if size > limits.max_attachment_bytes:
            raise EvidenceError(f"{size:,} bytes, larger than {limits.max_attachment_bytes:,}: not examined")
        attachment.seek_offset(0)
        data = attachment.read_buffer(size) if size else b""
    except OSError as exc:
        raise EvidenceError(f"cannot be read: {reason_of(exc)}") from exc
    return bytes(data), _text(attachment, "get_long_filename")


def open_attachment(pff: Any, identifier: int | None, place: PstPlace, limits: MailLimits) -> bytes:
    """The bytes of the attachment at ``place``, whose message must have ``identifier``."""
    try:
        folder = pff.get_root_folder()
        for number in place.folders:
            folder = folder.get_sub_folder(number)
        message = folder.get_sub_message(place.message)
        found = int(message.get_identifier())
    except OSError as exc:
        raise EvidenceError(f"PST/OST message not found: {reason_of(exc)}") from exc
    if identifier is not None and found != identifier:
        raise EvidenceError(f"PST/OST message {identifier} is not at its place (found {found})")
    data, _ = read_attachment(message, place.attachment, limits)
    if data is None:
        raise EvidenceError("PST/OST attachment has no data")
    return data


def _time(obj: Any, getter: str) -> datetime | None:
    """A FILETIME property as an aware UTC datetime (libpff gives it naive, in UTC), or None."""
    try:
        value = getattr(obj, getter)()
    except (OSError, ValueError, OverflowError, AttributeError):
        return None
    if not isinstance(value, datetime) or value.year < 1980:  # unset FILETIMEs read as 1601
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(obj: Any, getter: str) -> str:
    try:
        value = getattr(obj, getter)()
    except (OSError, UnicodeError, ValueError):
        return ""
    return str(value) if value is not None else ""
