"""Benchmark: `safenet triage --executor threads` vs `--executor processes`, 2 workers, same inputs, same run.

Scenarios (data generated once under bench/out/executors/ and bench/out/triage/, reused by manifest):

- jpeg       2 000 generated 320x240 JPEGs (safenet.demo.picture), --profile quick, no hash set
- jpeg-pdq   the same with a PDQ set (`safenet hashset build` on 100 of them: those 100 match exactly and
             need no PDQ; the other 1 900 are PDQ-hashed and searched)
- tree-full  3 000 files / ~400 MB of JPEG header + random bytes (bench_triage's generator), --profile full,
             no hash set: digests only

Every run is a fresh CLI process with a fresh case; runs are interleaved round-robin, --repeat times, after one
untimed warm-up of each (page cache warm). Figures: the run's own seconds (the case's runs.started_at to
ended_at: enumeration, examining, matching and recording; worker pool start-up included) and the wall time
of the whole command (interpreter start, opening, summary included); items/s from the former. Medians.
CPU: seconds of every process of a run (the bench makes itself the child subreaper, so the fork server and
its workers, orphaned when the CLI exits, are reaped here and counted). On a shared machine the median
carries the other users' load: the best run is printed too, and the JSON records the load average at start
and end. Checks: every run records every item; threads and processes find the same hits. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench_triage import ensure_tree
from benchlib import OUT_DIR, VENV_BIN, host_info, median, print_table, read_manifest, run_child, write_manifest

JPEGS = 2000
JPEG_SIZE = (320, 240)
REFERENCE = 100
TREE_FILES = 3000
TREE_BYTES = 400_000_000
EXECUTORS = ("threads", "processes")
WORKERS = 2


def ensure_jpegs() -> tuple[Path, Path]:
    """2 000 demo pictures, and a folder with copies of 100 of them for `hashset build`."""
    base = OUT_DIR / "executors"
    jpegs, reference, manifest_path = base / "jpegs", base / "reference", base / "jpegs.manifest.json"
    spec = {"count": JPEGS, "size": list(JPEG_SIZE), "reference": REFERENCE, "generator": 1}
    manifest = read_manifest(manifest_path)
    if manifest and manifest.get("spec") == spec and len(list(jpegs.glob("*/*.jpg"))) == JPEGS:
        return jpegs, reference
    from safenet.demo import picture

    shutil.rmtree(base, ignore_errors=True)
    for n in range(JPEGS):
        buf = io.BytesIO()
        picture(n, JPEG_SIZE).save(buf, format="JPEG", quality=85)
        path = jpegs / f"d{n % 20:02d}" / f"IMG_{n:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        if n % (JPEGS // REFERENCE) == 0:
            (reference / path.name).parent.mkdir(parents=True, exist_ok=True)
            (reference / path.name).write_bytes(buf.getvalue())
    write_manifest(manifest_path, {"spec": spec, "complete": True})
    return jpegs, reference


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphaned descendants (the fork server and its workers) are re-parented to this process (Linux)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans(timeout: float = 10.0) -> float:
    """CPU seconds of descendants that outlived the CLI (each includes the workers it reaped)."""
    cpu, deadline = 0.0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
            continue
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


def triage_once(source: Path, work: Path, executor: str, extra: list[str], env: dict[str, str]) -> dict[str, Any]:
    case = Path(tempfile.mkdtemp(prefix="case-", dir=work))
    shutil.rmtree(case)
    log = work / "triage.log"
    cmd = [VENV_BIN / "safenet", "triage", source, "--case", case, "--exhibit", "B1"]
    cmd += ["--executor", executor, "--workers", str(WORKERS), *extra]
    with open(log, "w") as out:
        child = run_child(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    cpu = child.user_s + child.sys_s + reap_orphans()
    if child.returncode != 0:
        raise SystemExit(f"triage failed ({child.returncode}):\n{log.read_text()[-3000:]}")
    with sqlite3.connect(case / "case.db") as db:
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
        hits = db.execute("SELECT count(DISTINCT item_id) FROM findings").fetchone()[0]
        started, ended = db.execute("SELECT started_at, ended_at FROM runs").fetchone()
    shutil.rmtree(case)
    seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    return {
        "seconds": round(seconds, 3),
        "wall_s": round(child.wall_s, 3),
        "cpu_s": round(cpu, 2),
        "items": items,
        "hits": hits,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_start = os.getloadavg()
    subreaper = become_subreaper()
    jpegs, reference = ensure_jpegs()
    tree, _, _, _, _ = ensure_tree(TREE_FILES, TREE_BYTES, 7)
    work = Path(tempfile.mkdtemp(prefix="bench-executors-", dir=OUT_DIR))
    env = {**os.environ, "SAFENET_HASHDB": str(work / "db")}
    build = [VENV_BIN / "safenet", "hashset", "build", reference, "--name", "pdqref", "--kind", "illicit"]
    built = subprocess.run([*map(str, build), "--category", "A", "--scheme", "uk"], env=env, capture_output=True)
    if built.returncode != 0:
        raise SystemExit(built.stderr.decode())
    scenarios: dict[str, tuple[Path, list[str], int]] = {
        "jpeg": (jpegs, ["--profile", "quick"], JPEGS),
        "jpeg-pdq": (jpegs, ["--profile", "quick", "--hashset", "pdqref"], JPEGS),
        "tree-full": (tree, ["--profile", "full"], TREE_FILES),
    }
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {s: {e: [] for e in EXECUTORS} for s in scenarios}
    ok = True
    try:
        for source, extra, _ in scenarios.values():  # warm-up: page cache, forkserver imports
            for executor in EXECUTORS:
                triage_once(source, work, executor, extra, env)
        for _ in range(args.repeat):
            for name, (source, extra, _) in scenarios.items():
                for executor in EXECUTORS:
                    runs[name][executor].append(triage_once(source, work, executor, extra, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures: dict[str, Any] = {}
    rows = []
    for name, (_, _, expected) in scenarios.items():
        entry: dict[str, Any] = {}
        for executor in EXECUTORS:
            done = runs[name][executor]
            ok = ok and all(r["items"] == expected for r in done)
            seconds = median([r["seconds"] for r in done])
            best = min(r["seconds"] for r in done)
            entry[executor] = {
                "seconds": [r["seconds"] for r in done],
                "median_s": seconds,
                "items_per_s": round(expected / seconds, 1),
                "best_s": best,
                "best_items_per_s": round(expected / best, 1),
                "median_wall_s": round(median([r["wall_s"] for r in done]), 2),
                "median_cpu_s": round(median([r["cpu_s"] for r in done]), 2) if subreaper else None,
                "hits": sorted({r["hits"] for r in done}),
            }
            rows.append(
                [
                    name,
                    executor,
                    f"{seconds:.3f}",
                    f"{expected / seconds:,.0f}",
                    f"{best:.3f}",
                    f"{expected / best:,.0f}",
                    entry[executor]["median_wall_s"],
                    entry[executor]["median_cpu_s"],
                ]
            )
        hits = {tuple(entry[e]["hits"]) for e in EXECUTORS}
        ok = ok and len(hits) == 1 and len(next(iter(hits))) == 1
        entry["processes_speedup"] = round(entry["threads"]["median_s"] / entry["processes"]["median_s"], 2)
        entry["processes_speedup_best"] = round(entry["threads"]["best_s"] / entry["processes"]["best_s"], 2)
        figures[name] = entry
    headers = ["scenario", "executor", "median s", "items/s", "best s", "best items/s", "wall s", "cpu s"]
    print_table(headers, rows)
    for name, entry in figures.items():
        median_x, best_x = entry["processes_speedup"], entry["processes_speedup_best"]
        print(f"{name}: processes are {median_x}x threads (median), {best_x}x (best runs)")
    result = {
        "bench": "executors",
        "workers": WORKERS,
        "repeat": args.repeat,
        "ok": ok,
        "figures": figures,
        "host": host_info(),
        "load_start": load_start,
        "cpu_counted": subreaper,
        "load_end": os.getloadavg(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(json.dumps(result, separators=(",", ":")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
