"""Issue 19 (22): warning reasons never hold memory addresses, so two runs' reports are identical."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.reasons import item_reason, reason_of
from tests.builders import jpeg, png, write, zip_bytes


def test_a_reason_has_no_address_and_is_one_line() -> None:
    exc = ValueError(f"cannot identify image file {io.BytesIO()!r}\nsecond line \x1b[2J")
    text = reason_of(exc)
    assert "0x" not in text and "\n" not in text and "\x1b" not in text
    assert text.startswith("cannot identify image file <_io.BytesIO object>")
    assert reason_of(KeyError()) == "KeyError" and reason_of(OSError(28, "No space left on device")) == (
        "No space left on device"
    )
    assert len(reason_of(ValueError("x" * 5000))) == 300


def _hostile(root: Path) -> None:
    whole = zip_bytes({"a.jpg": jpeg(1), "b.png": png(2)})
    write(root, "cut.zip", whole[: len(whole) - 30])
    write(root, "bad.jpg", jpeg(3)[:200])
    write(root, "bad.png", png(4)[:60])
    write(root, "gif.gif", b"GIF89a" + bytes(30))
    write(root, "fake.zip", b"PK\x03\x04" + bytes(100))


def _warnings(case: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(case / "case.db") as db:
        return sorted(db.execute("SELECT code, message, coalesce(display, '') FROM warnings"))


def test_two_triages_of_the_same_hostile_evidence_record_identical_warnings(tmp_path: Path) -> None:
    _hostile(tmp_path / "ev")
    for name in ("one", "two"):
        options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, executor=ExecutorKind.INLINE)
        triage(tmp_path / "ev", Case.create_or_open(tmp_path / name), None, options)
    first, second = _warnings(tmp_path / "one"), _warnings(tmp_path / "two")
    assert first and first == second
    assert not [m for _, m, _ in first if " at 0x" in m]


def test_an_item_reason_from_the_evidence_is_escaped_and_cut() -> None:
    """A phone's own error reply (adb's FAIL text) becomes an OSError's strerror: hostile text, treated as such."""
    text = item_reason(OSError(5, "\x1b[2J\u202eevil\nline " + "x" * 400))
    assert "\x1b" not in text and "\u202e" not in text and "\n" not in text and len(text) == 300
    assert text.startswith("\\x1b[2J\\u202eevil line")
    assert item_reason(OSError(2, "No such file or directory", "/evidence/a.jpg")) == "No such file or directory"
