"""What ``safenet sample`` shows: a row per device while it runs, each verdict as it arrives, then which devices
can be left and which must be seized."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from safenet.console import plain
from safenet.sampling.devices import DeviceOutcome

ASSUMPTIONS = (
    "The confidence assumes the material lies on the 4 KiB grid of its volume (clusters of 4 KiB or a multiple), "
    "stored as in the set (not encrypted or re-encoded), and counts only the set's distinctive blocks."
)


@dataclass
class _Row:
    state: str = "starting"
    read: int = 0
    planned: int = 0
    hits: int = 0


class SampleDisplay:
    """Live progress rows (one per device) and a line per verdict; thread-safe (devices report from threads)."""

    def __init__(self, console: Console, labels: list[str]) -> None:
        self._console = console
        self._rows = {label: _Row() for label in labels}
        self._lock = threading.Lock()
        self._live = Live(self._table(), console=console, transient=True, auto_refresh=False)

    def _table(self) -> Table:
        table = Table(box=None)
        for column in ("Exhibit", "State", "Blocks read", "Hits"):
            table.add_column(column)
        for label, row in self._rows.items():
            table.add_row(plain(label), row.state, f"{row.read:,} of {row.planned:,}", str(row.hits))
        return table

    def __enter__(self) -> SampleDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._live.__exit__(kind, value, tb)

    def started(self, label: str, planned: int) -> None:
        with self._lock:
            self._rows[label].state = "sampling"
            self._live.update(self._table(), refresh=True)

    def progress(self, label: str, read: int, planned: int, hits: int) -> None:
        with self._lock:
            row = self._rows[label]
            row.state, row.read, row.planned, row.hits = "sampling", read, planned, row.hits + hits
            self._live.update(self._table(), refresh=True)

    def finished(self, outcome: DeviceOutcome) -> None:
        with self._lock:
            self._rows[outcome.label].state = "done" if outcome.error is None else "failed"
            self._live.update(self._table(), refresh=True)
            self._live.console.print(verdict_line(outcome))


def verdict_line(outcome: DeviceOutcome) -> Text:
    if outcome.error is not None or outcome.result is None:
        return Text.assemble(Text("FAILED ", style="bold red"), plain(outcome.error or "no verdict"))
    result = outcome.result
    style = "bold red" if result.found else "green"
    verdict = plain(result.verdict())
    verdict.stylize(style)
    line = Text.assemble(plain(f"{outcome.label}: ", "bold"), verdict)
    line.append(
        f" [{result.read:,} blocks in {result.seconds:.1f} s, seed {result.seed}]",
        style="dim",
    )
    for confirmed in outcome.confirmed:
        found = ", ".join(confirmed.matches) or "no exact match"
        line.append(plain(f"\n  file {confirmed.locator}: MD5 {confirmed.md5}: {found}"))
    for limit in result.limitations:
        line.append(plain(f"\n  not seen: {limit}"), style="yellow")
    return line


def summary(console: Console, outcomes: list[DeviceOutcome]) -> None:
    seize = [o.label for o in outcomes if o.seize]
    leave = [o.label for o in outcomes if not o.seize]
    console.print(plain(f"seize: {', '.join(seize) or 'none'}"), style="bold red" if seize else None)
    console.print(
        plain(f"no known material detected (may be left, confidence stated above): {', '.join(leave) or 'none'}")
    )
    console.print(Text(ASSUMPTIONS, style="dim"))
