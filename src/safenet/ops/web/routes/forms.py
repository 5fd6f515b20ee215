"""Reading form fields the way the CLI reads its options: a wrong value is one sentence (an ``OpsError``,
answered 400 on the page), never a validation traceback."""

from __future__ import annotations

from datetime import date

from safenet.ops.errors import OpsError


def optional_date(text: str | None, label: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise OpsError(f"{label} {text!r} is not a date; write it as YYYY-MM-DD.") from exc


def required_date(text: str | None, label: str) -> date:
    value = optional_date(text, label)
    if value is None:
        raise OpsError(f"{label} is needed (YYYY-MM-DD).")
    return value


def optional_text(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def count(text: str, label: str, least: int) -> int:
    """A number of things typed into a form: digits only, at least ``least``."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < least:  # isdigit() alone takes "²"
        raise OpsError(f"{label} must be a whole number ({least} or more).")
    return int(text)


def ids(text: str) -> list[str]:
    """``L-1, L-2`` or ``L-1 L-2`` → ["L-1", "L-2"]."""
    return [part for part in text.replace(",", " ").split() if part]
