"""Benchmark: three exhibits triaged at once (`safenet triage EX1=.. EX2=.. EX3=..`) vs one after another.

What it does (see bench/README.md):

1. Generates (or reuses, by manifest) three inputs under bench/out/: two trees of photo-sized files (the
   generator of bench_triage.py: a JPEG header and seeded random bytes, lognormal sizes, different seeds) and
   an ext4 disk image built with `mkfs.ext4 -d` from a third such tree. Three inputs of two kinds, each its
   own files on disk: no read comes from one shared page-cached file.
2. Writes a synthetic md5sum list (10 000 random MD5s + the real MD5s of HITS files of each input) and
   imports it as `benchset` (illicit) into a temporary hash-set database (not timed).
3. Per page-cache regime (cold: caches dropped before every timed command, when this runs as root; warm:
   after one untimed run of each, every input is in the page cache), --repeat times, interleaved:
     one after another: safenet triage INPUT --case <fresh> --exhibit EXn --hashset benchset, n = 1, 2, 3
                        (three processes, one case; the sum of their wall times)
     at once:           safenet triage EX1=T1 EX2=T2 EX3=IMG --case <fresh> --hashset benchset
   and checks every run: each exhibit's hits (read back from the case) equal the planted ones.
4. Prints a table, the ratio at-once / one-after-another beside the goal (<= 0.6), then one JSON line;
   --markdown prints the table as Markdown too.

Exit status: 0 when every run succeeded and every correctness check held (speed goals never fail the script), 1
otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench_image import build_image
from bench_triage import ensure_tree
from benchlib import (
    OUT_DIR,
    VENV_BIN,
    can_drop_caches,
    drop_caches,
    host_info,
    median,
    print_markdown,
    print_table,
    run_child,
)

GOAL = 0.6
HITS = 5  # planted per input
DECOYS = 10_000
LABELS = ("EX1", "EX2", "EX3")


def write_hashlist(trees: list[tuple[Path, list[str]]], work: Path, seed: int) -> tuple[Path, list[int]]:
    """md5sum list: DECOYS random MD5s plus the MD5s of HITS files of each tree; returns it and the hits per tree."""
    rng = np.random.default_rng([seed, 7])
    lines = [f"{bytes(d).hex()}  decoy/{n:06d}.jpg" for n, d in enumerate(rng.integers(0, 256, (DECOYS, 16), np.uint8))]
    planted = []
    for tree, paths in trees:
        chosen = rng.choice(len(paths), size=HITS, replace=False).tolist()
        for i in chosen:
            with open(tree / paths[i], "rb") as fh:
                lines.append(f"{hashlib.file_digest(fh, 'md5').hexdigest()}  {paths[i]}")
        planted.append(len(chosen))
    path = work / "benchset.md5"
    path.write_text("".join(lines[i] + "\n" for i in rng.permutation(len(lines))))
    return path, planted


def hits_per_exhibit(case: Path) -> dict[str, int]:
    """Each exhibit's file hits, read back from the case (the correctness check)."""
    from safenet.case.store import Case
    from safenet.report.summary import summarise

    summary = summarise(Case.open_existing(case))
    return {e.label: sum(row.counts["total"] for row in e.rows.values()) for e in summary.exhibits}


def timed(cmd: list[str], env: dict[str, str], cold: bool, log: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, workers included) and exit status of one command."""
    if cold:
        drop_caches()
    start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        result = run_child(cmd, stdout=out, stderr=out, env=env, timeout=3600)
    if result.returncode != 0:
        with open(log, "rb") as fh:
            fh.seek(start)
            print(f"  FAILED ({result.returncode}): {' '.join(cmd)}\n{fh.read()[-2000:].decode(errors='replace')}")
    return result.wall_s, result.user_s + result.sys_s, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=300, help="MB per input (default 300)")
    parser.add_argument("--quick", action="store_true", help="100 MB per input, one run per regime")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="--workers of every triage (per exhibit)")
    parser.add_argument("--executor", default=None, help="--executor of every triage (default: Safenet's choice)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()
    total = (100 if args.quick else args.mb) * 1_000_000
    repeat = 1 if args.quick else args.repeat
    files = max(50, total // 120_000)
    info = host_info()
    print(f"host: {info['cpus']} CPUs ({info['cpu_model']}), load {info['loadavg_at_start']}", flush=True)

    trees = [ensure_tree(files, total, args.seed + n) for n in range(3)]
    image, how = build_image("ext4", trees[2][0], total)
    if image is None:
        raise SystemExit(f"the ext4 image cannot be made: {how}")
    inputs = [trees[0][0], trees[1][0], image]
    print(f"inputs: {inputs[0]}, {inputs[1]} (folders, {files:,} files each), {image} (ext4 image of {files:,})")
    print(f"  {total / 1e6:,.0f} MB of files each; image {how}", flush=True)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="multi-", dir=OUT_DIR))
    ok = True
    rows: list[dict[str, Any]] = []
    try:
        hashlist, planted = write_hashlist([(t[0], t[1]) for t in trees], work, args.seed)
        env = {"SAFENET_HASHDB": str(work / "hashdb"), "PATH": "/usr/bin:/bin", "HOME": str(work)}
        safenet = str(VENV_BIN / "safenet")
        imported = subprocess.run(
            [safenet, "hashset", "import", str(hashlist), "--name", "benchset", "--kind", "illicit"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if imported.returncode != 0:
            print(imported.stdout + imported.stderr)
            return 1
        expected = dict(zip(LABELS, planted, strict=True))
        common = ["--hashset", "benchset", "--workers", str(args.workers)]
        common += ["--executor", args.executor] if args.executor else []
        regimes = (["cold"] if can_drop_caches() else []) + ["warm"]
        if "cold" not in regimes:
            print("not root: the page cache cannot be dropped; the cold regime is skipped")
        log = work / "runs.log"
        n = 0
        for regime in regimes:
            if regime == "warm":  # one untimed pass reads every input into the page cache
                for label, source in zip(LABELS, inputs, strict=True):
                    warm = [safenet, "triage", str(source), "--case", str(work / f"w{label}"), "--exhibit", label]
                    subprocess.run([*warm, *common], env=env, capture_output=True, check=False)
            for _ in range(repeat):
                n += 1
                case = work / f"seq{n}"
                each, seq_cpu = [], 0.0
                for label, source in zip(LABELS, inputs, strict=True):
                    cmd = [safenet, "triage", str(source), "--case", str(case), "--exhibit", label, *common]
                    wall, cpu, code = timed(cmd, env, regime == "cold", log)
                    ok = ok and code == 0
                    each.append(wall)
                    seq_cpu += cpu
                seq_hits = hits_per_exhibit(case)
                case = work / f"multi{n}"
                cmd = [safenet, "triage", *(f"{lb}={src}" for lb, src in zip(LABELS, inputs, strict=True))]
                wall, cpu, code = timed([*cmd, "--case", str(case), *common], env, regime == "cold", log)
                ok = ok and code == 0
                multi_hits = hits_per_exhibit(case)
                right = seq_hits == expected == multi_hits
                ok = ok and right
                load = os.getloadavg()[0]
                rows.append({"regime": regime, "each_s": each, "sum_s": sum(each), "at_once_s": wall,
                             "sum_cpu_s": seq_cpu, "at_once_cpu_s": cpu, "hits_ok": right, "load1": load})  # fmt: skip
                hits = "as planted" if right else f"WRONG {seq_hits} {multi_hits}"
                print(f"  {regime}: one after another {' + '.join(f'{s:.2f}' for s in each)} = {sum(each):.2f} s; "
                      f"at once {wall:.2f} s; CPU {seq_cpu:.1f} vs {cpu:.1f} s; load {load:.1f}; hits {hits}",
                      flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = []
    summary: dict[str, Any] = {}
    for regime in dict.fromkeys(r["regime"] for r in rows):
        mine = [r for r in rows if r["regime"] == regime]
        seq, once = median([r["sum_s"] for r in mine]), median([r["at_once_s"] for r in mine])
        each = [median([r["each_s"][i] for r in mine]) for i in range(3)]
        cpu = (median([r["sum_cpu_s"] for r in mine]), median([r["at_once_cpu_s"] for r in mine]))
        ratio = once / seq if seq else float("nan")
        met = "met" if ratio <= GOAL else "NOT met"
        table.append([regime, *(f"{s:.2f}" for s in each), f"{seq:.2f}", f"{once:.2f}", f"{ratio:.2f}", met,
                      f"{cpu[0]:.1f} / {cpu[1]:.1f}"])  # fmt: skip
        summary[regime] = {"each_s": each, "sum_s": seq, "at_once_s": once, "ratio": ratio, "goal_met": ratio <= GOAL,
                           "cpu_s": {"one_after_another": cpu[0], "at_once": cpu[1]}}  # fmt: skip
    headers = ["page cache", "EX1 s", "EX2 s", "EX3 (image) s", "one after another s", "at once s", "ratio", "goal",
               "CPU s (after / at once)"]  # fmt: skip
    print()
    print_table(headers, table)
    print(f"goal: at once <= {GOAL}x one after another; median of {repeat} run(s) per regime; --workers {args.workers}")
    if args.markdown:
        print_markdown(headers, table)
    print(json.dumps({"bench": "multi", "host": info, "mb_per_input": total / 1e6, "files_per_input": files,
                      "workers": args.workers, "regimes": summary, "runs": rows, "ok": ok}))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
