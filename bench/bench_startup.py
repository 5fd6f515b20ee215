"""Start-up time of the command line: ``safenet --version`` and ``safenet --help`` against the interpreter.

Each command runs ``--repeat`` times (default 20) in a fresh process, round-robin, output discarded; the
medians are printed next to the peer, ``python -c pass`` with the same interpreter (the floor no Python
program can beat), and their ratio. Goal (issue 20): each at most 0.15 s. Help is timed as a user meets it
after the first time, kept (``safenet.helpcache``, in a scratch ``XDG_CACHE_HOME``), and once more on its first
run, when Typer renders and keeps it (a fresh empty cache folder each time). Run ``make compile`` first: with
PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile Safenet's sources at every start.
The last line is one JSON record, as in the other bench scripts.

    .venv/bin/python bench/bench_startup.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchlib import VENV_BIN, host_info, median, print_table, run_child

GOAL_S = 0.15
FIRST_HELP = "safenet --help, first run"  # Typer renders it and it is kept: once per build and terminal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="fresh processes per command (default 20)")
    args = parser.parse_args(argv)
    safenet = VENV_BIN / "safenet"
    python = VENV_BIN / "python"
    commands = {
        "safenet --version": [safenet, "--version"],
        "safenet --help": [safenet, "--help"],
        "safenet triage --help": [safenet, "triage", "--help"],
        "safenet hashset import --help": [safenet, "hashset", "import", "--help"],
        FIRST_HELP: [safenet, "--help"],
        "python -c pass": [python, "-c", "pass"],
    }
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        kept = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "kept")}
        fresh = (Path(scratch) / f"fresh-{n}" for n in range(10**9))

        def env(name: str) -> dict[str, str]:
            return {**os.environ, "XDG_CACHE_HOME": str(next(fresh))} if name == FIRST_HELP else kept

        for name, cmd in commands.items():  # one untimed run each: the page cache holds the files, help is kept
            run_child(cmd, env=env(name))
        walls: dict[str, list[float]] = {name: [] for name in commands}
        ok = True
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                done = run_child(cmd, env=env(name))
                ok &= done.returncode == 0
                walls[name].append(done.wall_s)
    floor = median(walls["python -c pass"])
    results = {}
    rows = []
    for name, values in walls.items():
        med = median(values)
        results[name] = {
            "median_s": round(med, 4),
            "min_s": round(min(values), 4),
            "max_s": round(max(values), 4),
            "over_python": round(med / floor, 2) if floor else None,
            "goal_met": med <= GOAL_S if name.startswith("safenet") and name != FIRST_HELP else None,
        }
        goal = "" if results[name]["goal_met"] is None else ("yes" if results[name]["goal_met"] else "NO")
        rows.append((name, f"{med:.3f} s", f"{min(values):.3f} s", f"{med / floor:.1f}x", goal))
    print(f"start-up, median of {args.repeat} fresh processes each (goal: safenet <= {GOAL_S} s)")
    print_table(("command", "median", "min", "x python -c pass", f"<= {GOAL_S} s"), rows)
    record = {
        "benchmark": "startup",
        "spec": {"repeat": args.repeat, "goal_s": GOAL_S},
        "host": host_info(),
        "results": results,
        "ok": ok,
    }
    print(json.dumps(record, separators=(",", ":")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
