"""The operation's display ids ("L-12", "S-3", "V-7", "D-4", "P-2"): one prefix per kind of record."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from safenet.ops.errors import OpsError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

R = TypeVar("R")

LEAD = "L"
SUBJECT = "S"
VISIT = "V"
DEVICE = "D"
PERSON = "P"


def show(prefix: str, number: int) -> str:
    return f"{prefix}-{number}"


def parse(prefix: str, text: str) -> int:
    """The row id of ``L-12`` (or plain ``12``); a wrong id is one sentence."""
    head, sep, tail = text.strip().partition("-")
    digits = tail if sep else head
    # ASCII and at most 18 digits: isdigit() alone takes superscripts, which int() refuses, and any length,
    # which the database's 64-bit integers refuse
    if (sep and head.upper() != prefix) or not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        raise OpsError(f"{text!r} is not a {prefix}- id (e.g. {prefix}-12)")
    return int(digits)


def row_of(s: Session, table: type[R], prefix: str, text: str, missing: str) -> R:
    """The row of ``table`` that the display id ``text`` names; ``missing`` is the sentence when there is none."""
    row = s.get(table, parse(prefix, text))
    if row is None:
        raise OpsError(missing)
    return row
