"""Stream the values found at one path of a large JSON file, with hostile-input bounds.

ijson's C ``items()`` keeps a prefix string for every open container, so a file nesting arrays a few tens of
thousands deep takes memory quadratic in the depth (60 KB became 2.3 GB), and its prefix builder crashes the
interpreter on a number longer than Python converts to an int (4,300 digits). Here the parser's plain events
(no prefixes) are assembled into values in Python, so nesting is counted as it opens and refused at a small
depth, and an over-long number surfaces as one catchable error. Real hash sets are shallow: VICS nests
about eight containers.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import ijson

MAX_DEPTH = 32
"""Containers open at once; deeper JSON is refused as not a hash set."""
MAX_DIGITS = 4300
"""Digits in one number; Python refuses longer integers too, and no id or size needs them."""

_TOO_LONG = f"it holds a number longer than {MAX_DIGITS} digits"
_MAX_BITS = MAX_DIGITS * 10 // 3  # fewer bits than MAX_DIGITS decimal digits hold
_STARTS = {"start_map": dict, "start_array": list}
_ENDS = frozenset({"end_map", "end_array"})


class JsonLimitError(ValueError):
    """The JSON nests deeper or holds a longer number than a hash set can; the message says which."""


def iter_values(handle: IO[bytes], path: tuple[str, ...]) -> Iterator[tuple[Any, list[str]]]:
    """(value, keys given twice with different values inside it) for each value at ``path``.

    ``path`` is written as ijson prefixes are: map keys, and ``"item"`` for an array's members, so
    ``("value", "item")`` names each member of the root object's ``value`` array. Values elsewhere are read
    past without being built. Raises JsonLimitError, or ijson.JSONError for malformed JSON.
    """
    events = ijson.basic_parse(handle)
    open_paths: list[tuple[str, ...]] = []  # path of each open container above the values at ``path``
    in_map: list[bool] = []
    key = ""
    try:
        for event, value in events:
            if event == "map_key":
                key = value
                continue
            if event in _ENDS:
                open_paths.pop()
                in_map.pop()
                continue
            here = (*open_paths[-1], key if in_map[-1] else "item") if open_paths else ()
            if here == path:
                conflicts: list[str] = []
                yield _build(events, event, value, len(here), conflicts), conflicts
            elif event in _STARTS:
                if here == path[: len(here)]:
                    open_paths.append(here)
                    in_map.append(event == "start_map")
                else:
                    _skip(events, len(here) + 1)
            elif event == "number":
                _check_number(value)
    except ValueError as exc:
        if type(exc) is not ValueError:  # JsonLimitError, or a decoding error that must keep its own type
            raise
        # The parser's own int conversion refused a number past the interpreter's digit limit.
        raise JsonLimitError(_TOO_LONG) from exc


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, depth: int, conflicts: list[str]) -> Any:
    """The value that starts with (event, value), read to its end; ``depth`` containers enclose it."""
    if event not in _STARTS:
        if event == "number":
            _check_number(value)
        return value
    root = _STARTS[event]()
    stack: list[Any] = [root]
    _check_depth(depth + 1)
    key = ""
    for event, value in events:
        top = stack[-1]
        if event == "map_key":
            key = value
            continue
        if event in _ENDS:
            stack.pop()
            if not stack:
                return root
            continue
        if event in _STARTS:
            _check_depth(depth + len(stack) + 1)
            child = _STARTS[event]()
            _put(top, key, child, conflicts)
            stack.append(child)
            continue
        if event == "number":
            _check_number(value)
        _put(top, key, value, conflicts)
    return root  # the parser ends with an error before an unclosed value reaches here


def _put(container: Any, key: str, value: Any, conflicts: list[str]) -> None:
    if type(container) is list:
        container.append(value)
        return
    if key in container and container[key] != value:
        # A JSON object with a key twice is ambiguous: readers disagree on which one counts, so none is
        # picked silently; the caller decides what the entry is worth.
        conflicts.append(key)
    container[key] = value


def _skip(events: Iterator[tuple[str, Any]], depth: int) -> None:
    """Read past a container that is not wanted, still bounding its depth and numbers."""
    _check_depth(depth)
    opened = 1
    for event, value in events:
        if event in _STARTS:
            opened += 1
            _check_depth(depth + opened - 1)
        elif event in _ENDS:
            opened -= 1
            if not opened:
                return
        elif event == "number":
            _check_number(value)


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise JsonLimitError(f"it nests more than {MAX_DEPTH} arrays or objects deep")


def _check_number(value: Any) -> None:
    # Integers past the interpreter's limit are refused by the parser already (unless a program lifted the
    # limit); decimals are not, and a huge exponent or digit string would make a later int() slow or fail.
    if type(value) is int:
        if value.bit_length() > _MAX_BITS:
            raise JsonLimitError(_TOO_LONG)
    # adjusted() is the power of ten of a decimal's leading digit: bounding it bounds the digits before and
    # after the point, so the value's integer part always converts and prints.
    elif type(value) is Decimal and (len(value.as_tuple().digits) > MAX_DIGITS or abs(value.adjusted()) >= MAX_DIGITS):
        raise JsonLimitError(_TOO_LONG)
