"""Benchmark: what the console entry point (``safenet.cli.run``) saves against Python's defaults (issue 20).

``cli.run`` changes two things Python does on its own: the cyclic garbage collector runs every
``collector.YOUNG_OBJECTS`` new objects instead of 700, and once the command has returned the process ends after
joining threads, running the exit handlers and flushing, without the interpreter's teardown. The peer is the
same command through ``cli.main`` with Python's defaults: threshold 700 and ``sys.exit``.

For each tree (a 50-file one and bench_triage's 20 000-file, 2.4 GB one, both generated and reused by
manifest under bench/out/triage/), ``safenet triage TREE --profile quick --digests md5 --hashset benchset``
runs ``--repeat`` times each way, alternating, page cache warm, each in a fresh process wrapped so that
``gc.callbacks`` counts the collections and their time, and an exit handler notes the wall clock: "teardown"
is from then to the process's end as the parent sees it. Medians are printed, then one JSON line.

    .venv/bin/python bench/bench_exit.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_triage import ensure_tree, safenet_bin, write_hashlist
from benchlib import VENV_BIN, host_info, print_table

#: Run in the child: count collections, note when the exit handlers run, then the command either way.
_WRAPPER = """
import atexit, gc, json, os, sys, time
stats = {"collections": [0, 0, 0], "gc_s": 0.0}
began = []
def watch(phase, info):
    if phase == "start":
        began.append(time.perf_counter())
    elif began:
        stats["collections"][info["generation"]] += 1
        stats["gc_s"] += time.perf_counter() - began.pop()
gc.callbacks.append(watch)
def note():
    stats["exit_handlers_at"] = time.time()
    with open(os.environ["BENCH_EXIT_STATS"], "w") as out:
        json.dump(stats, out)
atexit.register(note)
sys.argv = ["safenet", *sys.argv[1:]]
if os.environ["BENCH_EXIT_WAY"] == "python":
    gc.set_threshold(700, 10, 10)
    from safenet.cli import main
    sys.exit(main())
from safenet.cli import run
run()
"""

WAYS = {"python": "Python's defaults (cli.main, threshold 700, sys.exit)", "safenet": "safenet's entry point (cli.run)"}


def one(tree: Path, way: str, work: Path, env: dict[str, str]) -> dict[str, Any]:
    case, stats = work / f"case-{way}", work / f"stats-{way}.json"
    shutil.rmtree(case, ignore_errors=True)
    cmd = [str(VENV_BIN / "python"), "-c", _WRAPPER, "triage", str(tree), "--case", str(case), "--exhibit", "B1"]
    cmd += ["--profile", "quick", "--digests", "md5", "--hashset", "benchset"]
    started = time.time()
    done = subprocess.run(cmd, env={**env, "BENCH_EXIT_WAY": way, "BENCH_EXIT_STATS": str(stats)},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)  # fmt: skip
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{way} run failed (exit {done.returncode}): {done.stderr[-1000:]}")
    noted = json.loads(stats.read_text())
    return {
        "wall_s": ended - started,
        "teardown_s": ended - noted["exit_handlers_at"],
        "gc_s": noted["gc_s"],
        "full_collections": noted["collections"][2],
        "collections": sum(noted["collections"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs each way per tree (default 5)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-exit-"))
    env = {**os.environ, "SAFENET_HASHDB": str(work / "hashdb"), "NO_COLOR": "1"}
    trees = {"50 files": (50, 6_000_000, 20260102), "20 000 files": (20_000, 2_400_000_000, 20260101)}
    rows, out = [], {}
    for label, (files, total, seed) in trees.items():
        tree, paths, _, _, _ = ensure_tree(files, total, seed)
        hashlist, _ = write_hashlist(tree, paths, seed, work)
        shutil.rmtree(work / "hashdb", ignore_errors=True)
        subprocess.run([str(safenet_bin()), "hashset", "import", str(hashlist), "--name", "benchset", "--kind",
                        "illicit"], env=env, check=True, capture_output=True)  # fmt: skip
        for way in WAYS:
            one(tree, way, work, env)  # warm the page cache and the byte code
        runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for _ in range(args.repeat):
            for way in WAYS:
                runs[way].append(one(tree, way, work, env))
        out[label] = {}
        for way, done in runs.items():
            med = {key: statistics.median(r[key] for r in done) for key in done[0]}
            out[label][way] = med
            ms = (f"{1000 * med[key]:.0f}" for key in ("teardown_s", "gc_s"))
            counts = (f"{med[key]:.0f}" for key in ("full_collections", "collections"))
            rows.append((label, WAYS[way], f"{med['wall_s']:.3f}", *ms, *counts))
    print(f"safenet triage --profile quick --digests md5, medians of {args.repeat} runs each way, page cache warm")
    print_table(("tree", "way", "wall s", "teardown ms", "GC ms", "full collections", "collections"), rows)
    print(json.dumps({"bench": "exit", "host": host_info(), "repeat": args.repeat, "results": out}))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
