"""Benchmark: `safenet triage IMAGE --profile quick|full` against Sleuth Kit's `fls -r -p` + `tsk_recover -e`.

The issue-3 goal: Safenet enumerates and hashes every file of a disk image (and matches the digests
against a hash set) within 1.2x of the time TSK takes to list the image and extract every file.

1. Tree: reuses bench_triage's tree of ~20 000 photo-sized files (JPEG header + seeded random bytes,
   ~2.4 GB) from bench/out/triage/ when a complete one with a matching manifest is there, else generates
   the same tree under bench/out/image/.
2. Images (under bench/out/image/, reused by manifest): ext4 by `mkfs.ext4 -d TREE`; NTFS by `mkntfs`
   and a copy through the ntfs-3g FUSE driver (skipped, with the reason, where FUSE is unavailable).
3. A synthetic md5sum list (bench_triage's: 100 000 random MD5s + the MD5s of 50 tree files) imported
   into a temporary hash-set database (not timed).
4. Per image, warm page cache (one untimed run of each side first), --repeat rounds (default 5: TSK's
   times spread widely), alternating order, each timed run started after a sync (no dirty pages left):
     TSK:     fls -r -p IMAGE > /dev/null; then tsk_recover -e IMAGE OUTDIR (OUTDIR on the same disk,
              deleted after each run); the two times are summed. tsk_recover returns once its files are in
              the page cache; how long a sync then takes to write them is printed beside, not counted
     Safenet: safenet triage IMAGE --case <fresh> --exhibit X --profile P --hashset benchset > /dev/null
              for P = quick and full. Every file of the tree is a photo by signature, so the quick profile
              hashes (MD5 and SHA-256: the set holds MD5) and matches every file (live and deleted): the
              like-for-like comparison the goal is about; "quick3" is the same run with all three digests
              (--digests md5,sha1,sha256), shown beside. The full profile does more than TSK on top: all
              three digests, review thumbnails (a decode per picture), carving of unallocated space, every
              non-media file (file-system metadata files) hashed.
   Every Safenet run is checked: 50 hits, every file examined.
5. Prints medians, the ratio safenet/TSK per profile beside the goal (judged on quick), the load average,
   and one JSON line.

Exit status 0 when every run succeeded and every check passed (speed is measured, not asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_triage
from bench_triage import check_case, ensure_tree, safenet_bin, write_hashlist
from benchlib import OUT_DIR, ROOT, host_info, median, read_manifest, run_child, tool_version, write_manifest

GOAL = 1.2
FILES, TOTAL, SEED = 20_000, 2_400_000_000, 20260101
IMAGE_DIR = OUT_DIR / "image"
IMAGE_VERSION = 1


def get_tree(files: int, total: int) -> tuple[Path, list[str], list[int]]:
    """bench_triage's tree if already made (bench/out/triage/), else the same tree under bench/out/image/."""
    name = f"tree-{files}f-{total}b-s{SEED}-v{bench_triage.GENERATOR_VERSION}"
    if not (OUT_DIR / "triage" / f"{name}.manifest.json").exists():
        setattr(bench_triage, "OUT_DIR", IMAGE_DIR)  # noqa: B010 - ensure_tree then writes under bench/out/image/
    tree, paths, sizes, reused, seconds = ensure_tree(files, total, SEED)
    print(
        f"tree: {tree} ({len(paths):,} files, {sum(sizes) / 1e9:.2f} GB) "
        + ("reused" if reused else f"made in {seconds:.0f} s")
    )
    return tree, paths, sizes


def build_image(kind: str, tree: Path, data_bytes: int) -> tuple[Path | None, str]:
    """The ext4 or NTFS image of ``tree``, reused when its manifest matches; (None, why) if it cannot be made."""
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    image = IMAGE_DIR / f"{tree.name}.{kind}.img"
    manifest_path = IMAGE_DIR / f"{image.name}.manifest.json"
    spec = {"tree": tree.name, "kind": kind, "version": IMAGE_VERSION}
    manifest = read_manifest(manifest_path)
    if manifest and manifest.get("spec") == spec and image.exists() and image.stat().st_size == manifest["size"]:
        return image, "reused"
    image.unlink(missing_ok=True)
    size = int(data_bytes * 1.15) + (512 << 20)  # per-file slack, metadata, journal / $MFT
    started = time.perf_counter()
    with open(image, "wb") as fh:
        fh.truncate(size)
    if kind == "ext4":
        cmd = ["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "root_owner=0:0", "-d", str(tree), str(image)]
        subprocess.run(cmd, check=True)
    else:
        subprocess.run(["mkntfs", "-F", "-q", "-f", "-L", "BENCH", str(image)], check=True, capture_output=True)
        mnt = IMAGE_DIR / f"mnt-{os.getpid()}"
        mnt.mkdir()
        mounted = subprocess.run(
            ["ntfs-3g", "-o", "no_def_opts,big_writes", str(image), str(mnt)], capture_output=True, text=True
        )
        if mounted.returncode != 0:
            mnt.rmdir()
            image.unlink()
            return None, f"ntfs-3g FUSE mount failed: {mounted.stderr.strip()[:200]}"
        try:
            copy_tree(tree, mnt)
        finally:
            subprocess.run(["fusermount", "-u", str(mnt)], check=True)
            mnt.rmdir()
    write_manifest(manifest_path, {"spec": spec, "size": image.stat().st_size})
    return image, f"built in {time.perf_counter() - started:.0f} s"


def copy_tree(tree: Path, target: Path) -> None:
    """Files and folders only: ntfs-3g without a user map refuses chmod, which `cp -r` always attempts."""
    for dirpath, _dirs, names in os.walk(tree):
        here = target / os.path.relpath(dirpath, tree)
        here.mkdir(exist_ok=True)
        for name in names:
            shutil.copyfile(os.path.join(dirpath, name), here / name)


def run_tsk(image: Path, work: Path) -> dict[str, Any]:
    outdir = work / "recovered"
    shutil.rmtree(outdir, ignore_errors=True)
    os.sync()  # every timed run starts with no dirty pages left by the one before
    fls = run_child(["fls", "-r", "-p", str(image)], timeout=3600)
    rec = run_child(["tsk_recover", "-e", str(image), str(outdir)], timeout=3600)
    # Not part of TSK's time: how long its extracted files then took to reach the disk (tsk_recover returns
    # once they are in the page cache), printed so the spread of TSK's times can be read against it.
    started = time.perf_counter()
    os.sync()
    sync_s = time.perf_counter() - started
    recovered = sum(len(f) for _, _, f in os.walk(outdir))
    shutil.rmtree(outdir, ignore_errors=True)
    return {
        "wall_s": round(fls.wall_s + rec.wall_s, 3),
        "fls_s": round(fls.wall_s, 3),
        "recover_s": round(rec.wall_s, 3),
        "sync_after_s": round(sync_s, 3),
        "user_s": round(fls.user_s + rec.user_s, 2),  # TSK's own work; its sys time is the kernel taking the writes
        "sys_s": round(fls.sys_s + rec.sys_s, 2),
        "rc": fls.returncode or rec.returncode,
        "files_recovered": recovered,
    }


def run_safenet(
    image: Path, work: Path, env: dict[str, str], expected: dict[str, str], files: int, profile: str, *extra: str
) -> dict[str, Any]:
    case = work / "case"
    shutil.rmtree(case, ignore_errors=True)
    cmd = [str(safenet_bin()), "triage", str(image), "--case", str(case), "--exhibit", "X"]
    cmd += ["--profile", profile, "--hashset", "benchset", *extra]
    os.sync()  # as for TSK: no dirty pages from the run before
    res = run_child(cmd, env=env, timeout=3600)
    out: dict[str, Any] = {
        "wall_s": round(res.wall_s, 3),
        "cpu_s": round(res.user_s + res.sys_s, 2),
        "rc": res.returncode,
        "max_rss_kib": res.max_rss_kib,
    }
    if res.returncode == 0:
        out.update(check_case(case, env, expected, files, work / "report.json"))
    shutil.rmtree(case, ignore_errors=True)
    return out


def bench_image(
    image: Path, repeat: int, work: Path, env: dict[str, str], expected: dict[str, str], files: int
) -> dict[str, Any]:
    sides: dict[str, Callable[[], dict[str, Any]]] = {
        "tsk": lambda: run_tsk(image, work),
        "quick": lambda: run_safenet(image, work, env, expected, files, "quick"),
        "quick3": lambda: run_safenet(image, work, env, expected, files, "quick", "--digests", "md5,sha1,sha256"),
        "full": lambda: run_safenet(image, work, env, expected, files, "full"),
    }
    for name, fn in sides.items():  # warm-up: image in the page cache, first-run costs paid
        r = fn()
        print(f"  warm-up {name:8s} {r['wall_s']:8.2f} s rc={r['rc']}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for rep in range(repeat):
        for name in list(sides)[rep % len(sides) :] + list(sides)[: rep % len(sides)]:
            r = sides[name]()
            r["load1"] = round(os.getloadavg()[0], 2)
            runs[name].append(r)
            detail = (
                f"(fls {r['fls_s']:.2f} + recover {r['recover_s']:.2f}; user {r['user_s']:.2f} s, "
                f"sys {r['sys_s']:.2f} s; its files reached the disk {r['sync_after_s']:.2f} s later)"
                if name == "tsk"
                else f"cpu {r['cpu_s']:.1f} s hits={r.get('hits')} ok={r.get('ok')}"
            )
            print(f"  run {rep + 1} {name:8s} {r['wall_s']:8.2f} s rc={r['rc']} {detail} load={r['load1']}", flush=True)
    ok = all(r["rc"] == 0 for rs in runs.values() for r in rs)
    ok = ok and all(r.get("ok") for name in sides if name != "tsk" for r in runs[name])
    if not ok:  # a failed or unchecked run has no meaningful time: no ratio rather than a flattering one
        return {"ok": False, "runs": runs}
    tsk_s = median([r["wall_s"] for r in runs["tsk"]])
    quick_s = median([r["wall_s"] for r in runs["quick"]])
    full_s = median([r["wall_s"] for r in runs["full"]])
    quick3_s = median([r["wall_s"] for r in runs["quick3"]])
    return {
        "tsk_s": tsk_s,
        "quick_s": quick_s,
        "quick3_s": quick3_s,
        "full_s": full_s,
        "ratio": round(quick_s / tsk_s, 3),
        "ratio_quick3": round(quick3_s / tsk_s, 3),
        "ratio_full": round(full_s / tsk_s, 3),
        "ok": ok,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 000 files / 0.24 GB (a smoke run)")
    parser.add_argument("--kinds", default="ext4,ntfs")
    args = parser.parse_args()
    files, total = (2_000, 240_000_000) if args.quick else (FILES, TOTAL)
    missing = [t for t in ("fls", "tsk_recover", "mkfs.ext4", "mkntfs") if shutil.which(t) is None]
    if missing or not safenet_bin().exists():
        print(f"missing: {missing or [str(safenet_bin())]} (make sysdeps-test; make)", file=sys.stderr)
        return 1
    # Safenet's sources byte-compiled first, as pip does for an installed wheel (an editable install does not,
    # and where PYTHONDONTWRITEBYTECODE is set every run would compile them again: about 0.15 s a run).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    host = host_info()
    print(
        f"host: {host['cpus']} CPUs ({host['cpu_model']}), {host['mem_total_gib']} GiB RAM, "
        f"load {host['loadavg_at_start']}"
    )
    versions = {"tsk": tool_version(["fls", "-V"]), "safenet": tool_version([str(safenet_bin()), "--version"])}
    print(f"versions: {versions}")
    tree, paths, sizes = get_tree(files, total)
    work = IMAGE_DIR / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SAFENET_HASHDB=str(work / "hashdb"), NO_COLOR="1", COLUMNS="120")
    hashlist, expected = write_hashlist(tree, paths, SEED, work)
    imported = run_child(
        [str(safenet_bin()), "hashset", "import", str(hashlist), "--name", "benchset", "--kind", "illicit"], env=env
    )
    if imported.returncode != 0:
        print("hash-set import failed", file=sys.stderr)
        return 1
    results: dict[str, Any] = {}
    for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
        image, how = build_image(kind, tree, sum(sizes))
        if image is None:
            print(f"\n[{kind}] not measured: {how}")
            results[kind] = {"skipped": how}
            continue
        print(
            f"\n[{kind}] {image} ({image.stat().st_size / 1e9:.2f} GB, {how}); warm cache, {args.repeat} runs each",
            flush=True,
        )
        results[kind] = bench_image(image, args.repeat, work, env, expected, len(paths))
    shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{'image':6s} {'TSK fls+tsk_recover (s)':>24s} {'safenet quick (s)':>18s} {'ratio':>7s}"
        f" {'quick, 3 digests (s)':>21s} {'ratio':>7s} {'safenet full (s)':>17s} {'ratio':>7s}"
        f"  goal <= {GOAL}x (quick: hashes + matches every file here)"
    )
    for kind, r in results.items():
        if "skipped" in r:
            print(f"{kind:6s} skipped: {r['skipped']}")
            continue
        if not r["ok"]:
            print(f"{kind:6s} FAILED: a run exited non-zero or a Safenet check failed (see above); no figures")
            continue
        verdict = "met" if r["ratio"] <= GOAL else "NOT met"
        print(
            f"{kind:6s} {r['tsk_s']:24.2f} {r['quick_s']:18.2f} {r['ratio']:6.2f}x {r['quick3_s']:21.2f}"
            f" {r['ratio_quick3']:6.2f}x {r['full_s']:17.2f} {r['ratio_full']:6.2f}x  {verdict}"
        )
    print(f"load average at end: {[round(x, 2) for x in os.getloadavg()]}")
    summary = {
        "bench": "image",
        "files": len(paths),
        "bytes": int(sum(sizes)),
        "goal_ratio": GOAL,
        "host": {k: host[k] for k in ("cpus", "cpu_model", "mem_total_gib", "loadavg_at_start")},
        "versions": versions,
        "results": {k: {x: y for x, y in v.items() if x != "runs"} for k, v in results.items()},
        "runs": {k: v.get("runs") for k, v in results.items()},
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0 if all(r.get("ok", True) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
