"""Benchmark: the full profile against the quick one, same digests, same tree, same run (issue 20).

The tree and hash set are bench_triage.py's (20 000 photo-sized files, 2.40 GB: each a JPEG head over seeded
random bytes, so typed as JPEG and never decoding; 100 000 random MD5s + 50 planted hits). Each profile runs
``safenet triage TREE --profile quick|full --hashset benchset --digests md5`` (the same digests: the full
profile otherwise adds SHA-1 and ED2K by design), round-robin after one untimed run each, ``--repeat`` times;
every run is checked as bench_triage checks it (the 50 planted hits found, every file examined). Printed:
median wall and CPU seconds of each and the full/quick ratios beside the goal (full <= 1.2x quick), then one
JSON line. ``--markdown`` prints the table as the README shows it.

    .venv/bin/python bench/bench_profiles.py [--repeat 3] [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

import bench_triage as triage
from benchlib import OUT_DIR, host_info, median, print_table, run_child

GOAL = 1.2
PROFILES = ("quick", "full")
TOOL = "safenet_md5"  # bench_triage's safenet run with --digests md5


def run(profile: str, tag: str, setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    triage.PROFILE = profile  # the profile bench_triage's run_one passes
    return triage.run_one(
        TOOL, setup["tree"], setup["work"], setup["env"], tag, setup["expected"], setup["files"], args.timeout, None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--total-gb", type=float, default=2.4)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per profile (default 3)")
    parser.add_argument("--quick", action="store_true", help="small run: 2000 files / 0.24 GB, 1 repeat")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.total_gb, args.repeat = 2_000, 0.24, 1
    tree, paths, sizes, _reused, _gen_s = triage.ensure_tree(args.files, round(args.total_gb * 1e9), args.seed)
    work = OUT_DIR / "profiles" / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SAFENET_HASHDB=str(work / "hashdb"), NO_COLOR="1", COLUMNS="120")
    env.pop("SAFENET_DEBUG", None)
    hashlist, expected = triage.write_hashlist(tree, paths, args.seed, work)
    imported = run_child(
        [str(triage.safenet_bin()), "hashset", "import", str(hashlist), "--name", "benchset", "--kind", "illicit"],
        env=env,
        timeout=args.timeout,
    )
    if imported.returncode != 0:
        print(f"hash-set import failed (exit {imported.returncode})", file=sys.stderr)
        return 1
    setup = {"tree": tree, "work": work, "env": env, "expected": expected, "files": len(paths)}
    host = host_info()
    print(f"tree {tree}: {len(paths):,} files, {sum(sizes) / 1e9:.2f} GB; load {host['loadavg_at_start']}")
    for profile in PROFILES:  # untimed: the page cache holds the tree, as for the timed runs
        run(profile, f"warm-{profile}", setup, args)
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PROFILES}
    for n in range(args.repeat):
        for profile in PROFILES:
            runs[profile].append(run(profile, f"{profile}-{n}", setup, args))
    shutil.rmtree(work, ignore_errors=True)
    ok = all(r["rc"] == 0 and r.get("ok") for rs in runs.values() for r in rs)
    good = {p: [r for r in runs[p] if r["rc"] == 0 and r.get("ok")] or runs[p] for p in PROFILES}  # failed: not timed
    wall = {p: median([r["wall_s"] for r in good[p]]) for p in PROFILES}
    cpu = {p: median([r["cpu_s"] for r in good[p]]) for p in PROFILES}
    ratio_wall, ratio_cpu = wall["full"] / wall["quick"], cpu["full"] / cpu["quick"]
    rows = [
        (
            f"safenet {p}, --digests md5",
            f"{wall[p]:.2f}",
            ", ".join(f"{r['wall_s']:.2f}" for r in runs[p]),
            f"{cpu[p]:.2f}",
            str(sorted({r.get("hits", 0) for r in runs[p]})),
        )
        for p in PROFILES
    ]
    header = ("run", "median wall s", "runs", "median CPU s", "hits")
    print(f"\nfull vs quick, {args.repeat} run(s) each, round-robin (goal: full <= {GOAL}x quick)")
    print_table(header, rows)
    met = "met" if max(ratio_wall, ratio_cpu) <= GOAL else "NOT met"
    print(f"full / quick = {ratio_wall:.2f}x wall, {ratio_cpu:.2f}x CPU (goal <= {GOAL}x: {met}); checks ok: {ok}")
    if args.markdown:
        print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    record = {
        "benchmark": "profiles",
        "spec": {"files": len(paths), "bytes": int(sum(sizes)), "repeat": args.repeat, "digests": "md5"},
        "host": host,
        "results": {p: {"wall_s": wall[p], "cpu_s": cpu[p], "runs": runs[p]} for p in PROFILES},
        "ratio": {"wall": round(ratio_wall, 3), "cpu": round(ratio_cpu, 3), "goal": GOAL},
        "ok": ok,
    }
    print(json.dumps(record, separators=(",", ":")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
