"""The per-device rows and the seize summary shared by ``safenet triage`` and ``safenet sample``."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from safenet.commands.devicerows import DeviceRows, seize_summary


@dataclass
class _Row:
    done: int = 0


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=False, color_system=None), out


def test_rows_changed_from_many_threads_lose_no_update() -> None:
    console, out = _console()
    rows = DeviceRows(console, ["EX1", "EX2"], _Row, ("Exhibit", "Done"), lambda row: (str(row.done),))

    def bump(row: _Row) -> None:
        row.done += 1

    def work(label: str) -> None:
        for _ in range(500):
            rows.change(label, bump)

    with rows:
        threads = [threading.Thread(target=work, args=(label,)) for label in ("EX1", "EX2", "EX1")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows.line(Text("EX1: [not markup]"))
    assert "EX1: [not markup]" in out.getvalue()
    assert rows._rows["EX1"].done == 1000 and rows._rows["EX2"].done == 500


def test_seize_summary_names_both_lists_and_none() -> None:
    console, out = _console()
    seize_summary(console, ["EX1"], [], "may be left", "what it assumes")
    assert out.getvalue().splitlines() == ["seize: EX1", "may be left: none", "what it assumes"]


def test_a_label_is_drawn_as_typed_never_as_markup_or_escape_codes() -> None:
    """The row's label comes from the command line: its brackets stay text and an escape byte is shown escaped."""
    console, out = _console()
    rows = DeviceRows(console, ["EX[bold]1\x1b[2J"], _Row, ("Exhibit", "Done"), lambda row: (str(row.done),))
    console.print(rows._table())
    drawn = out.getvalue()
    assert "EX[bold]1" in drawn and "\x1b" not in drawn and "\\x1b[2J" in drawn
