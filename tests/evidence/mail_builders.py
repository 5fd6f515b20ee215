"""Mail built by the tests with the standard library's ``email`` package: messages with attachments, mbox files
as Thunderbird writes them (a "From - date" line, X-Mozilla fields, an empty line between messages)."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

FROM_LINE = b"From - Mon Jan 15 10:00:00 2024\r\n"


def message(
    subject: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    *,
    message_id: str | None = None,
    forwarded: EmailMessage | None = None,
) -> EmailMessage:
    """A message from the suspect with a text body and ``attachments`` (file name, bytes, MIME type)."""
    msg = EmailMessage()
    msg["From"] = "Suspect <suspect@example.org>"
    msg["To"] = "Other <other@example.net>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 15 Jan 2024 10:00:00 +0000"
    msg["Message-ID"] = message_id or make_msgid(domain="example.org")
    msg.set_content("see attached\n")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if forwarded is not None:
        msg.add_attachment(forwarded)
    return msg


def mbox(messages: list[EmailMessage]) -> bytes:
    """An mbox file as Thunderbird writes it (CRLF lines, X-Mozilla-Status first)."""
    out = []
    for msg in messages:
        body = msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        body = body.replace(b"\r\nFrom ", b"\r\n>From ")
        out.append(FROM_LINE + b"X-Mozilla-Status: 0001\r\nX-Mozilla-Status2: 00000000\r\n" + body + b"\r\n")
    return b"".join(out)


def emlx(msg: bytes, count: int | None = None) -> bytes:
    """An Apple Mail .emlx file: the message's byte count on the first line, the message, a flags plist."""
    plist = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>flags</key>'
    plist += b"<integer>8590195713</integer></dict></plist>\n"
    return f"{len(msg) if count is None else count}        \n".encode() + msg + plist


def raw_message(parts: list[bytes], *, boundary: str = "b0", headers: bytes = b"") -> bytes:
    """A multipart/mixed message written by hand (for the hostile cases the ``email`` package will not write)."""
    head = (
        b"From: suspect@example.org\r\nTo: other@example.net\r\nSubject: raw\r\nMessage-ID: <raw@example.org>\r\n"
        b"MIME-Version: 1.0\r\n" + headers + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
    )
    sep = f"--{boundary}\r\n".encode()
    return head + b"".join(sep + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()


def base64_part(name: str, mime: str, encoded: bytes) -> bytes:
    return (
        f'Content-Type: {mime}\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + encoded
