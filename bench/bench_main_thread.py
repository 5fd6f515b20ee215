"""Benchmark: the coordinator's CPU per item of a folder triage, in process (issue 20).

Triages a bench_triage tree (``--tree``; default: the smallest 20 000-file tree under bench/out/triage/) into a
fresh case with the quick profile and ``--digests md5`` against a synthetic MD5 set (100 000 random digests and
50 of the tree's files, built beside the case, not timed), and prints, from ``time.thread_time``:

- the main thread's CPU per item (listing runs on a thread of its own for a folder, so it is counted apart);
- every other thread's CPU per item (hashing threads and the listing), from the process's CPU less the main's;
- with ``--phases``, the main thread's CPU per phase (wrappers per batch, so the phases cost a little more).

Run it with ``PYTHONPATH`` on another checkout's ``src`` for a before/after on the same machine. Timings are
measured, not asserted; the machine may be shared, so the numbers are CPU seconds, not wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchlib import OUT_DIR

HITS = 50
DECOYS = 100_000
PHASES = (
    "listing (main thread before, own thread after)",
    "match (all)",
    "  match: exact lookup",
    "listed digests check",
    "record (all)",
    "  record: SQLite insert",
    "  record: batch digest",
    "  record: audit line",
    "  record: last ids",
)


def _default_tree() -> Path:
    trees = sorted((OUT_DIR / "triage").glob("tree-20000f-*-v1"), key=lambda p: int(p.name.split("-")[2][:-1]))
    if not trees:
        raise SystemExit("no 20 000-file tree under bench/out/triage: build one with bench/bench_triage.py")
    return trees[0]


def _hash_set(tree: Path, work: Path) -> Path:
    """An md5sum list: random decoys and the digests of HITS files of the tree (seeded)."""
    rng = random.Random(20)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    lines = [f"{rng.getrandbits(128):032x}  decoy{i}" for i in range(DECOYS)]
    lines += [f"{hashlib.md5(p.read_bytes()).hexdigest()}  hit" for p in rng.sample(files, HITS)]
    listing = work / "set.md5"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _phases(acc: dict[str, float]) -> None:
    """Wrap the main thread's phases (per batch, or per listed item on the listing's own thread)."""
    import safenet.case.recorder as recorder
    import safenet.engine.triage as triage_module
    from safenet.evidence.directory import DirectoryEvidence
    from safenet.hashsets.store import Matcher

    main = threading.main_thread()

    def timed(owner: Any, name: str, label: str) -> None:
        inner: Callable[..., Any] | None = getattr(owner, name, None)
        if inner is None:  # an older checkout without this phase: left out
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not main:
                return inner(*args, **kwargs)
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                acc[label] += time.thread_time() - start

        setattr(owner, name, wrapper)

    timed(triage_module, "record_results", "record (all)")
    timed(recorder, "_insert_items", "  record: SQLite insert")
    timed(recorder, "_audit_batch", "  record: audit line")
    timed(recorder, "values_digest", "  record: batch digest")
    timed(recorder, "_max_ids", "  record: last ids")
    timed(triage_module._Run, "_match", "match (all)")
    timed(Matcher, "lookup", "  match: exact lookup")
    timed(triage_module, "cross_check", "listed digests check")
    listed = DirectoryEvidence.items

    def items(self: DirectoryEvidence, warn: Any) -> Iterator[Any]:
        start = time.thread_time()
        yield from listed(self, warn)
        acc["listing (main thread before, own thread after)"] += time.thread_time() - start

    DirectoryEvidence.items = items  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=None, help="a folder to triage (default: a bench_triage tree)")
    parser.add_argument("--phases", action="store_true", help="the main thread's CPU per phase as well")
    args = parser.parse_args()
    tree = args.tree or _default_tree()
    acc: dict[str, float] = {label: 0.0 for label in PHASES} if args.phases else {}
    if args.phases:
        _phases(acc)
    from safenet.case.store import Case
    from safenet.engine.profiles import Profile
    from safenet.engine.triage import TriageOptions, triage
    from safenet.hashsets.model import SetKind
    from safenet.hashsets.store import HashSetStore

    with tempfile.TemporaryDirectory(prefix="bench-main-thread-") as tmp:
        work = Path(tmp)
        store = HashSetStore(work / "hashdb")
        store.import_file(_hash_set(tree, work), "benchset", kind=SetKind.ILLICIT, warn=lambda r, m: None)
        case = Case.create_or_open(work / "case")
        options = TriageOptions(
            exhibit="B1", profile=Profile.QUICK, algorithms=("md5",), hashsets=("benchset",), operator="bench"
        )
        process, main_cpu, wall = os.times(), time.thread_time(), time.perf_counter()
        outcome = triage(tree, case, store, options)
        main_cpu, wall = time.thread_time() - main_cpu, time.perf_counter() - wall
        after = os.times()
    items = outcome.items_recorded
    total = (after.user + after.system) - (process.user + process.system)
    print(f"{tree.name}: {items} items, {outcome.hits} hits, {wall:.2f} s wall, {total:.2f} CPU-s in the triage")
    print(f"main thread   {main_cpu:6.2f} CPU-s  {main_cpu / items * 1e6:6.1f} us/item")
    print(f"other threads {total - main_cpu:6.2f} CPU-s  {(total - main_cpu) / items * 1e6:6.1f} us/item")
    for label, seconds in acc.items():
        print(f"  {label:28s} {seconds / items * 1e6:6.1f} us/item")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
