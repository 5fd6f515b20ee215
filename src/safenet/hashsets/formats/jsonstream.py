"""Stream the values found at one path of a large JSON file, with hostile-input bounds.

ijson's C ``items()`` keeps a prefix string for every open container, so a file nesting arrays a few tens of
thousands deep takes memory quadratic in the depth (60 KB became 2.3 GB). Here the parser's plain events (no
prefixes) are assembled into values in Python, so nesting is counted as it opens and refused at a small
depth. Real hash sets are shallow: VICS nests about eight containers.

Numbers are parsed by the C parser itself (``use_float``: 64-bit integers and doubles). Left to Python, a
number longer than the interpreter converts to an int (4,300 digits) raised inside the C backend, which then
lost the error and crashed the interpreter (SIGSEGV); the C parser instead stops with an overflow error,
reported here as a number too large.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import ijson

MAX_DEPTH = 32
"""Containers open at once; deeper JSON is refused as not a hash set."""

_TOO_LARGE = "it holds a number too large to be an id or a size (more than 64 bits)"
_STARTS = {"start_map": dict, "start_array": list}
_ENDS = frozenset({"end_map", "end_array"})


class JsonLimitError(ValueError):
    """The JSON nests deeper or holds a larger number than a hash set can; the message says which."""


def iter_values(handle: IO[bytes], path: tuple[str, ...]) -> Iterator[tuple[Any, list[str]]]:
    """(value, keys given twice with different values inside it) for each value at ``path``.

    ``path`` is written as ijson prefixes are: map keys, and ``"item"`` for an array's members, so
    ``("value", "item")`` names each member of the root object's ``value`` array. Values elsewhere are read
    past without being built. Numbers are ints and floats. Raises JsonLimitError, or ijson.JSONError for
    malformed JSON.
    """
    events = ijson.basic_parse(handle, use_float=True)
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
    except ijson.JSONError as exc:
        if "overflow" in str(exc):  # yajl's "integer overflow", "numeric (floating point) overflow"
            raise JsonLimitError(_TOO_LARGE) from exc
        raise
    except ValueError as exc:
        if type(exc) is not ValueError:  # JsonLimitError, or a decoding error that keeps its own type
            raise
        # The pure-Python backend (where the C one is missing) converts integers with int(): over its limit.
        raise JsonLimitError(_TOO_LARGE) from exc


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, depth: int, conflicts: list[str]) -> Any:
    """The value that starts with (event, value), read to its end; ``depth`` containers enclose it.

    A key given twice with different values in one object is added to ``conflicts``: readers disagree on
    which one counts, so none is picked silently and the caller decides what the value is worth. A repeated
    key whose value is an array or object always counts (it is compared before it is read). One loop with
    no calls per event: this runs for every event of a national hash set.
    """
    if event not in _STARTS:
        return value
    root = top = _STARTS[event]()
    stack: list[Any] = [root]
    _check_depth(depth + 1)
    key = ""
    for event, value in events:
        if event == "map_key":
            key = value
            continue
        if event in _ENDS:
            stack.pop()
            if not stack:
                return root
            top = stack[-1]
            continue
        opens = event in _STARTS
        if opens:
            _check_depth(depth + len(stack) + 1)
            value = _STARTS[event]()
        if type(top) is list:
            top.append(value)
        else:
            if key in top and top[key] != value:
                conflicts.append(key)
            top[key] = value
        if opens:
            stack.append(value)
            top = value
    return root  # the parser ends with an error before an unclosed value reaches here


def _skip(events: Iterator[tuple[str, Any]], depth: int) -> None:
    """Read past a container that is not wanted, still bounding its depth."""
    _check_depth(depth)
    opened = 1
    for event, _value in events:
        if event in _STARTS:
            opened += 1
            _check_depth(depth + opened - 1)
        elif event in _ENDS:
            opened -= 1
            if not opened:
                return


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise JsonLimitError(f"it nests more than {MAX_DEPTH} arrays or objects deep")
