"""Where the messages of an mbox file are (Thunderbird's ``Inbox`` and ``Sent``, Apple Mail's ``mbox``, mutt).

A message starts at a line beginning "From " at the start of the file or after an empty line (mboxo/mboxrd:
a "From " inside a body is written ">From "). Only offsets are kept, so a mailbox of many gigabytes costs a
read in large blocks searched for the separator, not its size in memory nor a Python step per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

BLOCK = 1 << 20
_SEPARATOR = re.compile(rb"\n\r?\nFrom ")  # an empty line, then a "From " line
_OVERLAP = len(b"\n\r\nFrom ") - 1  # a separator split between two blocks is found in the next


def message_ranges(stream: BinaryIO, max_messages: int, report: Callable[[str], None]) -> Iterator[tuple[int, int]]:
    """(offset, length) of each message's bytes after its "From " line, in file order (``stream`` seeks)."""
    starts = _from_lines(stream, max_messages, report)
    end = stream.seek(0, 2)
    for index, start in enumerate(starts):
        header = _line_end(stream, start)
        stop = starts[index + 1] if index + 1 < len(starts) else end
        if header < stop:
            yield header, stop - header


def _from_lines(stream: BinaryIO, max_messages: int, report: Callable[[str], None]) -> list[int]:
    """Offsets of the "From " lines that start messages."""
    stream.seek(0)
    starts = [0] if stream.read(5) == b"From " else []
    stream.seek(0)
    tail = b""
    base = 0  # file offset of ``tail``
    while True:
        block = stream.read(BLOCK)
        if not block:
            return starts
        data = tail + block
        for match in _SEPARATOR.finditer(data):
            if len(starts) >= max_messages:
                report(f"more than {max_messages:,} messages; the rest were not examined")
                return starts
            starts.append(base + match.end() - len(b"From "))
        keep = min(_OVERLAP, len(data))
        tail = data[len(data) - keep :]
        base += len(data) - keep


def _line_end(stream: BinaryIO, offset: int) -> int:
    """The offset after the end of the line at ``offset`` (the end of the file if it has none)."""
    stream.seek(offset)
    position = offset
    while True:
        chunk = stream.readline(1 << 16)
        position += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return position
