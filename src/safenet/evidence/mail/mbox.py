"""Where the messages of an mbox file are (Thunderbird's ``Inbox`` and ``Sent``, Apple Mail's ``mbox``, mutt).

A message starts at a line beginning "From " at the start of the file or after an empty line (mboxo/mboxrd:
a "From " inside a body is written ">From "). Only offsets are kept, so a mailbox of many gigabytes costs
a line-by-line read, not its size in memory; lines are read at most :data:`LINE` bytes at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

LINE = 1 << 16


def message_ranges(stream: BinaryIO, max_messages: int, report: Callable[[str], None]) -> Iterator[tuple[int, int]]:
    """(offset, length) of each message's bytes after its "From " line, in file order (``stream`` seeks)."""
    stream.seek(0)
    pos = 0
    start: int | None = None  # where the current message's header begins
    line_start = True  # the chunk read next begins a line
    blank_before = True  # the previous line was empty (or there was none)
    count = 0
    while True:
        here = stream.tell()
        line = stream.readline(LINE)
        if not line:
            break
        if line_start and blank_before and line.startswith(b"From "):
            if start is not None:
                yield start, here - start
            count += 1
            if count > max_messages:
                report(f"more than {max_messages:,} messages; the rest were not examined")
                return
            start = here + len(line) if line.endswith(b"\n") else _line_end(stream)
        ends = line.endswith(b"\n")
        blank_before = line_start and line in (b"\n", b"\r\n")
        line_start = ends
        pos = here + len(line)
        if start is not None and start > pos:  # a "From " line longer than LINE: its rest was skipped
            stream.seek(start)
            pos, line_start, blank_before = start, True, False
    if start is not None and pos > start:
        yield start, pos - start


def _line_end(stream: BinaryIO) -> int:
    """The offset after the end of the line being read (a "From " line longer than LINE)."""
    while True:
        chunk = stream.readline(LINE)
        if not chunk or chunk.endswith(b"\n"):
            return stream.tell()
