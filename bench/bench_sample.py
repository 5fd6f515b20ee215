"""Benchmark: `safenet sample` (issue 17) — sampling reads against fio, the 99 % verdict on a 1 TiB sparse image
and on a 32 GB image read from the disk, and `safenet triage --stop-at-first-hit` on 100 000 files.

Parts (``--parts``, comma-separated; default all):

iops       The same file (the 32 GB disk image below), page cache dropped before every run, the same number
           of random 4 KiB reads at the same queue depth Q (``--queue-depth``, default 16, Safenet's default):
             fio psync     ``fio --rw=randread --bs=4k --ioengine=psync --numjobs=Q`` (buffered, like Safenet:
                           Q readers of pread, processes in fio, threads in Safenet; fio's
                           ``invalidate=1`` drops the file's cache too)
             fio libaio    ``--ioengine=libaio --iodepth=Q --direct=1`` (O_DIRECT: the page cache not used)
             fio io_uring  ``--ioengine=io_uring --iodepth=Q --direct=1``
             safenet       ``sampling.sampler.sample`` in this process with the pictures' block set and
                           ``complete=True`` (every planned block read, hashed with XXH3-128 and looked up);
                           IOPS = blocks read / the call's whole time (planning, volume detection included)
           ``--repeat`` rounds (default 5), the readers in turn; medians.
           Goal: safenet >= 90 % of fio's IOPS (judged against fio psync, the same way of reading; the O_DIRECT
           engines are printed beside).
sparse     A 1 TiB sparse file (``truncate``; holes read as zeros without touching the disk) with 20 MiB of
           generated benign pictures (seeded noise JPEGs) written whole at seeded random 4 KiB-aligned offsets;
           the block set built from the same pictures (``build_block_set``). ``sample`` at 99 % and --min-known
           20MiB: the default run (stops after the round with the first hit) and a complete run (the whole
           planned sample: the time a disk without hits takes to its verdict). Page cache dropped before each.
cold       The same on a 32 GB image of real (non-sparse) data: seeded random bytes with the same pictures at
           random aligned offsets, page cache dropped before each run, so every block read comes from the disk.
first-hit  ``safenet triage IMAGE --profile quick --stop-at-first-hit --hashset firsthit`` on a 32 GB ext4 image
           (sparse file, ``mkfs.ext4 -d`` from a generated tree of 100 000 small benign files: system and
           program files, caches, documents, 2 % pictures, and one known picture in
           ``Users/alice/Pictures/``). The hash set holds the known picture's MD5 and 1 000 random MD5s.
           Goal: < 20 s for the whole command. The case is checked: exactly one hit, the known picture.

Generated files go under ``--workdir`` (default /tmp/safenet-bench-sample): each image is deleted when its
part is done, the folder at the end unless ``--keep``. Needs root for ``drop_caches``; fio from Debian (``make
sysdeps``). ``--markdown`` prints the tables the README shows. The last line of stdout is one JSON object with
every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import ROOT, can_drop_caches, drop_caches, host_info, median, print_markdown, run_child, tool_version

sys.path.insert(0, str(ROOT / "src"))

from safenet.hashsets.blocks import BLOCK, BlockSet, build_block_set
from safenet.sampling.sampler import SampleOptions, SampleResult, regions_of, sample

MIB = 1 << 20
GOAL_IOPS = 0.90
GOAL_FIRST_HIT_S = 20.0
PARTS = ("iops", "sparse", "cold", "first-hit")
CHUNK = 64 * MIB


# -- inputs -------------------------------------------------------------------------------------------------


def make_pictures(total: int, seed: int) -> list[tuple[str, bytes]]:
    """Benign generated pictures (a colour gradient under seeded noise, JPEG quality 90) until ``total`` bytes."""
    from PIL import Image

    rng = np.random.default_rng([seed, 1])
    pictures: list[tuple[str, bytes]] = []
    size = 0
    y, x = np.mgrid[0:600, 0:800]
    while size < total:
        n = len(pictures)
        base = np.stack([(x + 7 * n) % 256, (y + 13 * n) % 256, (x + y) % 256], axis=-1)
        noise = rng.integers(-96, 96, size=base.shape)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=90)
        pictures.append((f"known/IMG_{n:04d}.jpg", out.getvalue()))
        size += len(out.getvalue())
    return pictures


def place(pictures: list[tuple[str, bytes]], size: int, seed: int) -> list[int]:
    """Seeded random 4 KiB-aligned offsets for the pictures in a file of ``size`` bytes, not overlapping."""
    rng = np.random.default_rng([seed, 2])
    slots = size // BLOCK
    while True:
        starts = np.sort(rng.choice(slots - 1024, size=len(pictures), replace=False))
        if all(int(b - a) * BLOCK > len(p) for a, b, (_, p) in zip(starts, starts[1:], pictures, strict=False)):
            return [int(s) * BLOCK for s in starts]


def write_at(path: Path, pictures: list[tuple[str, bytes]], offsets: list[int]) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        for (_, data), offset in zip(pictures, offsets, strict=True):
            os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def make_disk(path: Path, size: int, seed: int, pictures: list[tuple[str, bytes]]) -> tuple[list[int], float]:
    """A non-sparse image: a seeded 64 MiB random chunk written over and over, then the pictures."""
    started = time.perf_counter()
    chunk = np.random.default_rng([seed, 3]).bytes(CHUNK)
    with path.open("wb") as fh:
        for _ in range(size // CHUNK):
            fh.write(chunk)
        fh.write(chunk[: size % CHUNK])
        fh.flush()
        os.fsync(fh.fileno())
    offsets = place(pictures, size, seed)
    write_at(path, pictures, offsets)
    return offsets, time.perf_counter() - started


# -- safenet sample -----------------------------------------------------------------------------------------


def run_sample(
    path: Path, block_set: BlockSet, options: SampleOptions, on_round: Callable[..., None] | None = None
) -> SampleResult:
    drop_caches()
    return sample(path, [block_set], options, on_round)


def both_modes(
    image: Path, block_set: BlockSet, options: SampleOptions, offsets: list[int], sizes: list[int], what: str
) -> list[dict[str, Any]]:
    """The sample as the examiner runs it (stopping after the round with a hit) and with ``complete`` (the whole
    planned sample), each row printed."""
    rows = []
    for complete in (False, True):
        result = run_sample(image, block_set, _replace(options, complete=complete))
        rows.append(sample_row("complete" if complete else "default", result, offsets, sizes))
        print(f"{what}: {rows[-1]}")
    return rows


def sample_row(label: str, result: SampleResult, offsets: list[int], sizes: list[int]) -> dict[str, Any]:
    inside = [any(o <= h.offset < o + s for o, s in zip(offsets, sizes, strict=True)) for h in result.hits]
    if not all(inside):
        raise SystemExit(f"{label}: a hit outside the planted pictures: {result.hits}")
    return {
        "label": label,
        "planned": result.planned,
        "read": result.read,
        "hits": len(result.hits),
        "stopped": result.stopped,
        "seconds": round(result.seconds, 3),
        "iops": round(result.read / result.seconds) if result.seconds else None,
        "reached": result.reached,
        "verdict": result.verdict(),
    }


def min_known_for(total_blocks: int, reads: int, confidence: float) -> int:
    """A --min-known (bytes) whose planned sample at ``confidence`` is about ``reads`` blocks."""
    known = max(1, round(total_blocks * -math.log(1 - confidence) / reads))
    return known * BLOCK


# -- fio ----------------------------------------------------------------------------------------------------


def run_fio(path: Path, engine: str, depth: int, reads: int) -> dict[str, Any]:
    common = ["fio", "--name=randread", f"--filename={path}", "--rw=randread", "--bs=4k", "--output-format=json"]
    common += ["--randrepeat=0", "--norandommap", "--invalidate=1", "--group_reporting"]
    if engine == "psync":
        args = ["--ioengine=psync", f"--numjobs={depth}", "--direct=0", f"--io_size={reads * BLOCK // depth}"]
    else:
        args = [f"--ioengine={engine}", f"--iodepth={depth}", "--direct=1", f"--io_size={reads * BLOCK}"]
    drop_caches()
    done = subprocess.run(common + args, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(done.stdout[done.stdout.index("{") :])
    job = report["jobs"][0]["read"]
    return {
        "label": f"fio {engine}",
        "command": " ".join(["fio", *common[1:2], *common[3:5], *args[:3]]),
        "read": int(job["total_ios"]),
        "seconds": round(job["runtime"] / 1000, 3),
        "iops": round(job["iops"]),
    }


# -- first hit ----------------------------------------------------------------------------------------------


def make_tree(tree: Path, files: int, seed: int, known: bytes) -> tuple[str, float]:
    """``files`` small benign files laid out like a Windows user's disk; returns the known picture's path."""
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 4])
    pool = rng.bytes(8 * MIB)
    text = (b"lorem ipsum dolor sit amet, consectetur adipiscing elit; " * 200)[:16384]
    headers = {"dll": b"MZ\x90\x00", "sys": b"MZ\x90\x00", "dat": b"", "txt": b"", "log": b"", "xml": b"<?xml "}
    headers |= {"jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "png": b"\x89PNG\r\n\x1a\n"}
    layout = [  # (share of the files, folder pattern, extensions)
        (0.40, "Windows/System32/{a}/{b}", ("dll", "sys", "dat")),
        (0.25, "Program Files/App{a}/lib{b}", ("dll", "dat", "xml", "txt")),
        (0.20, "Users/alice/AppData/Local/Cache{a}/{b}", ("dat", "log")),
        (0.13, "Users/alice/Documents/Folder{a}/{b}", ("txt", "xml", "log")),
        (0.02, "Users/alice/Pictures/{a}/{b}", ("jpg", "png")),
    ]
    sizes = rng.integers(200, 12_000, size=files)
    n = 0
    for share, pattern, exts in layout:
        count = round(files * share) if pattern != layout[-1][1] else files - 1 - n
        for i in range(count):
            folder = tree / pattern.format(a=2010 + i // 2000, b=(i // 100) % 20)
            if i % 100 == 0:
                folder.mkdir(parents=True, exist_ok=True)
            ext = exts[i % len(exts)]
            size = int(sizes[n])
            start = int(rng.integers(0, len(pool) - size))
            body = text[:size] if ext in ("txt", "log", "xml") else pool[start : start + size]
            (folder / f"f{i:06d}.{ext}").write_bytes(headers[ext] + body)
            n += 1
    relative = "Users/alice/Pictures/2024/holiday/IMG_0420.jpg"
    (tree / relative).parent.mkdir(parents=True, exist_ok=True)
    (tree / relative).write_bytes(known)
    return relative, time.perf_counter() - started


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def first_hit(work: Path, args: argparse.Namespace, known: bytes) -> dict[str, Any]:
    tree, image = work / "tree", work / "ext4.img"
    relative, tree_s = make_tree(tree, args.files, args.seed, known)
    started = time.perf_counter()
    with image.open("wb") as fh:
        fh.truncate(args.disk_gb * 10**9)
    mkfs = ["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=1,nodiscard", "-d", str(tree), str(image)]
    subprocess.run(mkfs, check=True, timeout=1800)
    mkfs_s = time.perf_counter() - started
    shutil.rmtree(tree)
    on_disk = image.stat().st_blocks * 512
    print(
        f"first-hit: tree of {args.files:,} files in {tree_s:.1f} s; ext4 image {args.disk_gb} GB "
        f"({on_disk / 1e9:.2f} GB allocated) in {mkfs_s:.1f} s"
    )
    env = dict(os.environ, SAFENET_HASHDB=str(work / "hashdb"), NO_COLOR="1", COLUMNS="120")
    rng = np.random.default_rng([args.seed, 5])
    lines = [f"{bytes(d).hex()}  decoy/{i}.jpg\n" for i, d in enumerate(rng.integers(0, 256, (1000, 16), np.uint8))]
    lines.insert(500, f"{hashlib.md5(known).hexdigest()}  {relative}\n")
    (work / "firsthit.md5").write_text("".join(lines))
    safenet = str(ROOT / ".venv" / "bin" / "safenet")
    imported = subprocess.run(
        [safenet, "hashset", "import", str(work / "firsthit.md5"), "--name", "firsthit", "--kind", "illicit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if imported.returncode:
        raise SystemExit(f"hash-set import failed: {imported.stdout}{imported.stderr}")
    runs = []
    for regime in ("warm", "cold"):
        case = work / f"case-{regime}"
        cmd = [safenet, "triage", str(image), "--case", str(case), "--exhibit", "X1", "--profile", "quick"]
        cmd += ["--stop-at-first-hit", "--hashset", "firsthit"]
        if regime == "cold":
            drop_caches()
        with (work / f"triage-{regime}.log").open("wb") as log:
            res = run_child(cmd, stdout=log, stderr=log, env=env, timeout=1800)
        report = work / f"report-{regime}.json"
        subprocess.run(
            [safenet, "report", str(case), "--format", "json", "--output", str(report)],
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        if not report.exists():
            print(f"first-hit {regime}: no report; the triage log ends:\n{log_tail(work / f'triage-{regime}.log')}")
            runs.append({"regime": regime, "seconds": round(res.wall_s, 2), "exit": res.returncode, "ok": False})
            continue
        data = json.loads(report.read_text())
        hits = data["totals"]["hits"]
        found = {(item.get("md5") or "").lower() for item in data.get("items", []) if item.get("findings")}
        ok = res.returncode == 0 and hits == 1 and found == {hashlib.md5(known).hexdigest()}
        print(
            f"first-hit {regime}: exit {res.returncode}, {res.wall_s:.2f} s, {hits} hit(s), "
            f"check {'ok' if ok else 'FAILED'}"
        )
        if not ok:
            print(log_tail(work / f"triage-{regime}.log"))
        runs.append(
            {
                "regime": regime,
                "seconds": round(res.wall_s, 2),
                "cpu_s": round(res.user_s + res.sys_s, 2),
                "rss_mib": res.max_rss_kib // 1024,
                "exit": res.returncode,
                "hits": hits,
                "ok": ok,
                "items_by_status": data["exhibits"][0]["items_by_status"] if data.get("exhibits") else {},
            }
        )
        shutil.rmtree(case, ignore_errors=True)
    image.unlink()
    return {
        "files": args.files,
        "image_gb": args.disk_gb,
        "tree_s": round(tree_s, 1),
        "mkfs_s": round(mkfs_s, 1),
        "allocated_gb": round(on_disk / 1e9, 2),
        "runs": runs,
        "command": " ".join([*cmd[:1], "triage", "IMAGE", *cmd[7:]]),
    }


# -- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"from {','.join(PARTS)} (default all)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/safenet-bench-sample"))
    parser.add_argument("--keep", action="store_true", help="keep the generated images")
    parser.add_argument("--queue-depth", type=int, default=16, help="reads in flight, Safenet and fio (default 16)")
    parser.add_argument("--reads", type=int, default=100_000, help="random reads per IOPS run (default 100000)")
    parser.add_argument("--disk-gb", type=int, default=32, help="size of the real-data and ext4 images, GB (32)")
    parser.add_argument("--sparse-tib", type=float, default=1.0, help="size of the sparse image, TiB (1)")
    parser.add_argument("--known-mib", type=int, default=20, help="MiB of known pictures planted (20)")
    parser.add_argument("--files", type=int, default=100_000, help="files in the first-hit image (100000)")
    parser.add_argument("--repeat", type=int, default=5, help="IOPS runs per reader, round-robin (default 5)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--markdown", action="store_true", help="print the README's tables")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := [p for p in parts if p not in PARTS]:
        parser.error(f"unknown part(s) {unknown}; choose from {PARTS}")
    if not can_drop_caches():
        print("needs root: every run here starts with the page cache dropped", file=sys.stderr)
        return 1
    if "iops" in parts and shutil.which("fio") is None:
        print("fio missing: install Debian's fio (make sysdeps)", file=sys.stderr)
        return 1
    host = host_info()
    out: dict[str, Any] = {"host": host, "fio": tool_version(["fio", "--version"]), "queue_depth": args.queue_depth}
    print(
        f"host: {host['cpus']} CPUs ({host['cpu_model']}), {host['mem_total_gib']} GiB RAM, "
        f"load {host['loadavg_at_start']}, git {host['git']}"
    )
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        warm_up = work / "warm-up.img"
        warm_up.write_bytes(bytes(MIB))
        regions_of(warm_up)  # imports (dfVFS, TSK) once, untimed: a command pays them at start-up, not per sample
        pictures = make_pictures(args.known_mib * MIB, args.seed)
        sizes = [len(p) for _, p in pictures]
        info = build_block_set(pictures, work / "blocks", "known")
        block_set = BlockSet(work / "blocks")
        out["pictures"] = {"count": len(pictures), "bytes": sum(sizes), "distinctive_blocks": info.distinctive_blocks}
        print(f"pictures: {len(pictures)}, {sum(sizes) / MIB:.1f} MiB, {info.distinctive_blocks:,} distinctive blocks")
        verdict_options = SampleOptions(
            confidence=0.99, min_known=20 * MIB, seed=args.seed, queue_depth=args.queue_depth
        )
        if "sparse" in parts:
            sparse = work / "sparse-1tib.img"
            size = int(args.sparse_tib * (1 << 40))
            with sparse.open("wb") as fh:
                fh.truncate(size)
            offsets = place(pictures, size, args.seed)
            write_at(sparse, pictures, offsets)
            rows = both_modes(sparse, block_set, verdict_options, offsets, sizes, f"sparse {size / (1 << 40):g} TiB")
            out["sparse"] = {"size": size, "runs": rows}
            sparse.unlink()
        if "cold" in parts or "iops" in parts:
            disk = work / "disk.img"
            size = args.disk_gb * 10**9 // BLOCK * BLOCK
            offsets, made_s = make_disk(disk, size, args.seed, pictures)
            print(f"disk image: {size / 1e9:.0f} GB of real data written in {made_s:.1f} s")
            if "cold" in parts:
                rows = both_modes(disk, block_set, verdict_options, offsets, sizes, f"cold {size / 1e9:.0f} GB")
                out["cold"] = {"size": size, "runs": rows}
            if "iops" in parts:
                out["iops"] = iops(disk, block_set, args, offsets, sizes)
                ok &= bool(out["iops"])
            disk.unlink()
        if "first-hit" in parts:
            out["first_hit"] = first_hit(work, args, pictures[0][1])
            ok &= all(r["ok"] for r in out["first_hit"]["runs"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.markdown:
        print_tables(out)
    print(json.dumps(out))
    return 0 if ok else 1


def _replace(options: SampleOptions, **changes: Any) -> SampleOptions:
    from dataclasses import replace

    return replace(options, **changes)


def iops(disk: Path, block_set: BlockSet, args: argparse.Namespace, offsets: list[int], sizes: list[int]) -> dict:
    """fio's three engines and Safenet's sampler, round-robin ``--repeat`` times, page cache dropped before each."""
    total = disk.stat().st_size // BLOCK
    min_known = min_known_for(total, args.reads, 0.99)
    options = SampleOptions(min_known=min_known, seed=args.seed, queue_depth=args.queue_depth, complete=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for engine in ("psync", "libaio", "io_uring"):
            runs.setdefault(f"fio {engine}", []).append(run_fio(disk, engine, args.queue_depth, args.reads))
        rounds_done: list[float] = []
        started = time.perf_counter()
        result = run_sample(disk, block_set, options, lambda *_, done=rounds_done: done.append(time.perf_counter()))
        row = sample_row("safenet", result, offsets, sizes)
        # Steady rate: rounds after the first, timed from the first round's end (no planning, no volume detection).
        row["iops_steady"] = round((result.read - options.round_blocks) / (rounds_done[-1] - rounds_done[0]))
        row["first_round_s"] = round(rounds_done[0] - started, 3)
        runs.setdefault("safenet", []).append(row)
        print("iops: " + "; ".join(f"{k} {v[-1]['iops']:,}" for k, v in runs.items()))
    rows = []
    for label, each in runs.items():
        iops_all = [r["iops"] for r in each]
        row = {"label": label, "read": each[0]["read"], "iops": round(median(iops_all)), "iops_runs": iops_all}
        row["seconds"] = median([r["seconds"] for r in each])
        if label == "safenet":
            row["iops_steady"] = round(median([r["iops_steady"] for r in each]))
            row["iops_steady_runs"] = [r["iops_steady"] for r in each]
        else:
            row["command"] = each[0]["command"]
        rows.append(row)
    ours, psync = rows[-1], rows[0]
    best = max(rows[:3], key=lambda r: r["iops"])
    ratio = ours["iops"] / psync["iops"]
    print(f"iops medians of {args.repeat}: " + "; ".join(f"{r['label']} {r['iops']:,}" for r in rows))
    print(
        f"safenet / fio psync = {ratio:.2f} (goal >= {GOAL_IOPS:.2f}: {'met' if ratio >= GOAL_IOPS else 'NOT met'}); "
        f"steady {ours['iops_steady'] / psync['iops']:.2f}; safenet / best fio ({best['label']}) = "
        f"{ours['iops'] / best['iops']:.2f}"
    )
    return {
        "reads": args.reads,
        "min_known": min_known,
        "repeat": args.repeat,
        "runs": rows,
        "ratio_psync": round(ratio, 3),
        "ratio_steady_psync": round(ours["iops_steady"] / psync["iops"], 3),
        "ratio_best": round(ours["iops"] / best["iops"], 3),
    }


def print_tables(out: dict[str, Any]) -> None:
    """The runs as Markdown tables, for the README."""
    if "iops" in out:
        print_markdown(
            [f"reader (Q = {out['queue_depth']}, page cache dropped)", "reads", "median s", "IOPS (median)", "runs"],
            [
                [
                    r["label"],
                    f"{r['read']:,}",
                    f"{r['seconds']:.2f}",
                    f"{r['iops']:,}",
                    ", ".join(f"{x:,}" for x in r["iops_runs"]),
                ]
                for r in out["iops"]["runs"]
            ],
        )
    for key, title in (("sparse", "1 TiB sparse"), ("cold", "32 GB, from disk")):
        if key in out:
            print_markdown(
                [title, "planned", "read", "s", "verdict"],
                [
                    [r["label"], f"{r['planned']:,}", f"{r['read']:,}", f"{r['seconds']:.2f}", r["verdict"]]
                    for r in out[key]["runs"]
                ],
            )
    if "first_hit" in out:
        print_markdown(
            ["first hit, 100 000 files", "s", "CPU s", "hits"],
            [[r["regime"], f"{r['seconds']:.2f}", f"{r['cpu_s']:.2f}", r["hits"]] for r in out["first_hit"]["runs"]],
        )


if __name__ == "__main__":
    sys.exit(main())
