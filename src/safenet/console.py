"""Terminal rendering: the live progress bar, one line per hit, the summary table. Never image content.

Evidence-derived text is passed to Rich as plain ``Text`` (never as markup), with control characters
already escaped by the locator's rendering, so a file named ``[red]x`` or holding an escape sequence
prints as what it is.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from safenet.analysis.p2p.model import client_label
from safenet.engine.events import Hit, KnownRecord
from safenet.evidence.locator import display_safe

if TYPE_CHECKING:  # the summary's module loads the case queries: imported when a summary is printed, not before
    from safenet.report.summary import CaseSummary, CategoryRow


def plain(text: str, style: str = "") -> Text:
    """Text from outside the program (evidence, labels typed by the user) for the terminal: never markup, and
    control characters and escape sequences shown escaped (``\\x1b``), so they cannot drive the terminal."""
    return Text(display_safe(text), style=style)


class _Rate(ProgressColumn):
    """Files/s and MB/s since the start (bytes are the task's progress; files a field)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("-- files/s  -- MB/s")
        items = task.fields.get("items", 0)
        return Text(f"{items / elapsed:,.0f} files/s  {task.completed / elapsed / 1e6:,.1f} MB/s")


class _Items(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.fields.get('items', 0):,}/{task.fields.get('planned', 0):,} files")


class RichEvents:
    """Triage events rendered on a Rich console."""

    def __init__(self, console: Console, exhibit: str) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.fields[exhibit]}", markup=False, style="bold"),
            BarColumn(),
            TaskProgressColumn(),
            _Items(),
            _Rate(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            # Redrawn 4 times a second (Rich's default is 10), and not at all where nobody can see it (output
            # to a file or a pipe): the redraws run beside the thread that records results and feeds workers.
            refresh_per_second=4,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("triage", total=None, items=0, planned=0, exhibit=display_safe(exhibit))
        self._items = self._bytes = 0  # advanced since the bar was last fed
        self._fed = 0.0

    def __enter__(self) -> RichEvents:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._feed(time.monotonic())
        self.progress.stop()

    def planned(self, items: int, total_bytes: int) -> None:
        self.progress.update(self.task, total=max(total_bytes, 1), planned=items)

    def advanced(self, items: int, bytes_read: int) -> None:
        # Fed at most 20 times a second (it is drawn 4 times): Rich's update takes a lock and keeps speed
        # samples, which once per file cost about as much as the rest of a small file's bookkeeping.
        self._items += items
        self._bytes += bytes_read
        now = time.monotonic()
        if now - self._fed >= 0.05:
            self._feed(now)

    def _feed(self, now: float) -> None:
        task = self.progress.tasks[0]
        self.progress.update(self.task, advance=self._bytes, items=task.fields.get("items", 0) + self._items)
        self._items = self._bytes = 0
        self._fed = now

    def hit(self, hit: Hit) -> None:
        self.progress.console.print(hit_line(hit), soft_wrap=True, markup=False, highlight=False)

    def known_record(self, record: KnownRecord) -> None:
        """A P2P record of known material: its own line, never a file hit (the file may be gone)."""
        self.progress.console.print(record_line(record), soft_wrap=True, markup=False, highlight=False)


def hit_line(hit: Hit) -> Text:
    """The line printed for a hit as it is found (one exhibit or several at once)."""
    line = Text()
    line.append("HIT ", style="bold red")
    line.append(f"cat {hit.category:<13} ", style="bold")
    line.append(f"{display_safe(hit.exhibit)}  ")
    line.append(str(hit.locator))
    line.append(f"  {hit.hash_kind} ({', '.join(hit.hashsets)})" + ("  deleted" if hit.deleted else ""))
    return line


def record_line(record: KnownRecord) -> Text:
    """The line printed for a P2P record of known material as it is found."""
    line = Text()
    line.append("P2P record of known material: ", style="bold magenta")
    what = f"{client_label(record.client)} {record.artefact} record {record.index} '{record.name}'"
    line.append(display_safe(what))
    line.append(f" → set {display_safe(', '.join(record.hashsets))} category {record.category}", style="bold")
    line.append(f"  ({record.hash_kind})  {display_safe(record.exhibit)}  {record.locator}")
    return line


_HEADINGS = {"deleted": "Del.", "perceptual": "Perc."}


def _add_rows(table: Table, label: str, rows: dict[str, CategoryRow]) -> None:
    from safenet.report.summary import COLUMNS

    for i, row in enumerate(rows.values()):
        table.add_row(plain(label if i == 0 else ""), plain(row.category), *(str(row.counts[c]) for c in COLUMNS))


def summary_table(summary: CaseSummary) -> Table:
    from safenet.report.summary import COLUMNS

    table = Table(title="Items matching illicit hash sets, by UK category", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Exhibit", no_wrap=True)
    table.add_column("Category", no_wrap=True)
    for column in COLUMNS:
        heading = _HEADINGS.get(column, column.capitalize())
        table.add_column(heading, justify="right", no_wrap=True, min_width=len(heading))
    for exhibit in summary.exhibits:
        _add_rows(table, exhibit.label, exhibit.rows)
        table.add_section()
    _add_rows(table, "TOTAL", summary.total)
    return table


def print_summary(console: Console, summary: CaseSummary) -> None:
    console.print(summary_table(summary))
    for hs in summary.hashsets:
        if hs.get("scheme_confirmed") is False:
            console.print(
                plain(
                    f"caution: the category codes of hash set {hs['name']} (scheme {hs['scheme']}) are "
                    "not confirmed; check them before relying on the grades",
                    style="yellow",
                )
            )
    for exhibit in summary.exhibits:
        unread = exhibit.items["unreadable"] + exhibit.items["partial"]
        console.print(
            plain(
                f"{exhibit.label}: {sum(exhibit.items.values()):,} items recorded, "
                f"{exhibit.items['examined']:,} hashed, {unread:,} could not be read (fully), "
                f"{exhibit.known_good:,} known files, {sum(exhibit.warnings.values()):,} warnings"
            )
        )
        if exhibit.authority is not None:
            console.print(plain(f"  authority: {exhibit.authority}"))
        for note in exhibit.not_examined:
            console.print(plain(f"  not examined: {note}", style="yellow"))
