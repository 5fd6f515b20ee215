"""The one boundary between hostile media bytes and the decoders (Pillow, libav through PyAV).

Why one boundary: decoders raise whatever their authors chose for malformed input (``OSError``,
``SyntaxError``, ``IndexError`` from Pillow's GIF reader reading ``n_frames`` of a truncated animation,
``av.FFmpegError``, ``struct.error`` ...), and new releases add new ones. Listing types at each call site
missed one and a single truncated GIF ended a whole triage. So every decode in ``safenet.analysis`` runs
through :func:`guarded`: any ``Exception`` becomes the caller's typed "could not decode" value (a PDQ
``Skipped``, a video ``Stop``), which the engine records as a warning with the item's locator.

Only ``Exception`` is caught: Ctrl-C and interpreter exit still stop a run, as they must. A crash inside
native code cannot be caught in-process at all; the process executor handles that (``worker-crashed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, TypeVar

T = TypeVar("T")
F = TypeVar("F")

#: Object reprs in exception texts (``<_io.BytesIO object at 0x7f…>``) name memory addresses: they make
#: two runs' warnings differ, so they are removed.
_ADDRESS: Final = re.compile(r" at 0x[0-9A-Fa-f]+")
_MAX_MESSAGE: Final = 300


def describe(exc: BaseException) -> str:
    """One short line naming what a decoder raised, without memory addresses (reproducible reports)."""
    text = _ADDRESS.sub("", str(exc)).replace("\n", " ").strip()
    name = type(exc).__name__
    line = f"{name}: {text}" if text else name
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def guarded(decode: Callable[[], T], failed: Callable[[BaseException], F]) -> T | F:
    """``decode()``, or ``failed(exc)`` for anything it raises: no decoder error leaves this call."""
    try:
        return decode()
    except Exception as exc:  # hostile input: every failure type means "could not decode this"
        return failed(exc)
