"""Benchmark: Safenet's triage of an iTunes backup against a bare Python floor on the same backup, same run.

1. Builds (or reuses, by manifest) an iTunes backup of ``--files`` small benign files under
   bench/out/phone_ios/ with the tests' builder (tests/evidence/phone/ios_builder.py): each file a JPEG
   SOI+APP0 header followed by seeded random bytes (1-8 KB), as camera-roll files in CameraRollDomain, plain
   or (``--encrypted``) encrypted. A synthetic md5sum list of 10 000 random MD5s plus the real MD5s of 20
   backup files is imported into a temporary hash-set database (not timed).
2. Times, warm page cache (one untimed run of each first), interleaved, ``--repeat`` times each:
     floor:   python: os.walk of the backup folder, MD5 + SHA-256 of every file (2 threads, 1 MiB reads)
     safenet: safenet triage BACKUP --case <fresh> --exhibit EX1 --profile quick --hashset benchset
     folder:  the same triage of a plain folder holding the same data files (hard links, no Manifest): what
              Safenet's engine costs on these files without the backup back-end (plain backups only)
   Safenet's runs are checked: the case's items are the backup's files, the 20 planted hits are found.
3. Prints wall and CPU seconds and the ratio safenet / floor beside the goal (<= 1.2x), then one JSON line.

``measure()`` is the function ``bench/bench_phone.py`` calls for the iOS part. Speed is measured, never
asserted: the exit status is 0 when every run succeeded and the correctness check passed, 1 otherwise.

    .venv/bin/python bench/phone_ios.py                 # 20 000 files
    .venv/bin/python bench/phone_ios.py --files 2000    # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import (
    OUT_DIR,
    ROOT,
    VENV_BIN,
    check_planted,
    child_times,
    floor_child,
    host_info,
    make_hashdb,
    median,
    read_manifest,
    run_child,
    run_logged,
    write_manifest,
)

sys.path.insert(0, str(ROOT))  # the tests' builder makes the backup: one definition of the format

from tests.evidence.phone.ios_builder import BackupFile, build_backup

GENERATOR_VERSION = 1
JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")  # SOI + APP0 "JFIF\0" 1.1
HITS = 20
DECOYS = 10_000
GOAL = 1.2
PASSWORD = "bench password"


def backup_files(files: int, seed: int) -> list[BackupFile]:
    rng = random.Random(seed)
    out = []
    for n in range(files):
        data = JPEG_HEAD + rng.randbytes(rng.randint(1_000, 8_000))
        folder = 100 + n // 1000
        out.append(BackupFile("CameraRollDomain", f"Media/DCIM/{folder}APPLE/IMG_{n % 10000:04}.JPG", data))
    return out


def ensure_backup(files: int, seed: int, encrypted: bool) -> tuple[Path, dict[str, str]]:
    """The backup folder (built once per parameters) and the planted hits: relative path -> md5."""
    base = OUT_DIR / "phone_ios" / f"{files}-{seed}-{'enc' if encrypted else 'plain'}"
    manifest = base / "bench-manifest.json"
    want = {"generator": GENERATOR_VERSION, "files": files, "seed": seed, "encrypted": encrypted}
    found = read_manifest(manifest)
    if found is not None and found.get("params") == want:
        return base / "backup", found["hits"]
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    made = backup_files(files, seed)
    build_backup(base / "backup", made, PASSWORD if encrypted else None)
    picks = random.Random(seed + 1).sample(made, min(HITS, len(made)))
    hits = {f.path: hashlib.md5(f.data).hexdigest() for f in picks}
    write_manifest(manifest, {"params": want, "hits": hits})
    return base / "backup", hits


def time_floor(backup: Path) -> dict[str, Any]:
    res = run_child(
        [sys.executable, __file__, "_floor", str(backup), "md5,sha256", "2"], stderr=subprocess.DEVNULL, timeout=3600
    )
    return child_times(res)


def plain_folder(backup: Path) -> Path:
    """The backup's data files as a plain folder (hard links): the folder back-end's reference."""
    folder = backup.parent / "folder"
    if not folder.exists():
        for sub in sorted(p for p in backup.iterdir() if p.is_dir()):
            (folder / sub.name).mkdir(parents=True)
            for f in sub.iterdir():
                os.link(f, folder / sub.name / f.name)
    return folder


def time_safenet(
    backup: Path, work: Path, env: dict[str, str], tag: str, encrypted: bool, hits: dict[str, str], files: int
) -> dict[str, Any]:
    case = work / f"case-{tag}"
    shutil.rmtree(case, ignore_errors=True)
    cmd = [str(VENV_BIN / "safenet"), "triage", str(backup), "--case", str(case), "--exhibit", "EX1"]
    cmd += ["--profile", "quick", "--hashset", "benchset", "--hashdb", str(work / "hashdb")]
    if encrypted:
        cmd += ["--password", PASSWORD]
    log = work / f"{tag}.log"
    out = run_logged(cmd, log, env=env)
    if out["rc"] != 0:
        return out
    out.update(check_planted(case, hits, files, warnings_fail=False))
    shutil.rmtree(case)
    return out


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    """The median over the runs that succeeded (a failed run's time means nothing), or None."""
    good = [r[key] for r in runs if r["rc"] == 0]
    return median(good) if good else None


def measure(files: int = 20_000, repeat: int = 1, encrypted: bool = False, seed: int = 20261206) -> dict[str, Any]:
    """Build (or reuse) the backup, time floor and safenet ``repeat`` times each (warm cache), return figures."""
    backup, hits = ensure_backup(files, seed, encrypted)
    work = Path(tempfile.mkdtemp(prefix="phone-ios-", dir=OUT_DIR))
    try:
        env = make_hashdb(work, hits, seed, DECOYS)
        time_floor(backup)  # warm-up: the page cache holds the backup for every timed run
        time_safenet(backup, work, env, "warmup", encrypted, hits, files)
        folder = plain_folder(backup) if not encrypted else backup
        floor, safenet, plain = [], [], []
        for n in range(repeat):
            floor.append(time_floor(backup))
            safenet.append(time_safenet(backup, work, env, f"run{n}", encrypted, hits, files))
            if not encrypted:  # an encrypted backup's data files are ciphertext: no folder reference
                plain.append(time_safenet(folder, work, env, f"folder{n}", False, hits, files))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = all(r["rc"] == 0 for r in floor) and all(r["rc"] == 0 and r.get("ok") for r in safenet + plain)
    floor_s, safenet_s = _median(floor, "wall_s"), _median(safenet, "wall_s")
    return {
        "benchmark": "phone_ios",
        "files": files,
        "encrypted": encrypted,
        "backup_bytes": sum(p.stat().st_size for p in backup.rglob("*") if p.is_file()),
        "floor_s": floor_s,
        "safenet_s": safenet_s,
        "folder_s": _median(plain, "wall_s"),
        "floor_cpu_s": _median(floor, "cpu_s"),
        "safenet_cpu_s": _median(safenet, "cpu_s"),
        "folder_cpu_s": _median(plain, "cpu_s"),
        "ratio": round(safenet_s / floor_s, 2) if floor_s and safenet_s else None,
        "goal_ratio": GOAL,
        "ok": ok,
        "runs": {"floor": floor, "safenet": safenet, "folder": plain},
        "host": host_info(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "_floor":
        floor_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000, help="files in the backup (default 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (default 1)")
    parser.add_argument("--encrypted", action="store_true", help="an encrypted backup (safenet gets --password)")
    args = parser.parse_args()
    result = measure(args.files, args.repeat, args.encrypted)
    print(f"iTunes backup of {result['files']} files ({result['backup_bytes'] / 1e6:.1f} MB)")
    rows = [("python floor (walk + MD5 + SHA-256)", "floor"), ("safenet triage --profile quick", "safenet")]
    if not args.encrypted:
        rows.append(("same files as a plain folder", "folder"))
    for label, key in rows:
        print(f"  {label + ':':37} {_secs(result[key + '_s'])} wall, {_secs(result[key + '_cpu_s'])} CPU")
    checks = "passed" if result["ok"] else "FAILED"
    print(f"  ratio safenet / floor: {result['ratio']}x (goal <= {GOAL}x); checks {checks}")
    for run in result["runs"]["safenet"] + result["runs"]["folder"]:
        if "error" in run:
            print(run["error"], file=sys.stderr)
    print(json.dumps({k: v for k, v in result.items() if k != "host"}))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
