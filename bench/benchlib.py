"""Small helpers shared by the benchmark scripts (not part of the product, not a test).

Timing: wall-clock around a child process; peak RSS of that child from ``os.wait4`` (Linux ``ru_maxrss``
is in KiB). Page cache: ``drop_caches`` needs root; when it is refused the cold regime is skipped and the
scripts say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = ROOT / ".venv" / "bin"


@dataclass(frozen=True, slots=True)
class ChildResult:
    returncode: int
    wall_s: float
    max_rss_kib: int
    user_s: float
    sys_s: float


GNU_TIME = Path("/usr/bin/time")


def run_child(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> ChildResult:
    """Run ``cmd`` to completion: wall time, peak RSS and CPU time (user+sys, children included).

    Peak RSS comes from GNU time's ``%M`` when /usr/bin/time exists: ``ru_maxrss`` of a child forked from
    this (large) Python process starts at this process's own RSS (Linux carries the old mm's high-water
    mark across exec), so ``wait4`` alone would over-report small tools. GNU time is a small process, so
    the RSS of the command it runs is its own.
    """
    argv = [os.fspath(c) for c in cmd]
    rss_file = None
    if GNU_TIME.exists():
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        argv = [str(GNU_TIME), "-q", "-f", "%M", "-o", rss_file, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=dict(env) if env is not None else None)
    killer = threading.Timer(timeout, proc.kill) if timeout else None
    if killer:
        killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if killer:
            killer.cancel()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    max_rss = usage.ru_maxrss
    if rss_file:
        try:
            text = Path(rss_file).read_text().split()
            max_rss = int(text[-1]) if text else max_rss
        except (OSError, ValueError):
            pass
        finally:
            os.unlink(rss_file)
    return ChildResult(proc.returncode, wall, max_rss, usage.ru_utime, usage.ru_stime)


def can_drop_caches() -> bool:
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("1\n")
    except OSError:
        return False
    return True


def drop_caches() -> None:
    """Flush dirty pages, then drop page cache, dentries and inodes (root only)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as fh:
        fh.write("3\n")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def mem_available_bytes() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def host_info() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": git_state(),
    }


def git_state() -> dict[str, Any]:
    """Commit of the checkout and how many files under src/ differ from it (the code measured)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.splitlines()
    except OSError:
        return {}
    return {"head": head, "src_files_changed": len(dirty)}


def tool_version(cmd: Sequence[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else None


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def write_manifest(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def fmt_s(seconds: float) -> str:
    return f"{seconds:8.2f} s"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table (no terminal tricks: the output is often redirected)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_markdown(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The same table as Markdown, for pasting into the README's performance section."""
    print()
    print("| " + " | ".join(str(h) for h in headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def child_times(res: ChildResult) -> dict[str, Any]:
    """A child run's wall time, exit status and CPU time (user+sys), as the benchmarks report them."""
    return {"wall_s": round(res.wall_s, 3), "rc": res.returncode, "cpu_s": round(res.user_s + res.sys_s, 2)}


def case_matches(case: Path) -> tuple[int, set[str], int]:
    """What a triage recorded in ``case``: its top-level items, the MD5s of the items with a finding, and its
    warnings (read-only, straight from the case database)."""
    conn = sqlite3.connect(f"file:{case / 'case.db'}?mode=ro", uri=True)
    try:
        items = conn.execute("SELECT count(*) FROM items WHERE parent_id IS NULL").fetchone()[0]
        matched = {
            row[0] for row in conn.execute("SELECT DISTINCT i.md5 FROM findings f JOIN items i ON i.id = f.item_id")
        }
        warnings = conn.execute("SELECT count(*) FROM warnings").fetchone()[0]
    finally:
        conn.close()
    return int(items), {str(m) for m in matched}, int(warnings)


def run_logged(
    cmd: Sequence[str | os.PathLike[str]], log: Path, *, env: Mapping[str, str] | None = None, timeout: float = 3600
) -> dict[str, Any]:
    """Run ``cmd`` with its output in ``log``: its ``child_times``, and where it failed the log's end as
    ``error``."""
    with open(log, "wb") as fh:
        res = run_child(cmd, stdout=fh, stderr=fh, env=env, timeout=timeout)
    out = child_times(res)
    if res.returncode != 0:
        out["error"] = log.read_text(errors="replace")[-3000:]
    return out


def make_hashdb(work: Path, hits: Mapping[str, str], seed: int, decoys: int) -> dict[str, str]:
    """A hash-set database in ``work/hashdb`` holding ``benchset``: ``decoys`` random MD5s and the planted
    ``hits`` (path -> MD5); returns the environment for ``safenet`` (the installation's key and users in
    ``work``, scratch)."""
    rng = random.Random(seed + 2)
    listing = work / "benchset.md5"
    lines = [f"{rng.randbytes(16).hex()}  decoy{i}.jpg" for i in range(decoys)]
    lines += [f"{md5}  hit.jpg" for md5 in hits.values()]
    listing.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, XDG_DATA_HOME=str(work / "home"))
    cmd = [str(VENV_BIN / "safenet"), "hashset", "import", str(listing), "--name", "benchset", "--kind", "illicit"]
    cmd += ["--hashdb", str(work / "hashdb")]
    res = run_child(cmd, env=env, timeout=600)
    if res.returncode != 0:
        raise SystemExit(f"hash-set import failed (exit {res.returncode}): {' '.join(cmd)}")
    return env


def check_planted(case: Path, hits: Mapping[str, str], files: int, *, warnings_fail: bool = True) -> dict[str, Any]:
    """Every input file is an item and exactly the planted ``hits`` (path -> MD5) matched, read from the case
    database; with ``warnings_fail``, a warning fails the check too."""
    items, matched, warnings = case_matches(case)
    ok = items == files and matched == set(hits.values()) and (warnings == 0 or not warnings_fail)
    return {"ok": ok, "items": items, "hits": len(matched), "warnings": warnings}


def floor_child(root: str, algos: str, workers: int) -> None:
    """The python floor (run in a child of its own): every file under ``root`` read once in 1 MiB chunks on
    ``workers`` threads into hashlib's ``algos`` (comma-separated), nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    names = algos.split(",")
    paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]

    def work(path: str) -> list[bytes]:
        hashers = [hashlib.new(n) for n in names]
        with open(path, "rb", buffering=0) as fh:
            while chunk := fh.read(1 << 20):
                for h in hashers:
                    h.update(chunk)
        return [h.digest() for h in hashers]

    with ThreadPoolExecutor(workers) as pool:
        done = sum(1 for _ in pool.map(work, paths, chunksize=16))
    print(f"{done} files hashed", file=sys.stderr)
