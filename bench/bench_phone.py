"""Benchmark: phones. ADB: Safenet's triage of a live phone vs ``adb pull`` of the same tree through the same adb
server, same run. iOS: P1's ``bench/phone_ios.py`` (an iTunes backup vs a bare walk+hash floor), when present.

ADB part (``--part adb``):
1. Builds (or reuses, by manifest) a shared-storage tree of ``--files`` benign files under
   bench/out/phone_adb/sdcard: JPEG SOI+APP0 headers followed by seeded random bytes (``--min-kb`` to
   ``--max-kb``), spread like a phone's (DCIM/Camera, WhatsApp received and Sent under Android/media,
   Telegram, Pictures/Screenshots, Download). A synthetic md5sum list of 10 000 random MD5s plus the real MD5s
   of 20 tree files is imported into a scratch hash-set database (not timed).
2. Starts Debian's adb server on a private port and the device-side ADB double (tests/evidence/phone/
   adb_double.py) serving the tree, ``adb connect`` s it, then times, warm (one untimed run of each first),
   interleaved, ``--repeat`` times each:
     adb pull: adb -s SERIAL pull /sdcard/<each folder Safenet reads> <fresh folder>
     safenet:  safenet triage android://SERIAL --case <fresh> --exhibit EX1 --profile quick --hashset benchset
   Safenet's run is checked: its items are the tree's files, exactly the 20 planted files matched.
   For reference (not the goal), the same triage of the same tree from the local folder is timed too: what
   Safenet costs with no phone and no adb in between.
   ``adb pull`` writes every file to disk and hashes nothing; Safenet hashes (MD5 + SHA-256), matches and
   records every file and writes no copy.
3. The double runs in this process; its CPU time over each timed run is reported, so that a double too slow
   to tell the two apart would show (it serves both the same bytes the same way). By default it serves as
   fast as loopback allows (the double is not the bottleneck); ``--phone-mbps 40`` caps it like a phone on
   USB, the regime a real acquisition runs in.

Prints seconds and the ratio safenet / adb pull beside the goal (<= 1.1x), then one JSON line per part;
``--markdown`` prints a table for bench/README.md. Speed is measured, never asserted: the exit status is 0
when every run succeeded and the checks passed, 1 otherwise.

    .venv/bin/python bench/bench_phone.py                      # ADB part, 5 000 files; iOS part if present
    .venv/bin/python bench/bench_phone.py --part adb --files 500 --markdown
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
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
    host_info,
    make_hashdb,
    median,
    read_manifest,
    run_child,
    run_logged,
    write_manifest,
)

sys.path.insert(0, str(ROOT))  # the tests' double is the phone: one definition of the device side

from tests.evidence.phone.adb_double import AdbServer, PhoneDouble

GENERATOR_VERSION = 1
JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")  # SOI + APP0 "JFIF\0" 1.1
HITS = 20
DECOYS = 10_000
GOAL = 1.1
# Where the files go, and what share of them (the folders Safenet reads; see android_live.SHARED_FOLDERS).
LAYOUT = (
    ("DCIM/Camera/IMG_{n:05d}.jpg", 0.45),
    ("Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-WA{n:05d}.jpg", 0.25),
    ("Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-WA{n:05d}.jpg", 0.05),
    ("Android/media/org.telegram.messenger/Telegram/Telegram Images/{n:05d}.jpg", 0.05),
    ("Pictures/Screenshots/Screenshot_{n:05d}.jpg", 0.1),
    ("Download/file{n:05d}.jpg", 0.1),
)
FOLDERS = ("DCIM", "Android", "Pictures", "Download")  # the top folders LAYOUT fills (adb pull takes these)


def tree_files(files: int, seed: int, min_kb: int, max_kb: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    out: dict[str, bytes] = {}
    n = 0
    for pattern, share in LAYOUT:
        for _ in range(round(files * share)):
            out[pattern.format(n=n)] = JPEG_HEAD + rng.randbytes(rng.randint(min_kb * 1024, max_kb * 1024))
            n += 1
    while len(out) > files:  # rounding
        out.popitem()
    return out


def ensure_tree(files: int, seed: int, min_kb: int, max_kb: int) -> tuple[Path, dict[str, str]]:
    """The tree (rebuilt when its manifest differs) and the MD5s of the planted hits, by relative path."""
    base = OUT_DIR / "phone_adb"
    root = base / "sdcard"
    spec = {"version": GENERATOR_VERSION, "files": files, "seed": seed, "min_kb": min_kb, "max_kb": max_kb}
    manifest = base / "manifest.json"
    hits_file = base / "hits.json"
    if read_manifest(manifest) == spec and hits_file.exists():
        return root, json.loads(hits_file.read_text())
    shutil.rmtree(base, ignore_errors=True)
    content = tree_files(files, seed, min_kb, max_kb)
    for rel, data in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    planted = random.Random(seed + 1).sample(sorted(content), HITS)
    hits = {rel: hashlib.md5(content[rel]).hexdigest() for rel in planted}
    hits_file.write_text(json.dumps(hits))
    write_manifest(manifest, spec)
    return root, hits


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process: the double's threads
    return usage.ru_utime + usage.ru_stime


def time_pull(server: AdbServer, serial: str, work: Path, tag: str) -> dict[str, Any]:
    dest = work / f"pull-{tag}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    sources = [f"/sdcard/{folder}" for folder in FOLDERS]
    cmd = ["adb", "-P", str(server.port), "-s", serial, "pull", *sources, str(dest)]
    before = _cpu()
    res = run_child(cmd, stdout=None, env=server.env, timeout=3600)
    out = child_times(res)
    out["double_cpu_s"] = round(_cpu() - before, 2)
    out["files"] = sum(1 for p in dest.rglob("*") if p.is_file())
    shutil.rmtree(dest)
    return out


def time_safenet(
    server: AdbServer, serial: str, work: Path, env: dict[str, str], tag: str, hits: dict[str, str], files: int
) -> dict[str, Any]:
    case = work / f"case-{tag}"
    shutil.rmtree(case, ignore_errors=True)
    cmd = [str(VENV_BIN / "safenet"), "triage", f"android://{serial}", "--case", str(case), "--exhibit", "EX1"]
    cmd += ["--profile", "quick", "--hashset", "benchset", "--hashdb", str(work / "hashdb")]
    log = work / f"{tag}.log"
    before = _cpu()
    out = run_logged(cmd, log, env={**env, "ANDROID_ADB_SERVER_PORT": str(server.port)})
    out["double_cpu_s"] = round(_cpu() - before, 2)
    if out["rc"] != 0:
        return out
    out.update(check_planted(case, hits, files))
    shutil.rmtree(case)
    return out


def time_local(
    root: Path, work: Path, env: dict[str, str], tag: str, hits: dict[str, str], files: int
) -> dict[str, Any]:
    """Reference: the same triage of the same files from the local folder (no phone, no adb in between)."""
    case = work / f"local-{tag}"
    shutil.rmtree(case, ignore_errors=True)
    cmd = [str(VENV_BIN / "safenet"), "triage", str(root), "--case", str(case), "--exhibit", "EX1"]
    cmd += ["--profile", "quick", "--hashset", "benchset", "--hashdb", str(work / "hashdb")]
    res = run_child(cmd, env=env, timeout=3600)
    out: dict[str, Any] = child_times(res)
    if res.returncode == 0:
        out.update(check_planted(case, hits, files))
    shutil.rmtree(case, ignore_errors=True)
    return out


def measure_adb(
    files: int = 5_000,
    repeat: int = 1,
    seed: int = 20261206,
    min_kb: int = 8,
    max_kb: int = 120,
    phone_mbps: float = 0.0,
) -> dict[str, Any]:
    root, hits = ensure_tree(files, seed, min_kb, max_kb)
    work = Path(tempfile.mkdtemp(prefix="phone-adb-", dir=OUT_DIR))
    server = AdbServer(work / "adb-home")
    try:
        env = make_hashdb(work, hits, seed, DECOYS)
        with PhoneDouble(root, rate=phone_mbps * 1e6 if phone_mbps else None) as double:
            server.connect(double)
            serial = double.address
            time_pull(server, serial, work, "warmup")  # warm: the page cache holds the tree for every timed run
            time_safenet(server, serial, work, env, "warmup", hits, files)
            time_local(root, work, env, "warmup", hits, files)
            pull, safenet, local = [], [], []
            for n in range(repeat):
                pull.append(time_pull(server, serial, work, f"run{n}"))
                safenet.append(time_safenet(server, serial, work, env, f"run{n}", hits, files))
                local.append(time_local(root, work, env, f"run{n}", hits, files))
            server.disconnect(double)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
    ok = all(r["rc"] == 0 and r["files"] == files for r in pull) and all(r["rc"] == 0 and r.get("ok") for r in safenet)
    pull_s = median([r["wall_s"] for r in pull])
    safenet_s = median([r["wall_s"] for r in safenet])
    return {
        "benchmark": "phone_adb",
        "files": files,
        "phone_mbps": phone_mbps or None,
        "tree_bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
        "adb_pull_s": pull_s,
        "safenet_s": safenet_s,
        "ratio": round(safenet_s / pull_s, 2) if pull_s else None,
        "goal_ratio": GOAL,
        "safenet_local_folder_s": median([r["wall_s"] for r in local]),
        # CPU of each command's own processes (not the adb server's, not the double's): steadier than wall time
        # on a loaded machine, and it shows what reading over ADB adds to Safenet's own work (vs the folder).
        "cpu_s": {
            "adb_pull": median([r["cpu_s"] for r in pull]),
            "safenet": median([r["cpu_s"] for r in safenet if "cpu_s" in r] or [0.0]),
            "safenet_local_folder": median([r["cpu_s"] for r in local if "cpu_s" in r] or [0.0]),
        },
        "double_cpu_s": {
            "adb_pull": median([r["double_cpu_s"] for r in pull]),
            "safenet": median([r["double_cpu_s"] for r in safenet]),
        },
        "adb": server.run("version").splitlines()[0] if shutil.which("adb") else None,
        "ok": ok,
        "runs": {"adb_pull": pull, "safenet": safenet, "safenet_local_folder": local},
        "host": host_info(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    head = "| part | files | MB | peer | peer s | safenet s | ratio | goal | safenet, local folder s | checks |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["benchmark"] == "phone_adb":
            peer, peer_s, size, local = "adb pull", r["adb_pull_s"], r["tree_bytes"], r["safenet_local_folder_s"]
        else:
            peer, peer_s, size, local = "python walk + hash", r["floor_s"], r["backup_bytes"], r.get("folder_s")
        local_text = f"{local:.2f}" if local is not None else "-"
        lines.append(
            f"| {r['benchmark']} | {r['files']:,} | {size / 1e6:.0f} | {peer} | {peer_s:.2f} | {r['safenet_s']:.2f} "
            f"| {r['ratio']}x | <= {r['goal_ratio']}x | {local_text} | {'passed' if r['ok'] else 'FAILED'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("adb", "ios", "all"), default="all", help="which part (default all)")
    parser.add_argument("--files", type=int, default=5_000, help="files in the phone's tree (default 5000)")
    parser.add_argument("--min-kb", type=int, default=8, help="smallest file, KiB (default 8)")
    parser.add_argument("--max-kb", type=int, default=120, help="largest file, KiB (default 120)")
    parser.add_argument(
        "--phone-mbps",
        type=float,
        default=0.0,
        help="cap the double's file data at this many MB/s, like a phone on USB (default: no cap)",
    )
    parser.add_argument("--ios-files", type=int, default=20_000, help="files in the iOS backup (default 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (default 1)")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    if args.part in ("adb", "all"):
        if shutil.which("adb") is None:
            print("adb part skipped: Debian's adb is not installed (apt-get install adb)", file=sys.stderr)
        else:
            r = measure_adb(args.files, args.repeat, min_kb=args.min_kb, max_kb=args.max_kb, phone_mbps=args.phone_mbps)
            results.append(r)
            print(f"ADB: a phone's shared storage of {r['files']} files ({r['tree_bytes'] / 1e6:.1f} MB), {r['adb']}")
            print(f"  adb pull (writes copies, hashes nothing):   {r['adb_pull_s']:.2f} s")
            print(f"  safenet triage --profile quick (MD5+SHA-256, match, record): {r['safenet_s']:.2f} s")
            local_s = r["safenet_local_folder_s"]
            print(f"  reference: the same triage of the same files from a local folder: {local_s:.2f} s")
            checks = "passed" if r["ok"] else "FAILED"
            print(f"  ratio safenet / adb pull: {r['ratio']}x (goal <= {GOAL}x); checks {checks}")
            cpu = r["cpu_s"]
            print(f"  CPU s of the command itself: adb pull {cpu['adb_pull']:.2f}, safenet {cpu['safenet']:.2f}, "
                  f"safenet on the local folder {cpu['safenet_local_folder']:.2f}")  # fmt: skip
            print(f"  the double's CPU: {r['double_cpu_s']['adb_pull']} s during adb pull, "
                  f"{r['double_cpu_s']['safenet']} s during safenet")  # fmt: skip
            for run in r["runs"]["safenet"]:
                if "error" in run:
                    print(run["error"], file=sys.stderr)
            print(json.dumps({k: v for k, v in r.items() if k != "host"}))
    if args.part in ("ios", "all"):
        if not (Path(__file__).parent / "phone_ios.py").exists():
            print("iOS part skipped: bench/phone_ios.py is not in this tree", file=sys.stderr)
        else:
            import phone_ios

            r = phone_ios.measure(args.ios_files, args.repeat)
            results.append(r)
            print(f"iOS: an iTunes backup of {r['files']} files ({r['backup_bytes'] / 1e6:.1f} MB)")
            print(f"  python floor (walk + MD5 + SHA-256): {r['floor_s']:.2f} s; safenet: {r['safenet_s']:.2f} s")
            print(f"  ratio safenet / floor: {r['ratio']}x (goal <= {r['goal_ratio']}x)")
            print(json.dumps({k: v for k, v in r.items() if k != "host"}))
    if args.markdown and results:
        print(markdown(results))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
