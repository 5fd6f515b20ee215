"""Benchmark: MD5 GB/s per core — safenet._md5mb (multi-buffer, SIMD lanes) vs hashlib.md5 vs md5deep.

Same input, same run, one core: this process is pinned to one CPU (``--cpu``) and md5deep runs under
``taskset`` on the same CPU with ``-j0`` (no worker threads), so every figure is one core's throughput.
CPU time (user + system, this process and md5deep's) is printed beside wall time: on a loaded machine it
is the steadier measure of what one core does.

Input: ``--files`` seeded random files of ``--mib`` MiB each under bench/out/md5/ (reused by manifest),
read once before timing so all of them are in the page cache. Variants, each timed ``--repeat`` times,
interleaved round-robin:

- ``md5mb in memory``: ``md5_many`` over the files' bytes already in memory (the hashing alone);
- ``md5mb from files``: the reader's pattern — every file open at once, 1 MiB read from each in turn (into
  a buffer per lane) and fed to one lane per file (``Md5Lanes.update_lanes``), each lane finished with its
  own tail: the hashing plus the copies out of the page cache;
- ``hashlib in memory``: ``hashlib.md5`` of each file's bytes in memory;
- ``md5deep``: ``taskset -c CPU md5deep -j0 FILES`` (page cache warm).

Every variant's digests are compared with hashlib's (the exit status is 1 on any mismatch); speed is
measured, never asserted. The table shows the best (the least disturbed run on a shared machine) and the
median; ``--markdown`` prints it as Markdown too; the last line is JSON.

    .venv/bin/python bench/bench_md5.py --markdown
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import (
    OUT_DIR,
    host_info,
    median,
    print_markdown,
    print_table,
    read_manifest,
    tool_version,
    write_manifest,
)
from safenet.analysis import md5mb

GOAL_GBPS = 2.5
CHUNK = 1 << 20


def make_files(folder: Path, files: int, mib: int, seed: int) -> list[Path]:
    """Seeded random files, written once and reused while the manifest matches."""
    manifest = {"files": files, "mib": mib, "seed": seed}
    paths = [folder / f"f{i:03d}.bin" for i in range(files)]
    if read_manifest(folder / "manifest.json") == manifest and all(p.exists() for p in paths):
        return paths
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, path in enumerate(paths):
        rng = np.random.default_rng([seed, i])
        path.write_bytes(rng.integers(0, 256, mib << 20, dtype=np.uint8).tobytes())
    write_manifest(folder / "manifest.json", manifest)
    return paths


def lanes_from_files(paths: list[Path]) -> list[bytes]:
    """Every file open at once, read 1 MiB at a time from each in turn into its lane's own buffer (reused:
    a fresh 1 MiB bytes object per read costs page faults), one lane per file."""
    lanes = md5mb.new_lanes(len(paths))
    streams = [path.open("rb", buffering=0) for path in paths]
    buffers = [memoryview(bytearray(CHUNK)) for _ in paths]
    digests: dict[int, bytes] = {}
    try:
        while len(digests) < len(streams):
            chunks: list[md5mb.Chunk | None] = [None] * len(streams)
            for i, stream in enumerate(streams):
                if i not in digests:
                    chunks[i] = buffers[i][: stream.readinto(buffers[i])]
            lanes.update_lanes(chunks)
            for i, chunk in enumerate(chunks):
                if chunk is not None and len(chunk) < CHUNK:
                    digests[i] = lanes.finish(i)
    finally:
        for stream in streams:
            stream.close()
    return [digests[i] for i in range(len(paths))]


def md5deep(paths: list[Path], cpu: int) -> list[bytes]:
    out = subprocess.run(
        ["taskset", "-c", str(cpu), "md5deep", "-j0", *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_path = {line.split(None, 1)[1].strip(): bytes.fromhex(line.split(None, 1)[0]) for line in out.splitlines()}
    return [by_path.get(str(p), b"") for p in paths]


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children: steadier than wall time on a
    shared, loaded machine, where a pinned process waits for its CPU."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16, help="files (lanes) hashed at once (default 16)")
    parser.add_argument("--mib", type=int, default=32, help="MiB per file (default 32)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument("--cpu", type=int, default=None, help="the CPU to pin to (default: the last one)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    paths = make_files(OUT_DIR / "md5", args.files, args.mib, args.seed)
    data = [path.read_bytes() for path in paths]  # also brings every file into the page cache
    total = sum(len(d) for d in data)
    expected = [hashlib.md5(d, usedforsecurity=False).digest() for d in data]

    variants: dict[str, Callable[[], list[bytes]]] = {
        f"md5mb in memory ({md5mb.ISA})": lambda: md5mb.md5_many(data),
        f"md5mb from files ({md5mb.ISA})": lambda: lanes_from_files(paths),
        "hashlib in memory": lambda: [hashlib.md5(d, usedforsecurity=False).digest() for d in data],
    }
    if shutil.which("md5deep") and shutil.which("taskset"):
        variants["md5deep -j0 (page cache)"] = lambda: md5deep(paths, cpu)
    else:
        print("md5deep or taskset not found: `make sysdeps` installs md5deep (Debian hashdeep)", file=sys.stderr)

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu_s: dict[str, list[float]] = {name: [] for name in variants}
    ok = True
    for _ in range(args.repeat):
        for name, run in variants.items():
            start, start_cpu = time.perf_counter(), cpu_seconds()
            got = run()
            times[name].append(time.perf_counter() - start)
            cpu_s[name].append(cpu_seconds() - start_cpu)
            if got != expected:
                print(f"{name}: digests differ from hashlib's", file=sys.stderr)
                ok = False

    md5deep_best = min(times.get("md5deep -j0 (page cache)", [float("nan")]))
    hashlib_best = min(times["hashlib in memory"])
    rows: list[list[str]] = []
    summary: dict[str, Any] = {}
    md5deep_cpu = min(cpu_s.get("md5deep -j0 (page cache)", [float("nan")]))
    hashlib_cpu = min(cpu_s["hashlib in memory"])
    for name, runs in times.items():
        best, med, per_cpu = total / min(runs) / 1e9, total / median(runs) / 1e9, total / min(cpu_s[name]) / 1e9
        vs_hashlib, vs_md5deep = hashlib_best / min(runs), md5deep_best / min(runs)
        cpu_vs = (hashlib_cpu / min(cpu_s[name]), md5deep_cpu / min(cpu_s[name]))
        rows.append([name, f"{best:.2f}", f"{med:.2f}", f"{per_cpu:.2f}", f"{vs_hashlib:.2f}x / {cpu_vs[0]:.2f}x",
                     f"{vs_md5deep:.2f}x / {cpu_vs[1]:.2f}x"])  # fmt: skip
        summary[name] = {"best_gbps": best, "median_gbps": med, "gb_per_cpu_s": per_cpu,
                         "vs_hashlib": vs_hashlib, "vs_md5deep": vs_md5deep,
                         "cpu_vs_hashlib": cpu_vs[0], "cpu_vs_md5deep": cpu_vs[1]}  # fmt: skip
    headers = ["variant (one core)", "GB/s best", "GB/s median", "GB per CPU-s", "vs hashlib (wall / CPU)",
               "vs md5deep (wall / CPU)"]  # fmt: skip
    info = host_info()
    print(f"{args.files} files x {args.mib} MiB = {total / 1e9:.2f} GB, pinned to CPU {cpu}; {args.repeat} runs each")
    print(f"load average at start: {info['loadavg_at_start']} (a shared machine: best runs are the least disturbed)")
    print()
    print_table(headers, rows)
    fastest = max(s["gb_per_cpu_s"] for n, s in summary.items() if n.startswith("md5mb"))
    met = "met" if fastest >= GOAL_GBPS else "NOT met"
    print(f"goal: >= {GOAL_GBPS} GB/s MD5 per core (per CPU-second): {met} ({fastest:.2f})")
    if args.markdown:
        print_markdown(headers, rows)
    version = tool_version(["md5deep", "-v"])
    print(json.dumps({"bench": "md5", "host": info, "isa": md5mb.ISA, "bytes": total, "files": args.files,
                      "cpu": cpu, "md5deep": version, "variants": summary, "ok": ok}))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
