"""Benchmark: the hash-set store at national-set scale (import, then batched lookups "while triaging").

What it does (see bench/README.md):

1. Generates (or reuses, by manifest) bench/out/hashset/md5-<N>-s<seed>.md5: N seeded random MD5s in md5sum
   format (``<32 hex>  f``), hex-encoded in bulk with numpy (~36 bytes a line: 1.8 GB for 50 M), and a
   sample of the listed digests (.npy) to use as "present" queries.
2. Imports it in a child process through the Python API (HashSetStore(root).import_file(..., kind=ILLICIT))
   after dropping the page cache when permitted: wall time, peak RSS (wait4), size of the stored set.
3. In a fresh child (per page-cache regime: cold = caches dropped first, warm = right after), opens
   store.matcher(["big"]) and calls matcher.lookup() on batches of --batch queries ({HashKind.MD5: bytes}),
   half listed / half not, shuffled. Reports lookups/s excluding query construction (only the lookup call
   is timed) and including it (numpy batch -> list of dicts), plus peak RSS of that process, and checks
   that exactly the listed half matched.
4. Optionally the same lookups against a plain Python set of N bytes objects (only when the estimated size
   fits under --pyset-limit-gb and in available memory).
5. Prints a table, the goals (>= 2 M lookups/s batched, <= 1.5 GB RSS) and one JSON line.

Exit status: 0 unless a step failed or a lookup answered wrongly; goals never fail the script.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import (
    OUT_DIR,
    VENV_BIN,
    can_drop_caches,
    drop_caches,
    host_info,
    median,
    mem_available_bytes,
    print_table,
    read_manifest,
    run_child,
    write_manifest,
)

GENERATOR_VERSION = 1
ROWS = 1 << 20  # digests per generated chunk; chunk i comes from default_rng([seed, i]) alone
LINE = 36  # 32 hex + two spaces + "f" + newline
GOAL_LOOKUPS_S = 2_000_000
GOAL_RSS_BYTES = 1.5e9
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# -- data -------------------------------------------------------------------------------------------------


def chunk_digests(seed: int, index: int, rows: int) -> np.ndarray:
    return np.frombuffer(np.random.default_rng([seed, index]).bytes(rows * 16), dtype=np.uint8).reshape(rows, 16)


def chunks(entries: int) -> list[tuple[int, int]]:
    return [(i, min(ROWS, entries - i * ROWS)) for i in range(math.ceil(entries / ROWS))]


def encode_lines(digests: np.ndarray) -> bytes:
    """md5sum lines for a (n, 16) uint8 array, vectorised: '<hex>  f\\n'."""
    n = digests.shape[0]
    out = np.empty((n, LINE), dtype=np.uint8)
    out[:, 0:32:2] = HEX[digests >> 4]
    out[:, 1:32:2] = HEX[digests & 0x0F]
    out[:, 32] = out[:, 33] = ord(" ")
    out[:, 34] = ord("f")
    out[:, 35] = ord("\n")
    return out.tobytes()


def ensure_list(entries: int, seed: int, sample: int) -> tuple[Path, Path, bool, float]:
    base = OUT_DIR / "hashset"
    base.mkdir(parents=True, exist_ok=True)
    stem = f"md5-{entries}-s{seed}-v{GENERATOR_VERSION}"
    path, present, manifest_path = base / f"{stem}.md5", base / f"{stem}-present.npy", base / f"{stem}.manifest.json"
    spec = {
        "entries": entries,
        "seed": seed,
        "generator": GENERATOR_VERSION,
        "rows": ROWS,
        "line": LINE,
        "sample": sample,
    }
    manifest = read_manifest(manifest_path)
    if (
        manifest
        and manifest.get("spec") == spec
        and manifest.get("complete")
        and path.is_file()
        and path.stat().st_size == entries * LINE
        and present.is_file()
    ):
        return path, present, True, 0.0
    started = time.perf_counter()
    manifest_path.unlink(missing_ok=True)
    parts = chunks(entries)
    per_chunk = math.ceil(sample / len(parts))
    picked: list[np.ndarray] = []
    pick_rng = np.random.default_rng([seed, 10**6])
    with open(path, "wb") as fh:
        for index, rows in parts:
            digests = chunk_digests(seed, index, rows)
            fh.write(encode_lines(digests))
            picked.append(digests[pick_rng.choice(rows, size=min(per_chunk, rows), replace=False)])
            if index and index % 8 == 0:
                print(f"  written {index * ROWS:,}/{entries:,} lines", flush=True)
    sample_arr = np.concatenate(picked)[:sample]
    sample_arr = sample_arr[pick_rng.permutation(sample_arr.shape[0])]
    np.save(present, sample_arr, allow_pickle=False)
    write_manifest(manifest_path, {"spec": spec, "complete": True, "bytes": path.stat().st_size})
    return path, present, False, time.perf_counter() - started


# -- children ---------------------------------------------------------------------------------------------


def _rss_now(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_import(args: argparse.Namespace) -> None:
    from safenet.hashsets.model import SetKind
    from safenet.hashsets.store import HashSetStore

    warnings: list[str] = []
    baseline = _rss_now()
    started = time.perf_counter()
    info = HashSetStore(Path(args.root)).import_file(
        Path(args.file), "big", kind=SetKind.ILLICIT, warn=lambda ref, msg: warnings.append(f"{ref}: {msg}")
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "entries": info.entry_count,
                "format": info.format,
                "digests": [d.value for d in info.digests],
                "warnings": len(warnings),
                "first_warnings": warnings[:5],
                "rss_baseline": baseline,
                "peak_rss": _peak(),
            }
        )
    )


SERIES = {"half": 0.5, "none": 0.0}
"""Query mixes timed in every lookup process: half listed (the brief's figure) and none listed (triage-like:
real evidence rarely hits, so this is the rate a triage run mostly sees)."""


def make_batch(present: np.ndarray, b: int, batch: int, seed: int, listed: int) -> np.ndarray:
    """Batch b as a (batch, 16) array: ``listed`` digests from the sample, the rest random, shuffled."""
    idx = np.arange(b * listed, (b + 1) * listed) % max(1, present.shape[0])
    absent = np.frombuffer(np.random.default_rng([seed, 777, b]).bytes((batch - listed) * 16), dtype=np.uint8)
    rows = np.concatenate([present[idx], absent.reshape(-1, 16)])
    return rows[np.random.default_rng([seed, 778, b]).permutation(rows.shape[0])]


def queries_of(rows: np.ndarray, kind: Any) -> list[dict[Any, bytes]]:
    buf = rows.tobytes()
    return [{kind: buf[i : i + 16]} for i in range(0, len(buf), 16)]


def _time_series(args: argparse.Namespace, present: np.ndarray, kind: Any, call: Any) -> dict[str, Any]:
    """Per query mix: build and lookup seconds per batch, hits per batch, batches answered wrongly."""
    out: dict[str, Any] = {}
    for series, fraction in SERIES.items():
        listed = round(args.batch * fraction)
        build, look, hits, wrong = [], [], [], 0
        for b in range(args.batches):
            t1 = time.perf_counter()
            queries = queries_of(make_batch(present, b, args.batch, args.seed, listed), kind)
            t2 = time.perf_counter()
            found, good = call(queries)
            t3 = time.perf_counter()
            wrong += (found != listed) + (not good)
            build.append(t2 - t1)
            look.append(t3 - t2)
            hits.append(found)
            del queries
        out[series] = {
            "build_s": build,
            "lookup_s": look,
            "hits_per_batch": hits,
            "listed_per_batch": listed,
            "wrong_batches": wrong,
        }
    return out


def child_lookup(args: argparse.Namespace) -> None:
    from safenet.hashsets.model import HashKind
    from safenet.hashsets.store import HashSetStore

    present = np.load(args.present, allow_pickle=False)
    baseline = _rss_now()
    t0 = time.perf_counter()
    matcher = HashSetStore(Path(args.root)).matcher(["big"])
    open_s = time.perf_counter() - t0
    after_open = _rss_now()

    def call(queries: list[dict[Any, bytes]]) -> tuple[int, bool]:
        answers = matcher.lookup(queries)
        good = all(m.set_name == "big" and m.hash_kind is HashKind.MD5 for a in answers for m in a)
        return sum(1 for a in answers if a), good and len(answers) == len(queries)

    series = _time_series(args, present, HashKind.MD5, call)
    # the resident set split before the maps are dropped: file-backed pages are the memory-mapped store
    # (shared, reclaimable page cache), anonymous pages the process's own heap
    split = {
        k: _rss_now(f)
        for k, f in (
            ("rss_before_close", "VmRSS"),
            ("rss_anon_before_close", "RssAnon"),
            ("rss_file_before_close", "RssFile"),
        )
    }
    matcher.close()
    print(
        json.dumps(
            {
                "open_s": open_s,
                "series": series,
                "rss_baseline": baseline,
                "rss_after_open": after_open,
                **split,
                "rss_end": _rss_now(),
                "peak_rss": _peak(),
            }
        )
    )


def child_pyset(args: argparse.Namespace) -> None:
    from safenet.hashsets.model import HashKind

    present = np.load(args.present, allow_pickle=False)
    baseline = _rss_now()
    t0 = time.perf_counter()
    table: set[bytes] = set()
    for index, rows in chunks(args.entries):
        buf = chunk_digests(args.seed, index, rows).tobytes()
        table.update(buf[i : i + 16] for i in range(0, len(buf), 16))
    gc.freeze()  # keep the cyclic GC from walking the big set on every collection while queries are built
    build_set_s = time.perf_counter() - t0
    after_build = _rss_now()
    md5 = HashKind.MD5

    def call(queries: list[dict[Any, bytes]]) -> tuple[int, bool]:
        answers = [q[md5] in table for q in queries]
        return sum(answers), True

    series = _time_series(args, present, md5, call)
    print(
        json.dumps(
            {
                "set_build_s": build_set_s,
                "size": len(table),
                "series": series,
                "rss_baseline": baseline,
                "rss_after_build": after_build,
                "peak_rss": _peak(),
            }
        )
    )


# -- parent -----------------------------------------------------------------------------------------------


def run_json_child(argv: list[str], timeout: float) -> tuple[dict[str, Any] | None, Any, str]:
    """Run this script as a child with ``argv``; its last stdout line is JSON."""
    log = OUT_DIR / "hashset" / f"child-{os.getpid()}.log"
    with open(log, "w+b") as fh:
        res = run_child([sys.executable, __file__, *argv], stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    text = log.read_text(errors="replace")
    log.unlink()
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        return None, res, text[-4000:]
    return json.loads(lines[-1]), res, text


RSS_KEYS = (
    "open_s",
    "set_build_s",
    "size",
    "rss_baseline",
    "rss_after_open",
    "rss_after_build",
    "rss_before_close",
    "rss_anon_before_close",
    "rss_file_before_close",
    "rss_end",
)


def lookup_figures(data: dict[str, Any], res: Any, batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "peak_rss_bytes": res.max_rss_kib * 1024,
        "wall_s": round(res.wall_s, 3),
        "batch": batch,
        **{k: data[k] for k in RSS_KEYS if k in data},
    }
    for name, s in data["series"].items():
        look, build = s["lookup_s"], s["build_s"]
        n = batch * len(look)
        out[name] = {
            "listed_per_batch": s["listed_per_batch"],
            "batches": len(look),
            "lookups_per_s_excl_build": round(n / sum(look)),
            "lookups_per_s_incl_build": round(n / (sum(look) + sum(build))),
            "median_batch_lookups_per_s": round(batch / median(look)),
            "first_batch_lookups_per_s": round(batch / look[0]),
            "build_per_s": round(n / sum(build)),
            "wrong_batches": s["wrong_batches"],
        }
    out["wrong_batches"] = sum(s["wrong_batches"] for s in data["series"].values())
    return out


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pyset_estimate(entries: int) -> int:
    """bytes objects of 16 bytes take 64 B (pymalloc), set slots 16 B in a power-of-two table at <= 60% fill."""
    slots = 1 << math.ceil(math.log2(max(8, entries * 5 / 3)))
    return entries * 64 + slots * 16 + 300 * 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=50_000_000, help="MD5s in the set (default 50 000 000)")
    parser.add_argument("--quick", action="store_true", help="small run: 2 000 000 entries, 10 batches")
    parser.add_argument("--seed", type=int, default=20260202)
    parser.add_argument("--batch", type=int, default=100_000, help="queries per lookup call (default 100000)")
    parser.add_argument("--batches", type=int, default=None, help="lookup calls per process (default 30)")
    parser.add_argument(
        "--regime",
        choices=("warm", "cold", "both"),
        default="both",
        help="page cache before the lookup process (cold needs root; default both)",
    )
    parser.add_argument(
        "--pyset",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also time a plain Python set (auto: only if it fits --pyset-limit-gb)",
    )
    parser.add_argument("--pyset-limit-gb", type=float, default=12.0)
    parser.add_argument("--keep-store", action="store_true", help="keep the imported store under bench/out")
    parser.add_argument("--timeout", type=float, default=7200, help="per-child limit in seconds")
    sub = parser.add_subparsers(dest="child")
    for name in ("_import", "_lookup", "_pyset"):
        p = sub.add_parser(name)
        p.add_argument("--root", default="")
        p.add_argument("--file", default="")
        p.add_argument("--present", default="")
        p.add_argument("--entries", type=int, default=0)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--batch", type=int, default=0)
        p.add_argument("--batches", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        {"_import": child_import, "_lookup": child_lookup, "_pyset": child_pyset}[args.child](args)
        return 0
    if args.quick:
        args.entries = 2_000_000
        args.batches = args.batches or 10
    args.batches = args.batches or 30
    if VENV_BIN.resolve() != Path(sys.executable).parent.resolve():
        print(f"note: running under {sys.executable}, not {VENV_BIN / 'python'}", flush=True)

    host = host_info()
    print(
        f"host: {host['cpus']} CPUs ({host['cpu_model']}), {host['mem_total_gib']} GiB RAM, "
        f"load {host['loadavg_at_start']}"
    )
    sample = min(args.entries, max(args.batch * args.batches // 2, 1))
    path, present, reused, gen_s = ensure_list(args.entries, args.seed, sample)
    size = path.stat().st_size
    print(
        f"list: {path}  {args.entries:,} MD5s, {size / 1e9:.2f} GB; "
        f"{'reused' if reused else f'generated in {gen_s:.1f} s'}",
        flush=True,
    )

    cold_ok = can_drop_caches()
    root = OUT_DIR / "hashset" / f"store-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    ok = True
    record: dict[str, Any] = {
        "benchmark": "hashset_store",
        "host": host,
        "spec": {
            "entries": args.entries,
            "list_bytes": size,
            "seed": args.seed,
            "list_reused": reused,
            "generate_s": round(gen_s, 2),
            "batch": args.batch,
            "batches": args.batches,
        },
        "goals": {"lookups_per_s": GOAL_LOOKUPS_S, "rss_bytes": GOAL_RSS_BYTES},
    }
    try:
        if cold_ok:
            drop_caches()
        print(f"importing ({'page cache dropped first' if cold_ok else 'page cache as is'}) …", flush=True)
        data, res, text = run_json_child(["_import", "--root", str(root), "--file", str(path)], args.timeout)
        if data is None:
            print(f"import FAILED (exit {res.returncode}, {res.wall_s:.1f} s):\n{text}")
            record["import"] = {"ok": False, "rc": res.returncode, "wall_s": res.wall_s, "error": text[-2000:]}
            print(json.dumps(record, separators=(",", ":")))
            return 1
        stored = du(root)
        imp = {
            "ok": data["entries"] == args.entries and data["warnings"] == 0,
            "wall_s": round(res.wall_s, 3),
            "import_call_s": round(data["seconds"], 3),
            "entries": data["entries"],
            "format": data["format"],
            "warnings": data["warnings"],
            "peak_rss_bytes": res.max_rss_kib * 1024,
            "store_bytes": stored,
            "lines_per_s": round(args.entries / data["seconds"]),
            "mb_per_s": round(size / data["seconds"] / 1e6, 1),
            "page_cache": "dropped" if cold_ok else "as is",
        }
        ok &= imp["ok"]
        record["import"] = imp
        print(
            f"import: {imp['import_call_s']:.1f} s ({imp['lines_per_s']:,} lines/s, {imp['mb_per_s']} MB/s), "
            f"peak RSS {imp['peak_rss_bytes'] / 2**20:,.0f} MiB, {imp['entries']:,} entries, "
            f"{imp['warnings']} warnings, store {stored / 1e6:,.0f} MB on disk",
            flush=True,
        )
        if data["first_warnings"]:
            print(f"  first warnings: {data['first_warnings']}")

        regimes = ["cold", "warm"] if args.regime == "both" else [args.regime]
        if "cold" in regimes and not cold_ok:
            print("cold lookup regime skipped: cannot drop caches (not root?)")
            regimes.remove("cold")
        lookups: dict[str, Any] = {}
        child_args = [
            "--root",
            str(root),
            "--present",
            str(present),
            "--seed",
            str(args.seed),
            "--batch",
            str(args.batch),
            "--batches",
            str(args.batches),
            "--entries",
            str(args.entries),
        ]
        for regime in regimes:
            if regime == "cold":
                drop_caches()
            data, res, text = run_json_child(["_lookup", *child_args], args.timeout)
            if data is None:
                print(f"lookup ({regime}) FAILED (exit {res.returncode}):\n{text}")
                ok = False
                continue
            lookups[regime] = lookup_figures(data, res, args.batch)
            ok &= lookups[regime]["wrong_batches"] == 0
            print(f"lookup ({regime}): done in {res.wall_s:.1f} s", flush=True)
        record["lookup"] = lookups

        want_pyset = args.pyset == "yes"
        estimate = pyset_estimate(args.entries)
        if args.pyset == "auto":
            want_pyset = estimate <= args.pyset_limit_gb * 2**30 and estimate <= 0.8 * mem_available_bytes()
        pyset: dict[str, Any] = {"estimate_bytes": estimate, "ran": want_pyset}
        if want_pyset:
            print(
                f"python set reference: building a set of {args.entries:,} bytes (est. {estimate / 2**30:.1f} GiB) …",
                flush=True,
            )
            data, res, text = run_json_child(["_pyset", *child_args], args.timeout)
            if data is None:
                print(f"python set FAILED (exit {res.returncode}):\n{text}")
                pyset["error"] = text[-2000:]
            else:
                pyset.update(lookup_figures(data, res, args.batch))
                ok &= pyset["wrong_batches"] == 0
        else:
            print(
                f"python set reference skipped (estimated {estimate / 2**30:.1f} GiB > limit "
                f"{args.pyset_limit_gb} GiB or 80% of available memory)"
            )
        record["python_set"] = pyset
    finally:
        if not args.keep_store:
            shutil.rmtree(root, ignore_errors=True)

    print(
        f"\n== hash-set store, {args.entries:,} MD5s; lookups in batches of {args.batch:,}, {args.batches} batches "
        "per mix per process; mix 'half' = 50% listed (goal figure), 'none' = nothing listed (triage-like)"
    )
    rows = []
    procs = [*((f"safenet matcher, {r} cache", v) for r, v in lookups.items())]
    if "half" in pyset:
        procs.append(("python set (reference)", pyset))
    for name, f in procs:
        opened = f.get("open_s", f.get("set_build_s", 0.0))
        for series in SERIES:
            g = f[series]
            rows.append(
                [
                    name,
                    series,
                    f"{opened:.2f}",
                    f"{g['lookups_per_s_excl_build']:,}",
                    f"{g['lookups_per_s_incl_build']:,}",
                    f"{g['median_batch_lookups_per_s']:,}",
                    f"{g['first_batch_lookups_per_s']:,}",
                    f"{f['peak_rss_bytes'] / 2**20:,.0f}",
                    g["wrong_batches"],
                ]
            )
    print_table(
        [
            "lookup process",
            "mix",
            "open/build s",
            "lookups/s (call only)",
            "lookups/s (incl. dicts)",
            "median batch/s",
            "first batch/s",
            "peak RSS MiB",
            "wrong",
        ],
        rows,
    )
    if lookups:
        print(f"(building the query dicts alone: {next(iter(lookups.values()))['half']['build_per_s']:,} queries/s)")
    for regime, f in lookups.items():
        rss = f["peak_rss_bytes"]
        if "rss_anon_before_close" in f:
            print(
                f"lookup process ({regime} cache): peak RSS {rss / 2**20:,.0f} MiB; resident after the last batch "
                f"{f['rss_before_close'] / 2**20:,.0f} MiB = {f['rss_anon_before_close'] / 2**20:,.0f} MiB anonymous "
                f"+ {f['rss_file_before_close'] / 2**20:,.0f} MiB file-backed (memory-mapped store pages)"
            )
        for series in SERIES:
            rate = f[series]["lookups_per_s_excl_build"]
            print(
                f"goal ({regime} cache, mix {series}): >= {GOAL_LOOKUPS_S / 1e6:.0f} M lookups/s batched: "
                f"{rate / 1e6:.2f} M -> {'met' if rate >= GOAL_LOOKUPS_S else 'NOT met'};  "
                f"<= {GOAL_RSS_BYTES / 1e9} GB RSS: {rss / 1e9:.2f} GB -> "
                f"{'met' if rss <= GOAL_RSS_BYTES else 'NOT met'}"
            )
    imp = record["import"]
    print(
        f"import: {imp['import_call_s']:.1f} s, peak RSS {imp['peak_rss_bytes'] / 1e9:.2f} GB, entries "
        f"{imp['entries']:,} ({'ok' if imp['ok'] else 'MISMATCH'})"
    )
    record["host"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    record["ok"] = ok
    print(json.dumps(record, separators=(",", ":")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
