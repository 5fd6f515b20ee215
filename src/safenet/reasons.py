"""Turning an exception into the reason a warning or an error message gives: short, one line, stable.

Stable means two runs over the same evidence give the same text: object reprs in exception messages
(``<_io.BufferedReader object at 0x7f…>``, ``<Foo at 0x…>``) name memory addresses, which differ from
run to run, so they are removed. Evidence-derived text is escaped for display (``display_safe``).
"""

from __future__ import annotations

import re
from typing import Final

from safenet.evidence.locator import display_safe

_ADDRESS: Final = re.compile(r"\s+at\s+0x[0-9A-Fa-f]+|\b0x[0-9a-f]{9,16}\b")
MAX_REASON: Final = 300


def reason_of(exc: BaseException) -> str:
    """The exception's message (its class name when it has none), without addresses, on one line."""
    os_error = exc if isinstance(exc, OSError) else None
    text = os_error.strerror if os_error and os_error.strerror and not os_error.filename else str(exc)
    return _cleaned(text, exc)


def item_reason(exc: BaseException) -> str:
    """The reason an item's warning gives: an OS error's own text alone (the path is in the warning's locator,
    never repeated), else ``reason_of``. Cleaned alike: a phone's own error reply (adb's FAIL text) is evidence."""
    if isinstance(exc, OSError) and exc.strerror:
        return _cleaned(exc.strerror, exc)
    return reason_of(exc)


def _cleaned(text: str, exc: BaseException) -> str:
    """``text`` without addresses, on one line, escaped for display, at most ``MAX_REASON`` characters."""
    text = _ADDRESS.sub("", text).replace("\r", " ").replace("\n", " ").strip() or type(exc).__name__
    text = display_safe(text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
