"""What ``safenet sample`` shows: a row per device while it runs, each verdict as it arrives, then which devices
can be left and which must be seized."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from safenet.commands.devicerows import DeviceRows, seize_summary
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


def _cells(row: _Row) -> tuple[str, ...]:
    return row.state, f"{row.read:,} of {row.planned:,}", str(row.hits)


class SampleDisplay(DeviceRows[_Row]):
    """Live progress rows (one per device) and a line per verdict; devices report from their threads."""

    def __init__(self, console: Console, labels: list[str]) -> None:
        super().__init__(console, labels, _Row, ("Exhibit", "State", "Blocks read", "Hits"), _cells)

    def started(self, label: str, planned: int) -> None:
        def start(row: _Row) -> None:
            row.state = "sampling"

        self.change(label, start)

    def progress(self, label: str, read: int, planned: int, hits: int) -> None:
        def advance(row: _Row) -> None:
            row.state, row.read, row.planned, row.hits = "sampling", read, planned, row.hits + hits

        self.change(label, advance)

    def finished(self, outcome: DeviceOutcome) -> None:
        def finish(row: _Row) -> None:
            row.state = "done" if outcome.error is None else "failed"

        self.change(outcome.label, finish)
        self.line(verdict_line(outcome))


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
        line.append(plain(f"\n  not seen: {limit}", "yellow"))
    for warning in outcome.warnings:
        line.append(plain(f"\n  not confirmed: {warning}", "yellow"))
    return line


def summary(console: Console, outcomes: list[DeviceOutcome]) -> None:
    seize = [o.label for o in outcomes if o.seize]
    leave = [o.label for o in outcomes if not o.seize]
    seize_summary(
        console, seize, leave, "no known material detected (may be left, confidence stated above)", ASSUMPTIONS
    )
