"""Benchmark: `safenet triage --profile full` against hashdeep / md5deep on the same tree, same run.

What it does (see bench/README.md):

1. Generates (or reuses, by manifest) a tree of photo-sized files under bench/out/triage/: sizes from a
   seeded lognormal (about 120 KB, clipped to 10 KB .. 2 MB), each file a JPEG SOI+APP0 header followed by
   seeded random bytes, spread over Users/<user>/Pictures/<yyyy>/<mm>/.
2. Writes a synthetic md5sum list (100 000 random MD5s + the real MD5s of 50 tree files) and imports it
   with `safenet hashset import --kind illicit` into a temporary hash-set database (not timed).
3. Times, per page-cache regime (warm: one untimed warm-up run of every tool first; cold: caches dropped
   before every run), interleaved round-robin, --repeat times each:
     hashdeep -r -c md5,sha1,sha256 TREE > /dev/null
     md5deep -r TREE > /dev/null
     safenet triage TREE --case <fresh> --exhibit B1 --profile full --hashset benchset            (md5,sha1,sha256)
     safenet triage TREE --case <fresh> --exhibit B1 --profile full --hashset benchset --digests md5
   (``--profile quick`` or ``standard``: the first safenet line gets ``--digests md5,sha1,sha256``, hashdeep's
   three, since those profiles' own digests differ; the full profile computes them, and ED2K, by itself)
   and checks every safenet run: JSON report totals.hits equals the planted hits, and every file was examined.
4. Prints a table, the ratios hashdeep/safenet and md5deep/safenet-md5 beside the goals, then one JSON line.

Exit status: 0 when every run succeeded and every correctness check passed (speed goals never fail the
script: speed is measured, not asserted), 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
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
    floor_child,
    host_info,
    median,
    print_table,
    read_manifest,
    run_child,
    tool_version,
    write_manifest,
)

GENERATOR_VERSION = 1
JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")  # SOI + APP0 "JFIF\0" 1.1, no thumbnail
MIN_SIZE = 10_000
MAX_SIZE = 2_000_000
SIGMA = 0.7
USERS = ("alex", "sam", "jo", "kim")
YEARS = tuple(range(2014, 2026))
HITS = 50
DECOYS = 100_000
GOAL_HASHDEEP = 3.0
GOAL_MD5DEEP = 1.3
TOOLS = ("hashdeep", "md5deep", "safenet", "safenet_md5")
EXTRA_TOOLS = ("floor", "floor_md5")
"""Opt-in references (--tools): a minimal Python hasher (os.walk, 2 threads, 1 MiB reads, hashlib) with no
typing, matching or recording: the floor for any Python + hashlib design on this machine."""
BEFORE_TOOLS = ("safenet_md5_hashlib",)
"""Opt-in (--tools): safenet --digests md5 with SAFENET_MD5=hashlib, i.e. without the multi-buffer MD5 extension
(safenet._md5mb): the same run's 'before'."""
ALL_TOOLS = TOOLS + EXTRA_TOOLS + BEFORE_TOOLS
PROFILE = "full"  # the safenet profile timed (--profile)
FIRST_READ = False  # --first-read: each safenet run notes when it reads its first evidence byte
GOAL_PER_ITEM_US = 50.0
GOAL_FIRST_READ_S = 0.4
DIGESTS_OF = {
    "hashdeep": ("md5", "sha1", "sha256"),
    "md5deep": ("md5",),
    "safenet": ("md5mb", "sha1", "sha256"),
    "safenet_md5": ("md5mb",),
    "safenet_md5_hashlib": ("md5",),
    "floor": ("md5", "sha1", "sha256"),
    "floor_md5": ("md5",),
}
"""The digests each tool computes, as ``digest_cpu`` times them: "md5mb" is safenet's own batched MD5
(``safenet.analysis.md5mb.md5_many``, SIMD lanes where built), the others hashlib."""


# -- data -------------------------------------------------------------------------------------------------


def plan_sizes(files: int, total: int, seed: int) -> np.ndarray:
    """Seeded lognormal sizes clipped to [MIN_SIZE, MAX_SIZE], with the median tuned so the sum is ~total."""
    z = np.random.default_rng([seed, 1]).standard_normal(files)
    target_mean = total / files
    if not MIN_SIZE <= target_mean <= MAX_SIZE:
        raise SystemExit(f"mean file size {target_mean:,.0f} B is outside {MIN_SIZE:,}..{MAX_SIZE:,}")
    mu = np.log(target_mean) - SIGMA**2 / 2
    for _ in range(60):
        sizes = np.clip(np.exp(mu + SIGMA * z), MIN_SIZE, MAX_SIZE)
        mu += np.log(target_mean / sizes.mean())
    sizes = np.clip(np.rint(np.exp(mu + SIGMA * z)), MIN_SIZE, MAX_SIZE).astype(np.int64)
    # land exactly on the total: spread the remainder over files that have room
    diff = int(total - sizes.sum())
    room = (MAX_SIZE - sizes) if diff > 0 else (sizes - MIN_SIZE)
    order = np.argsort(-room)
    for i in order:
        if diff == 0:
            break
        step = min(abs(diff), int(room[i]))
        sizes[i] += step if diff > 0 else -step
        diff += -step if diff > 0 else step
    return sizes


def relpath(n: int, files: int) -> str:
    user = USERS[n % len(USERS)]
    per_user = n // len(USERS)
    year = YEARS[per_user * len(YEARS) // max(1, (files + len(USERS) - 1) // len(USERS))]
    month = 1 + (n // 7) % 12
    return f"Users/{user}/Pictures/{year}/{month:02d}/IMG_{n:06d}.jpg"


def ensure_tree(files: int, total: int, seed: int) -> tuple[Path, list[str], list[int], bool, float]:
    """The tree for this spec; generated unless a complete one with a matching manifest is already there."""
    name = f"tree-{files}f-{total}b-s{seed}-v{GENERATOR_VERSION}"
    base = OUT_DIR / "triage"
    tree, manifest_path = base / name, base / f"{name}.manifest.json"
    spec = {
        "files": files,
        "total_bytes": total,
        "seed": seed,
        "generator": GENERATOR_VERSION,
        "min": MIN_SIZE,
        "max": MAX_SIZE,
        "sigma": SIGMA,
    }
    manifest = read_manifest(manifest_path)
    if manifest and manifest.get("spec") == spec and manifest.get("complete") and tree.is_dir():
        paths, sizes = manifest["paths"], manifest["sizes"]
        if _tree_matches(tree, paths, sizes):
            return tree, paths, sizes, True, 0.0
        print(f"tree {tree} does not match its manifest; regenerating", flush=True)
    started = time.perf_counter()
    if tree.exists():
        shutil.rmtree(tree)
    manifest_path.unlink(missing_ok=True)
    sizes_arr = plan_sizes(files, total, seed)
    rng = np.random.default_rng([seed, 2])
    paths = [relpath(n, files) for n in range(files)]
    made: set[Path] = set()
    for n, (rel, size) in enumerate(zip(paths, sizes_arr.tolist(), strict=True)):
        path = tree / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        with open(path, "wb") as fh:
            fh.write(JPEG_HEAD)
            fh.write(rng.bytes(size - len(JPEG_HEAD)))
        if n and n % 5000 == 0:
            print(f"  generated {n:,}/{files:,} files", flush=True)
    sizes = sizes_arr.tolist()
    write_manifest(manifest_path, {"spec": spec, "complete": True, "paths": paths, "sizes": sizes})
    return tree, paths, sizes, False, time.perf_counter() - started


def _tree_matches(tree: Path, paths: list[str], sizes: list[int]) -> bool:
    found = 0
    for dirpath, _dirs, names in os.walk(tree):
        found += len(names)
        del dirpath
    if found != len(paths):
        return False
    try:
        return all((tree / p).stat().st_size == s for p, s in zip(paths, sizes, strict=True))
    except OSError:
        return False


def write_hashlist(tree: Path, paths: list[str], seed: int, work: Path) -> tuple[Path, dict[str, str]]:
    """md5sum-format list: DECOYS random MD5s plus the real MD5 of HITS tree files, shuffled (seeded)."""
    rng = np.random.default_rng([seed, 3])
    chosen = sorted(rng.choice(len(paths), size=min(HITS, len(paths)), replace=False).tolist())
    real: dict[str, str] = {}
    for i in chosen:
        with open(tree / paths[i], "rb") as fh:
            real[paths[i]] = hashlib.file_digest(fh, "md5").hexdigest()
    decoys = rng.integers(0, 256, size=(DECOYS, 16), dtype=np.uint8)
    lines = [f"{bytes(d).hex()}  decoy/{n:06d}.jpg" for n, d in enumerate(decoys)]
    lines += [f"{md5}  {rel}" for rel, md5 in real.items()]
    order = rng.permutation(len(lines))
    path = work / "benchset.md5"
    path.write_text("".join(lines[i] + "\n" for i in order))
    return path, real


# -- runs -------------------------------------------------------------------------------------------------

_SECONDS_RE = re.compile(r"run \d+: \S+ in ([0-9.]+) s")


def safenet_bin() -> Path:
    return VENV_BIN / "safenet"


def peer_cmd(tool: str, tree: Path) -> list[str]:
    if tool == "hashdeep":
        return ["hashdeep", "-r", "-c", "md5,sha1,sha256", str(tree)]
    return ["md5deep", "-r", str(tree)]


def run_one(
    tool: str,
    tree: Path,
    work: Path,
    env: dict[str, str],
    tag: str,
    expected: dict[str, str],
    files: int,
    timeout: float,
    workers: int | None,
) -> dict[str, Any]:
    """One timed run of one tool; for safenet also the correctness check from the JSON report."""
    load = round(os.getloadavg()[0], 2)  # other work on the machine shows here (the figure lags ~1 min)
    out = _run_one(tool, tree, work, env, tag, expected, files, timeout, workers)
    out["load1_before"] = load
    return out


def _run_one(
    tool: str,
    tree: Path,
    work: Path,
    env: dict[str, str],
    tag: str,
    expected: dict[str, str],
    files: int,
    timeout: float,
    workers: int | None,
) -> dict[str, Any]:
    if tool in ("hashdeep", "md5deep", *EXTRA_TOOLS):
        log = work / f"{tag}-{tool}.err"
        cmd = peer_cmd(tool, tree)
        if tool in EXTRA_TOOLS:
            algos = "md5" if tool == "floor_md5" else "md5,sha1,sha256"
            cmd = [sys.executable, __file__, "_floor", str(tree), algos, str(workers or 2)]
        with open(log, "wb") as err:
            res = run_child(cmd, stderr=err, timeout=timeout)
        out: dict[str, Any] = {
            "wall_s": round(res.wall_s, 4),
            "rc": res.returncode,
            "max_rss_kib": res.max_rss_kib,
            "cpu_s": round(res.user_s + res.sys_s, 2),
        }
        if res.returncode != 0:
            out["error"] = log.read_text(errors="replace")[-2000:]
        else:
            log.unlink()
        return out
    case = work / f"case-{tag}-{tool}"
    if case.exists():
        shutil.rmtree(case)
    cmd = [
        str(safenet_bin()),
        "triage",
        str(tree),
        "--case",
        str(case),
        "--exhibit",
        "B1",
        "--profile",
        PROFILE,
        "--hashset",
        "benchset",
    ]
    if tool.startswith("safenet_md5"):
        cmd += ["--digests", "md5"]
    elif PROFILE != "full":  # the quick and standard profiles' own digests differ; hashdeep's three, as labelled
        cmd += ["--digests", "md5,sha1,sha256"]
    if tool in BEFORE_TOOLS:
        env = dict(env, SAFENET_MD5="hashlib")
    if workers:
        cmd += ["--workers", str(workers)]
    log = work / f"{tag}-{tool}.log"
    probe = work / f"{tag}-{tool}.first-read"
    if FIRST_READ:
        probe.unlink(missing_ok=True)
        env = dict(env, SAFENET_FIRST_READ_FILE=str(probe))
    started = time.time()  # wall clock: the child writes its own time.time() at its first evidence read
    with open(log, "wb") as fh:
        res = run_child(cmd, stdout=fh, stderr=fh, env=env, timeout=timeout)
    out = {
        "wall_s": round(res.wall_s, 4),
        "rc": res.returncode,
        "max_rss_kib": res.max_rss_kib,
        "cpu_s": round(res.user_s + res.sys_s, 2),
    }
    if FIRST_READ and probe.exists():
        out["first_read_s"] = round(float(probe.read_text()) - started, 4)
        probe.unlink()
    text = log.read_text(errors="replace")
    seconds = _SECONDS_RE.findall(text)
    if seconds:
        out["reported_s"] = float(seconds[-1])
    if res.returncode != 0:
        out["error"] = text[-3000:]
        return out
    out.update(check_case(case, env, expected, files, work / f"{tag}-{tool}.json"))
    shutil.rmtree(case)
    log.unlink()
    return out


def check_case(case: Path, env: dict[str, str], expected: dict[str, str], files: int, report: Path) -> dict[str, Any]:
    res = run_child(
        [str(safenet_bin()), "report", str(case), "--format", "json", "--output", str(report)],
        stdout=subprocess.DEVNULL,
        env=env,
        timeout=600,
    )
    if res.returncode != 0:
        return {"ok": False, "error": f"safenet report exited {res.returncode}"}
    data = json.loads(report.read_text())
    report.unlink()
    hits = data["totals"]["hits"]
    found = {(item.get("md5") or "").lower() for item in data.get("items", []) if item.get("findings")}
    examined = sum(data["exhibits"][0]["items_by_status"].values()) if data.get("exhibits") else 0
    statuses = data["exhibits"][0]["items_by_status"] if data.get("exhibits") else {}
    ok = hits == len(expected) and found == set(expected.values()) and statuses.get("examined", 0) == files
    return {
        "ok": ok,
        "hits": hits,
        "hit_md5s_match": found == set(expected.values()),
        "items": examined,
        "items_by_status": statuses,
        "warnings": len(data.get("warnings", [])),
    }


def run_regime(
    regime: str,
    tools: list[str],
    args: argparse.Namespace,
    tree: Path,
    work: Path,
    env: dict[str, str],
    expected: dict[str, str],
    files: int,
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    if regime == "warm":
        print(f"[{regime}] warm-up: one untimed run of each tool", flush=True)
        for tool in tools:
            r = run_one(tool, tree, work, env, f"{regime}-warmup", expected, files, args.timeout, args.workers)
            print(f"  warm-up {tool:12s} {r['wall_s']:8.2f} s  rc={r['rc']}", flush=True)
            if r["rc"] != 0:
                print(f"  {tool} FAILED:\n{r.get('error', '')}", flush=True)
    for rep in range(1, args.repeat + 1):
        # rotate the order each round so slow drift (other load, thermal) does not favour one tool
        order = tools[rep - 1 :] + tools[: rep - 1]
        for tool in order:
            if regime == "cold":
                drop_caches()
            r = run_one(tool, tree, work, env, f"{regime}-{rep}", expected, files, args.timeout, args.workers)
            runs[tool].append(r)
            extra = ""
            if "hits" in r:
                extra = f"  hits={r['hits']} items={r['items']} check={'ok' if r['ok'] else 'FAILED'}"
            if "reported_s" in r:
                extra += f"  (safenet says {r['reported_s']:.1f} s)"
            print(f"  [{regime} {rep}/{args.repeat}] {tool:12s} {r['wall_s']:8.2f} s  rc={r['rc']}{extra}", flush=True)
            if r["rc"] != 0:
                print(f"  {tool} FAILED:\n{r.get('error', '')}", flush=True)
    return runs


def summarise(runs: dict[str, list[dict[str, Any]]], files: int, total: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool, rs in runs.items():
        good = [r["wall_s"] for r in rs if r["rc"] == 0]
        entry: dict[str, Any] = {
            "runs_s": [r["wall_s"] for r in rs],
            "failed_runs": sum(r["rc"] != 0 for r in rs),
            "max_rss_kib": max((r["max_rss_kib"] for r in rs), default=0),
            "cpu_s_median": median([r["cpu_s"] for r in rs]) if rs else None,
            "cpu_s": [r["cpu_s"] for r in rs],
            "load1_before": [r["load1_before"] for r in rs],
        }
        if good:
            m = median(good)
            entry.update(median_s=round(m, 4), mb_s=round(total / m / 1e6, 1), files_s=round(files / m, 1))
        reported = [r["reported_s"] for r in rs if "reported_s" in r]
        if reported:
            entry["reported_median_s"] = median(reported)
        first = [r["first_read_s"] for r in rs if "first_read_s" in r]
        if first:
            entry["first_read_s"] = first
            entry["first_read_median_s"] = median(first)
        if any("ok" in r for r in rs):
            entry["checks_ok"] = all(r.get("ok") for r in rs)
            entry["hits"] = [r.get("hits") for r in rs]
            entry["report_warnings"] = [r.get("warnings") for r in rs]
        out[tool] = entry
    ratios: dict[str, Any] = {}
    if "median_s" in out.get("hashdeep", {}) and "median_s" in out.get("safenet", {}):
        ratios["hashdeep_over_safenet"] = round(out["hashdeep"]["median_s"] / out["safenet"]["median_s"], 3)
    if "median_s" in out.get("md5deep", {}) and "median_s" in out.get("safenet_md5", {}):
        ratios["md5deep_over_safenet_md5"] = round(out["md5deep"]["median_s"] / out["safenet_md5"]["median_s"], 3)
    # CPU seconds (user+sys, all threads): less disturbed than wall time when something else shares the CPUs
    for peer, ours, key in (
        ("hashdeep", "safenet", "hashdeep_over_safenet_cpu"),
        ("md5deep", "safenet_md5", "md5deep_over_safenet_md5_cpu"),
    ):
        if out.get(peer, {}).get("cpu_s_median") and out.get(ours, {}).get("cpu_s_median"):
            ratios[key] = round(out[peer]["cpu_s_median"] / out[ours]["cpu_s_median"], 3)
    out["ratios"] = ratios
    return out


def print_regime(regime: str, summary: dict[str, Any], note: str) -> None:
    print(f"\n== {regime} page cache: {note}")
    rows = []
    labels = {
        "hashdeep": "hashdeep md5+sha1+sha256",
        "md5deep": "md5deep md5",
        "safenet": f"safenet {PROFILE} md5+sha1+sha256",
        "safenet_md5": f"safenet {PROFILE} --digests md5",
        "safenet_md5_hashlib": f"safenet {PROFILE} --digests md5, SAFENET_MD5=hashlib",
        "floor": "python floor md5+sha1+sha256",
        "floor_md5": "python floor md5",
    }
    for tool in ALL_TOOLS:
        e = summary.get(tool)
        if not e:
            continue
        if "median_s" not in e:
            rows.append([labels[tool], "FAILED", "", "", "", "", ""])
            continue
        runs = " ".join(f"{x:.2f}" for x in e["runs_s"])
        rows.append(
            [
                labels[tool],
                f"{e['median_s']:.2f}",
                runs,
                f"{e['mb_s']:.1f}",
                f"{e['files_s']:.0f}",
                f"{e['cpu_s_median']:.1f}",
                f"{e['max_rss_kib'] / 1024:.0f}",
            ]
        )
    print_table(["tool", "median s", "runs s", "MB/s", "files/s", "cpu s", "peak RSS MiB"], rows)
    ratios = summary["ratios"]
    if "hashdeep_over_safenet" in ratios:
        r = ratios["hashdeep_over_safenet"]
        print(
            f"hashdeep / safenet (3 digests): {r:.2f}x   goal >= {GOAL_HASHDEEP}x: "
            f"{'met' if r >= GOAL_HASHDEEP else 'NOT met'}"
        )
    if "md5deep_over_safenet_md5" in ratios:
        r = ratios["md5deep_over_safenet_md5"]
        print(
            f"md5deep / safenet --digests md5: {r:.2f}x   goal >= {GOAL_MD5DEEP}x: "
            f"{'met' if r >= GOAL_MD5DEEP else 'NOT met'}"
        )
    if "hashdeep_over_safenet_cpu" in ratios or "md5deep_over_safenet_md5_cpu" in ratios:
        print(
            "same ratios in CPU seconds (user+sys): hashdeep/safenet "
            f"{ratios.get('hashdeep_over_safenet_cpu', float('nan')):.2f}x, md5deep/safenet-md5 "
            f"{ratios.get('md5deep_over_safenet_md5_cpu', float('nan')):.2f}x"
        )
    if "safenet" in summary and "median_s" in summary.get("floor", {}):
        print(
            f"safenet / python floor (3 digests): {summary['safenet']['median_s'] / summary['floor']['median_s']:.2f}x"
        )
    if "safenet_md5" in summary and "median_s" in summary.get("floor_md5", {}):
        print(
            f"safenet --digests md5 / python floor md5: "
            f"{summary['safenet_md5']['median_s'] / summary['floor_md5']['median_s']:.2f}x"
        )
    loads = [x for t in ALL_TOOLS for x in summary.get(t, {}).get("load1_before", [])]
    if loads:
        print(f"1-min load average before the timed runs: {min(loads):.2f} .. {max(loads):.2f} (2 CPUs)")


def digest_cpu(tree: Path, paths: list[str], names: set[str]) -> dict[str, float]:
    """CPU seconds each digest of ``names`` costs over the whole tree, measured in this process: thread CPU
    time around the hashing only (the reads are not counted). What a tool computing those digests cannot
    avoid; the rest of its CPU time is its own work (listing, reading, typing, matching, recording, start-up).

    "md5mb" hashes as safenet's default MD5 does: ``md5_many`` over the files of one threads-executor batch
    at a time (at most 16 files and 8 MiB, each file at most 4 MiB, like ``Md5Batch``), since a batch's lanes
    wait for its longest file; without safenet's extension that is hashlib's MD5 again.
    """
    try:
        from safenet.analysis.md5mb import md5_many
        from safenet.engine.executors import ThreadExecutor

        most_files, most_bytes = ThreadExecutor.batch_items, ThreadExecutor.batch_bytes
    except ImportError:  # the bench run outside the venv: safenet's MD5 is hashlib's
        most_files, most_bytes = 16, 8 << 20

        def md5_many(messages: list[bytes]) -> list[bytes]:  # type: ignore[misc]
            return [hashlib.md5(m).digest() for m in messages]

    spent = dict.fromkeys(names, 0.0)
    batch: list[bytes] = []

    def flush() -> None:
        if batch:
            start = time.thread_time()
            md5_many(batch)
            spent["md5mb"] += time.thread_time() - start
            batch.clear()

    for rel in paths:
        data = (tree / rel).read_bytes()
        for name in names - {"md5mb"}:
            start = time.thread_time()
            hashlib.new(name, data).digest()
            spent[name] += time.thread_time() - start
        if "md5mb" in names:
            if len(data) > 4 << 20:
                start = time.thread_time()
                hashlib.md5(data).digest()
                spent["md5mb"] += time.thread_time() - start
                continue
            if len(batch) == most_files or (batch and sum(map(len, batch)) + len(data) > most_bytes):
                flush()
            batch.append(data)
    flush()
    return {name: round(value, 3) for name, value in spent.items()}


def print_per_item(regime: str, summary: dict[str, Any], digests: dict[str, float], files: int) -> None:
    """CPU seconds outside the digests per item: each tool's median CPU (user+sys, whole process, start-up
    included) minus what its digests cost (``digest_cpu``), divided by the files; stored in the summary."""
    rows = []
    for tool in ALL_TOOLS:
        e = summary.get(tool)
        if not e or e.get("cpu_s_median") is None:
            continue
        digest = sum(digests[name] for name in DIGESTS_OF[tool])
        outside = e["cpu_s_median"] - digest
        e.update(
            digest_cpu_s=round(digest, 3),
            outside_digests_cpu_s=round(outside, 3),
            per_item_us=round(outside / files * 1e6, 1),
        )
        goal = ""
        if tool.startswith("safenet"):
            goal = "met" if e["per_item_us"] <= GOAL_PER_ITEM_US else "NOT met"
        first = f"{e['first_read_median_s']:.3f}" if "first_read_median_s" in e else ""
        rows.append(
            [
                tool,
                f"{e['cpu_s_median']:.2f}",
                f"{digest:.2f}",
                f"{outside:.2f}",
                f"{e['per_item_us']:.1f}",
                goal,
                first,
            ]
        )
    print(f"\n== {regime}: CPU outside the digests per item (goal <= {GOAL_PER_ITEM_US:.0f} us for safenet)")
    print_table(["tool", "cpu s", "digest cpu s", "outside s", "us/item", "goal", "first read s"], rows)
    if any(r[6] for r in rows):
        print(f"first read: s from launch to the first evidence byte read (median; goal <= {GOAL_FIRST_READ_S} s)")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "_floor":
        floor_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000, help="number of files in the tree (default 20000)")
    parser.add_argument("--total-gb", type=float, default=2.4, help="total size in GB of 1e9 bytes (default 2.4)")
    parser.add_argument("--quick", action="store_true", help="small run: 2000 files / 0.24 GB, 1 repeat")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per tool and regime (default 3)")
    parser.add_argument(
        "--regime",
        choices=("warm", "cold", "both"),
        default="both",
        help="page-cache regime (cold needs root for drop_caches; default both)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"from {','.join(ALL_TOOLS)} (default {','.join(TOOLS)})"
    )
    parser.add_argument("--workers", type=int, default=None, help="pass --workers to safenet (default: its own)")
    parser.add_argument("--profile", choices=("quick", "standard", "full"), default="full", help="safenet's profile")
    parser.add_argument("--timeout", type=float, default=3600, help="per-run limit in seconds")
    parser.add_argument(
        "--per-item",
        action="store_true",
        help="print each tool's CPU seconds outside the digests per item (digests timed in this process)",
    )
    parser.add_argument(
        "--first-read",
        action="store_true",
        help="time how long after launch each safenet run reads its first evidence byte (SAFENET_FIRST_READ_FILE)",
    )
    args = parser.parse_args()
    global PROFILE, FIRST_READ
    PROFILE, FIRST_READ = args.profile, args.first_read
    if args.quick:
        args.files, args.total_gb = 2_000, 0.24
        args.repeat = args.repeat or 1
    args.repeat = args.repeat or 3
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := [t for t in tools if t not in ALL_TOOLS]:
        parser.error(f"unknown tool(s) {unknown}; choose from {ALL_TOOLS}")
    files, total = args.files, round(args.total_gb * 1e9)

    missing = [t for t in ("hashdeep", "md5deep") if t in tools and shutil.which(t) is None]
    if missing:
        print(f"peer tool(s) missing: {missing}; install Debian's hashdeep (make sysdeps)", file=sys.stderr)
        return 1
    if any(t.startswith("safenet") for t in tools) and not safenet_bin().exists():
        print(f"{safenet_bin()} not found; run `make` first", file=sys.stderr)
        return 1

    host = host_info()
    print(
        f"host: {host['cpus']} CPUs ({host['cpu_model']}), {host['mem_total_gib']} GiB RAM, "
        f"load {host['loadavg_at_start']}"
    )
    versions = {
        "hashdeep": tool_version(["hashdeep", "-V"]),
        "md5deep": tool_version(["md5deep", "-v"]),
        "safenet": tool_version([str(safenet_bin()), "--version"]),
    }
    print(f"versions: {versions}")

    tree, paths, sizes, reused, gen_s = ensure_tree(files, total, args.seed)
    actual_total = int(sum(sizes))
    print(
        f"tree: {tree}  {len(paths):,} files, {actual_total / 1e9:.3f} GB "
        f"(min {min(sizes):,} / median {int(np.median(sizes)):,} / mean {actual_total // len(sizes):,} / "
        f"max {max(sizes):,} B); {'reused' if reused else f'generated in {gen_s:.1f} s'}"
    )

    digests: dict[str, float] = {}
    if args.per_item:
        digests = digest_cpu(tree, paths, {name for t in tools for name in DIGESTS_OF[t]})
        print(f"digest CPU over the tree, measured in this process (s): {digests}", flush=True)

    work = OUT_DIR / "triage" / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SAFENET_HASHDB=str(work / "hashdb"), NO_COLOR="1", COLUMNS="120")
    env.pop("SAFENET_DEBUG", None)
    hashlist, expected = write_hashlist(tree, paths, args.seed, work)
    import_s = None
    if any(t.startswith("safenet") for t in tools):
        with open(work / "import.log", "wb") as fh:
            res = run_child(
                [str(safenet_bin()), "hashset", "import", str(hashlist), "--name", "benchset", "--kind", "illicit"],
                stdout=fh,
                stderr=fh,
                env=env,
                timeout=args.timeout,
            )
        if res.returncode != 0:
            print(f"hash-set import failed (exit {res.returncode}):\n{(work / 'import.log').read_text()}")
            return 1
        import_s = res.wall_s
        print(
            f"hash set: {DECOYS:,} random MD5s + {len(expected)} planted hits; imported in {import_s:.2f} s "
            f"(not timed below): {(work / 'import.log').read_text().strip()}"
        )

    regimes = ["warm", "cold"] if args.regime == "both" else [args.regime]
    cold_ok = can_drop_caches()
    if "cold" in regimes and not cold_ok:
        print("cold regime skipped: cannot write /proc/sys/vm/drop_caches (not root?)")
        regimes.remove("cold")
    notes = {
        "warm": "tree in page cache (one untimed warm-up run of every tool first)",
        "cold": "sync + echo 3 > /proc/sys/vm/drop_caches before every run",
    }
    results: dict[str, Any] = {}
    all_ok = True
    for regime in regimes:
        print(f"\n[{regime}] {notes[regime]}; {args.repeat} timed run(s) per tool, round-robin", flush=True)
        runs = run_regime(regime, tools, args, tree, work, env, expected, files)
        summary = summarise(runs, files, actual_total)
        results[regime] = {"note": notes[regime], **summary}
        all_ok &= all(r["rc"] == 0 and r.get("ok", True) for rs in runs.values() for r in rs)

    for regime in regimes:
        print_regime(regime, results[regime], notes[regime])
        if args.per_item:
            print_per_item(regime, results[regime], digests, len(paths))
    checked = ("safenet", "safenet_md5", *BEFORE_TOOLS)
    checks = [r for regime in regimes for t in checked for r in [results[regime].get(t)] if r]
    if checks:
        ok = all(c.get("checks_ok") for c in checks)
        print(
            f"\ncorrectness: planted hits {len(expected)}; safenet totals.hits per run "
            f"{[h for c in checks for h in c['hits']]}; every file examined and hit MD5s as planted: "
            f"{'yes' if ok else 'NO'}"
        )
    shutil.rmtree(work, ignore_errors=True)
    host["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    record = {
        "benchmark": "triage",
        "spec": {
            "files": len(paths),
            "total_bytes": actual_total,
            "seed": args.seed,
            "repeat": args.repeat,
            "size_min": min(sizes),
            "size_median": int(np.median(sizes)),
            "size_max": max(sizes),
            "tree_reused": reused,
            "generate_s": round(gen_s, 2),
            "workers": args.workers,
            "hashset_entries": DECOYS + len(expected),
            "planted_hits": len(expected),
            "hashset_import_s": round(import_s, 3) if import_s is not None else None,
            "profile": PROFILE,
            "digest_cpu_s": digests or None,
        },
        "host": host,
        "versions": versions,
        "goals": {"hashdeep_over_safenet": GOAL_HASHDEEP, "md5deep_over_safenet_md5": GOAL_MD5DEEP},
        "results": results,
        "ok": all_ok,
    }
    print(json.dumps(record, separators=(",", ":")))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
