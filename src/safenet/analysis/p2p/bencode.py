"""A small bounded bencode reader (BEP 3) for the BitTorrent clients' files.

Why not a library: the pure-Python bencode packages recurse once per nesting level (10 000 nested lists end
in RecursionError, or worse), accept integers of any length (``int()`` of a 5 000-digit string raises, and
large ones cost quadratic time), do not say where a value lay in the file (a torrent's info-hash is the SHA-1
of the ``info`` dictionary's bytes exactly as they appear in the file, not of a re-encoding) and lose
everything read so far when the file is cut short. This reader:

- walks the data with an explicit stack, to ``MAX_DEPTH`` levels;
- keeps dictionary keys as the exact bytes of the file (no decoding, so no two keys can collide);
- accepts integers of at most 20 digits within the signed 64-bit range (what libtorrent accepts);
- refuses a string that claims more bytes than are left, a repeated dictionary key, and more than
  ``MAX_VALUES`` values in all (a memory bound on top of the file-size bound);
- on any of these, or a truncation, returns what it had read whole so far (a container appears in its
  parent only once it is complete) with a ``BencodeError`` saying what and where, for the caller's warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

BValue = Union[int, bytes, list["BValue"], dict[bytes, "BValue"]]  # noqa: UP007 - a recursive alias

MAX_DEPTH = 64  # no client nests deeper than a handful of levels
MAX_VALUES = 4_000_000  # every value read costs a Python object: bound the memory a hostile file can ask for
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_DIGITS = frozenset(b"0123456789")


class BencodeError(ValueError):
    """Why the data stopped being bencode, and the byte offset where it did."""

    def __init__(self, message: str, offset: int, truncated: bool = False) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset
        self.truncated = truncated  # the data ended early (as opposed to being wrong)


@dataclass(slots=True)
class Decoded:
    """What ``decode`` read: the value (whole, or what was complete when it stopped), the error that stopped
    it (None: the data was read whole), and where each top-level dictionary value lay (for the info-hash)."""

    value: BValue | None
    error: BencodeError | None = None
    spans: dict[bytes, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Open:
    """A container being read: its items so far, and for a dictionary the key waiting for its value."""

    items: list[BValue] | dict[bytes, BValue]
    key: bytes | None = None
    key_at: int = 0


def decode(data: bytes, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> Decoded:
    """Read one bencoded value from the start of ``data``; never raises on bad data (see ``Decoded``).

    Bytes after the value are ignored (some clients pad their files); ``Decoded.spans`` maps each key of a
    top-level dictionary to the (start, end) offsets of its value.
    """
    stack: list[_Open] = []
    spans: dict[bytes, tuple[int, int]] = {}
    position = 0
    count = 0
    size = len(data)

    def partial(message: str, at: int, truncated: bool = False) -> Decoded:
        return Decoded(stack[0].items if stack else None, BencodeError(message, at, truncated), spans)

    while True:
        if position >= size:
            return partial("data ends inside a value", position, truncated=True)
        start = position
        lead = data[position]
        value: BValue
        if lead == 0x65:  # "e": the end of the innermost container
            if not stack:
                return partial("'e' without an open list or dictionary", position)
            closing = stack.pop()
            if closing.key is not None:
                return partial("dictionary key without a value", position)
            position += 1
            value = closing.items
            start = -1  # a container's own span is not kept
        elif lead in (0x64, 0x6C):  # "d" or "l": open a container
            if len(stack) >= max_depth:
                return partial(f"nesting deeper than {max_depth} levels", position)
            count += 1
            if count > max_values:
                return partial(f"more than {max_values} values", position)
            stack.append(_Open({} if lead == 0x64 else []))
            position += 1
            continue
        elif lead == 0x69:  # "i<digits>e"
            end = data.find(b"e", position + 1, position + 23)
            if end < 0:
                truncated = data.find(b"e", position + 1) < 0 and size - position < 23
                return partial("integer without its closing 'e' (or longer than 20 digits)", position, truncated)
            number = _integer(data[position + 1 : end])
            if number is None:
                return partial("integer that is not a signed 64-bit decimal", position)
            value = number
            position = end + 1
        elif lead in _DIGITS:  # "<length>:<bytes>"
            colon = data.find(b":", position, position + 21)
            if colon < 0:
                truncated = data.find(b":", position) < 0 and size - position < 21
                return partial("string length without its ':' (or longer than 20 digits)", position, truncated)
            digits = data[position:colon]
            if not digits.isdigit() or (len(digits) > 1 and digits[0] == 0x30):
                return partial("string length that is not a decimal number", position)
            length = int(digits)
            if colon + 1 + length > size:
                return partial(f"string of {length} bytes runs past the end of the data", position, truncated=True)
            value = data[colon + 1 : colon + 1 + length]
            position = colon + 1 + length
        else:
            return partial(f"byte 0x{lead:02x} does not start a bencode value", position)
        if start >= 0:
            count += 1
            if count > max_values:
                return partial(f"more than {max_values} values", start)
        if not stack:
            return Decoded(value, None, spans)
        problem = _place(stack, value, position, spans)
        if problem is not None:
            return partial(problem, start if start >= 0 else position - 1)


def _place(stack: list[_Open], value: BValue, end: int, spans: dict[bytes, tuple[int, int]]) -> str | None:
    """Put a finished value into the innermost open container; a reason when it cannot go there."""
    top = stack[-1]
    if isinstance(top.items, list):
        top.items.append(value)
        return None
    if top.key is None:
        if not isinstance(value, bytes):
            return "dictionary key that is not a string"
        if value in top.items:
            return "dictionary key given twice"
        top.key, top.key_at = value, end
        return None
    top.items[top.key] = value
    if len(stack) == 1:  # a top-level dictionary's value: remember where it lay
        spans[top.key] = (top.key_at, end)
    top.key = None
    return None


def _integer(digits: bytes) -> int | None:
    """A bencode integer's digits (BEP 3: no leading zeros, no "-0"), within the signed 64-bit range."""
    body = digits[1:] if digits.startswith(b"-") else digits
    if not body or not body.isdigit() or (len(body) > 1 and body[0] == 0x30) or digits == b"-0":
        return None
    number = int(digits)
    return number if _INT_MIN <= number <= _INT_MAX else None
