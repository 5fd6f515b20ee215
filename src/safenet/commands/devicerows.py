"""What ``safenet triage`` and ``safenet sample`` both show for several devices: a live row per device, lines
printed above the rows as things are found, and the closing "seize / may be left" summary.

Devices report from their own threads, so the rows are changed under one lock and the table is drawn from a
copy taken under it (a quarter-second redraw never sees a row half-updated).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from safenet.console import plain

R = TypeVar("R")


class DeviceRows(Generic[R]):
    """A row per device (``R``: the caller's mutable row), redrawn 4 times a second while the block is open."""

    def __init__(
        self,
        console: Console,
        labels: Sequence[str],
        new_row: Callable[[], R],
        columns: Sequence[str],
        cells: Callable[[R], Sequence[str]],
    ) -> None:
        self._rows = {label: new_row() for label in labels}
        self._columns, self._cells = tuple(columns), cells
        self._lock = threading.Lock()
        self._live = Live(
            console=console, transient=True, refresh_per_second=4, get_renderable=self._table, redirect_stdout=False
        )

    def _table(self) -> Table:
        table = Table(box=None)
        for column in self._columns:
            table.add_column(column)
        with self._lock:
            rows = [(label, copy.copy(row)) for label, row in self._rows.items()]
        for label, row in rows:
            table.add_row(plain(label), *self._cells(row))  # labels are typed by the user: never markup
        return table

    def change(self, label: str, how: Callable[[R], None]) -> None:
        """Apply ``how`` to one device's row, under the lock."""
        with self._lock:
            how(self._rows[label])

    def line(self, line: Text) -> None:
        """Print a line above the rows (a hit, a verdict)."""
        self._live.console.print(line, soft_wrap=True, markup=False, highlight=False)

    def __enter__(self) -> Self:
        self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._live.__exit__(kind, value, tb)


def seize_summary(console: Console, seize: Sequence[str], leave: Sequence[str], leave_means: str, note: str) -> None:
    """The closing lines: which devices must be seized, which may be left (``leave_means`` says on what
    grounds), and ``note``, what the verdicts assume."""
    console.print(plain(f"seize: {', '.join(seize) or 'none'}"), style="bold red" if seize else None)
    console.print(plain(f"{leave_means}: {', '.join(leave) or 'none'}"))
    console.print(Text(note, style="dim"))
