"""``safenet sample``: a sampled verdict per device in minutes, several devices at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from safenet.commands.common import Exit, HashDb, fail, out, parse_labelled, store, user_errors

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kib|mib|gib|tib|kb|mb|gb|tb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_UNITS |= {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``20MiB``, ``1GiB``, ``4096`` -> bytes; a ValueError says what is accepted."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"--min-known {text!r} is not a size; write e.g. 20MiB, 512KiB or 1GiB")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def parse_duration(text: str) -> float:
    """``5m``, ``90s``, ``1h``, ``30`` (seconds) -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--budget {text!r} is not a duration; write e.g. 5m, 90s or 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[(match.group(2) or "s").lower()]


def parse_devices(args: list[str]) -> list[tuple[str, Path]]:
    """``EX1=/dev/sdb`` pairs (a lone path is exhibit "EX1" when it is the only one)."""
    return [(label, Path(path)) for label, path in parse_labelled(args)]


def sample_cmd(
    devices: Annotated[
        list[str],
        typer.Argument(
            help="A device or image, or several as LABEL=PATH (EX1=/dev/sdb EX2=laptop.E01).", show_default=False
        ),
    ],
    hashset: Annotated[list[str], typer.Option("--hashset", help="Set with a block set (repeatable).")],
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.5, max=0.999999, help="Wanted detection probability.")
    ] = 0.99,
    min_known: Annotated[
        str, typer.Option("--min-known", help="Amount of known material the verdict speaks about, e.g. 20MiB.")
    ] = "20MiB",
    budget: Annotated[
        str | None, typer.Option("--budget", help="Stop after this long (e.g. 5m); the verdict states the confidence.")
    ] = None,
    queue_depth: Annotated[int, typer.Option("--queue-depth", min=1, max=256, help="Reads in flight per device.")] = 16,
    seed: Annotated[int | None, typer.Option("--seed", help="Repeat an earlier sample (its seed is printed).")] = None,
    complete: Annotated[
        bool, typer.Option("--complete", help="Read the whole planned sample even after a hit.")
    ] = False,
    case: Annotated[Path | None, typer.Option("--case", help="Record every sample, hit and verdict here.")] = None,
    hashdb: HashDb = None,
) -> None:
    """Sample devices' 4 KiB blocks against block sets: "known material present", or none with a stated confidence."""
    from safenet.case.store import Case
    from safenet.commands.sampleview import SampleDisplay, summary
    from safenet.sampling.devices import run_devices
    from safenet.sampling.sampler import SampleOptions

    with user_errors(case):
        try:
            pairs = parse_devices(devices)
            options = SampleOptions(
                confidence=confidence,
                min_known=parse_size(min_known),
                budget_s=parse_duration(budget) if budget else None,
                seed=seed,
                queue_depth=queue_depth,
                complete=complete,
            )
        except ValueError as exc:
            fail(Exit.USAGE, str(exc))
        if options.min_known < 4096:
            fail(Exit.USAGE, "--min-known must be at least one 4 KiB block (4KiB)")
        for label, path in pairs:
            if not path.exists():
                fail(Exit.EVIDENCE, f"{label}: {path} does not exist; check the path and that the device is attached")
        hashes = store(hashdb)
        sets = [hashes.block_set(name) for name in hashset]
        the_case = Case.create_or_open(case) if case is not None else None
        with SampleDisplay(out, [label for label, _ in pairs]) as display:
            outcomes = run_devices(pairs, sets, tuple(hashset), options, the_case, hashes, display)
        summary(out, outcomes)
        if any(o.error for o in outcomes):
            raise typer.Exit(Exit.EVIDENCE)
