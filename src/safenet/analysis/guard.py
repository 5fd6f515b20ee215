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

import warnings
from collections.abc import Callable
from typing import TypeVar

from safenet.reasons import reason_of

T = TypeVar("T")
F = TypeVar("F")

# Pillow also reports damaged pictures as Python warnings ("Corrupt EXIF data", "malformed MPO file"),
# which Python prints on the officer's terminal with library paths, once per line of Pillow's code, during
# the progress display. The typed result and the warning recorded with the item's locator are the report.
warnings.filterwarnings("ignore", module=r"PIL(\.|$)")


def describe(exc: BaseException) -> str:
    """One short line naming what a decoder raised and why, without memory addresses (reproducible reports)."""
    name, reason = type(exc).__name__, reason_of(exc)
    return reason if reason == name else f"{name}: {reason}"


def guarded(decode: Callable[[], T], failed: Callable[[BaseException], F]) -> T | F:
    """``decode()``, or ``failed(exc)`` for anything it raises: no decoder error leaves this call."""
    try:
        return decode()
    except Exception as exc:  # hostile input: every failure type means "could not decode this"
        return failed(exc)
