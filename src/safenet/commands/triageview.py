"""What ``safenet triage`` shows for several devices at once: a row per device while it runs, each hit as it is
found, each device's verdict as it finishes, then which devices must be seized and which had none.

"None" is never said bare: the verdict names the profile, the sets and what was examined, so it is not read
as "nothing on the device".
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from safenet.commands.common import Exit
from safenet.commands.devicerows import DeviceRows, seize_summary
from safenet.console import hit_line, plain, record_line
from safenet.engine.events import Hit, KnownRecord, TriageEvents
from safenet.engine.multi import ExhibitOutcome, Failure
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus

#: What each profile examines, for a verdict of "no known material" (docs/architecture.md, Profiles).
EXAMINED = {
    Profile.QUICK: "pictures and videos found by their content, live and deleted; archives, caches and embedded "
    "pictures not opened",
    Profile.STANDARD: "pictures and videos found by their content, live and deleted, also inside archives, "
    "caches and documents",
    Profile.FULL: "every file hashed, archives, caches and embedded pictures opened, unallocated space carved",
}

NONE_MEANS = (
    "No known material found means that no item examined matched the selected hash sets; items the profile "
    "leaves out, items that could not be read and material not in the sets were not seen."
)

#: The exit code of a run of several devices: that of the first device (in the order given) not examined to
#: the end, as it would be alone (a device lost mid-run: 3, as one that cannot be read).
EXIT_CODES = {
    Failure.EVIDENCE: Exit.EVIDENCE,
    Failure.LOST: Exit.EVIDENCE,
    Failure.HASHSET: Exit.HASHSET,
    Failure.OPTIONS: Exit.USAGE,
    Failure.CASE: Exit.CASE,
    Failure.DISK_FULL: Exit.DISK_FULL,
    Failure.INTERNAL: Exit.INTERNAL,
}


def exit_code(outcomes: list[ExhibitOutcome]) -> int:
    return next((EXIT_CODES[o.failure] for o in outcomes if o.failure is not None), Exit.OK)


@dataclass
class _Row:
    state: str = "starting"
    items: int = 0
    planned: int = 0
    bytes_read: int = 0
    hits: int = 0


class _Exhibit:
    """One device's triage events, reported to the shared display."""

    def __init__(self, display: TriageDisplay, label: str) -> None:
        self._display, self._label = display, label

    def planned(self, items: int, total_bytes: int) -> None:
        self._display.update(self._label, state="examining", planned=items)

    def advanced(self, items: int, bytes_read: int) -> None:
        self._display.advance(self._label, items, bytes_read)

    def hit(self, hit: Hit) -> None:
        self._display.hit(self._label, hit_line(hit))

    def known_record(self, record: KnownRecord) -> None:
        self._display.line(record_line(record))


def _cells(row: _Row) -> tuple[str, ...]:
    return row.state, f"{row.items:,} of {row.planned:,}", _size(row.bytes_read), str(row.hits)


class TriageDisplay(DeviceRows[_Row]):
    """Live progress rows (one per device) and a line per hit and per verdict; devices report from their
    threads."""

    def __init__(self, console: Console, labels: list[str]) -> None:
        super().__init__(console, labels, _Row, ("Exhibit", "State", "Items", "Read", "Hits"), _cells)

    def exhibit(self, label: str) -> TriageEvents:
        return _Exhibit(self, label)

    def update(self, label: str, *, state: str, planned: int) -> None:
        def plan(row: _Row) -> None:
            row.state, row.planned = state, planned

        self.change(label, plan)

    def advance(self, label: str, items: int, bytes_read: int) -> None:
        def add(row: _Row) -> None:
            row.items += items
            row.bytes_read += bytes_read

        self.change(label, add)

    def hit(self, label: str, line: Text) -> None:
        def count(row: _Row) -> None:
            row.hits += 1

        self.change(label, count)
        self.line(line)

    def finished(self, outcome: ExhibitOutcome) -> None:
        def finish(row: _Row) -> None:
            row.state = "done" if outcome.completed else "failed"

        self.change(outcome.label, finish)
        self.line(verdict_line(outcome))


def _size(count: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,} B"


def verdict_line(outcome: ExhibitOutcome) -> Text:
    """A device's verdict as it finishes: known material found (how much, which categories, how soon), none
    (with what was examined), or why it was not examined to the end."""
    label = plain(f"{outcome.label}: ", "bold")  # typed by the user: never markup or escape sequences
    result = outcome.outcome
    if result is None:
        return Text.assemble(
            Text("FAILED ", style="bold red"), label, plain(f"{outcome.source} could not be examined: {outcome.reason}")
        )
    options = outcome.options
    done = f"{result.items_recorded:,} items, {_size(result.bytes_read)} in {result.seconds:.1f} s, run {result.run_id}"
    if result.hits or result.known_records:
        found = ", ".join(f"{code} {count}" for code, count in sorted(outcome.categories.items()))
        files = f"{result.hits:,} file" + ("" if result.hits == 1 else "s")
        text = f"known material found: {files}" + (f" ({found})" if found else "")
        if outcome.first_hit_s is not None:
            text += f", the first after {outcome.first_hit_s:.1f} s"
        if result.known_records:
            text += f"; {result.known_records:,} P2P records of known material"
        line = Text.assemble(label, plain(text, "bold red"), Text(f" [{done}]", style="dim"))
    else:
        sets = ", ".join(options.hashsets) or "none"
        line = Text.assemble(
            label,
            plain("no known material found", "green"),
            plain(f" in {result.items_recorded:,} items ({_size(result.bytes_read)}) matched against sets {sets}; "),
            plain(f"profile {options.profile.value}: {EXAMINED[options.profile]}"),
            Text(f" [{result.seconds:.1f} s, run {result.run_id}]", style="dim"),
        )
    if result.warnings:
        line.append_text(
            plain(f"\n  {result.warnings:,} warnings (items not read fully are listed in the case)", "yellow")
        )
    if outcome.failure is Failure.LOST:
        line.append_text(
            plain(
                f"\n  LOST: {outcome.reason}; examined up to there; `safenet triage {outcome.label}={outcome.source} "
                "--resume` with the same --case finishes it",
                "bold yellow",
            )
        )
    elif result.status is RunStatus.INTERRUPTED:
        line.append_text(plain("\n  interrupted; `--resume` with the same --case finishes it", "yellow"))
    elif result.status is RunStatus.STOPPED:
        line.append_text(
            plain("\n  stopped at the first hit; `--resume` with the same --case finishes the exhibit", "yellow")
        )
    return line


def summary(console: Console, outcomes: list[ExhibitOutcome]) -> None:
    """Which devices must be seized and which may be left (the wording of ``safenet sample``'s summary)."""
    seize = [o.label + ("" if o.completed else " (not examined to the end)") for o in outcomes if o.seize]
    leave = [o.label for o in outcomes if not o.seize]
    seize_summary(
        console, seize, leave, "no known material found (may be left, what was examined stated above)", NONE_MEANS
    )
