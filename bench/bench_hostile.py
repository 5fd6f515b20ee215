"""Benchmark: hostile inputs through `safenet triage`, and the tamper catalogue through `safenet verify`.

What it does, for a fresh seed (or --seed to repeat one):

1. Mutates the media in tests/data/media (pictures, animations, videos) with tests/mutants.py (truncations,
   byte flips, insertions, deletions, swapped headers), and puts some mutants and some unmutated pictures
   into zips that are then mutated too (archives with damaged directories and members).
2. Triages each batch of hostile files as one exhibit (`--profile standard`, a fresh case and installation
   each run) in a child process, with a time limit; a run "ended early" when it did not exit 0.
3. Builds a real triaged and graded case, applies every tampering of tests/case/tampering.py to a copy of
   it and runs verify on each; a tampering is undetected when verify reports no problem. The untampered
   case must verify (a false alarm otherwise).
4. Prints the figures beside their goals, then one JSON line: inputs tried, runs ended early (goal 0), peak
   RSS of any triage (goal < 1 GB), undetected tamperings (goal 0), false alarms (goal 0).

Exit status: 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from benchlib import ROOT, VENV_BIN, print_table, run_child

sys.path.insert(0, str(ROOT))  # the tests' mutators and tamper catalogue

from tests.mutants import mutants

MEDIA = ROOT / "tests" / "data" / "media"
MAX_SOURCE = 4 << 20
RSS_GOAL_KIB = 1 << 20


def _sources() -> list[Path]:
    files = [p for p in sorted(MEDIA.rglob("*")) if p.is_file() and p.stat().st_size <= MAX_SOURCE]
    return [p for p in files if p.suffix.lower() not in (".md", ".txt", ".json")]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _write_batch(folder: Path, rng: random.Random, sources: list[Path], per_run: int) -> int:
    """Hostile files for one run; returns how many inputs (files and archive members) were written."""
    folder.mkdir(parents=True)
    donors = [p.read_bytes()[:64] for p in sources[:8]]
    written = 0
    picked = rng.sample(sources, min(len(sources), max(1, per_run // 4)))
    for source in picked:
        data = source.read_bytes()
        for i, mutant in enumerate(mutants(data, rng.randrange(1 << 30), 4, donors)):
            (folder / f"{source.stem}-{i}{source.suffix}").write_bytes(mutant.data)
            written += 1
    members = {f"in/{p.name}": p.read_bytes() for p in rng.sample(sources, min(3, len(sources)))}
    members |= {f"in/m{i}.bin": m.data for i, m in enumerate(mutants(b"\xff\xd8\xff" + bytes(200), 1, 3))}
    archive = _zip(members)
    for i, mutant in enumerate(mutants(archive, rng.randrange(1 << 30), 6)):
        (folder / f"archive-{i}.zip").write_bytes(mutant.data)
        written += 1 + len(members)
    (folder / "nested.zip").write_bytes(_zip({"inner.zip": archive[: len(archive) // 2], "ok.zip": archive}))
    return written + 2 + 2 * len(members)


def _triage_runs(work: Path, seed: int, runs: int, per_run: int, timeout: float) -> dict[str, Any]:
    rng = random.Random(seed)
    sources = _sources()
    tried = early = 0
    peak = 0
    failures: list[str] = []
    for n in range(runs):
        run_dir = work / f"run{n}"
        tried += _write_batch(run_dir / "ev", rng, sources, per_run)
        env = {
            **os.environ,
            "SAFENET_HASHDB": str(run_dir / "hashdb"),
            "SAFENET_USERS": str(run_dir / "users.sqlite"),
            "SAFENET_AUDIT_KEY": str(run_dir / "key.pem"),
        }
        cmd = [VENV_BIN / "python", "-m", "safenet", "triage", run_dir / "ev", "--case", run_dir / "case"]
        cmd += ["--exhibit", f"H{n}", "--profile", "standard", "--workers", "2"]
        with (run_dir / "stderr.txt").open("wb") as err:
            result = run_child(cmd, env=env, stderr=err, timeout=timeout)
        peak = max(peak, result.max_rss_kib)
        if result.returncode != 0:
            early += 1
            failures.append(f"run {n}: exit {result.returncode}: {(run_dir / 'stderr.txt').read_text()[-300:]}")
        else:
            verify = run_child([VENV_BIN / "python", "-m", "safenet", "verify", run_dir / "case"], env=env)
            if verify.returncode != 0:
                failures.append(f"run {n}: verify of the untampered hostile case exited {verify.returncode}")
                early += 1
        shutil.rmtree(run_dir / "ev")
    return {"inputs_tried": tried, "runs": runs, "runs_ended_early": early, "peak_rss_kib": peak, "failures": failures}


def _tamper(work: Path) -> dict[str, Any]:
    os.environ["SAFENET_HASHDB"] = str(work / "hashdb")
    os.environ["SAFENET_USERS"] = str(work / "users.sqlite")
    os.environ["SAFENET_AUDIT_KEY"] = str(work / "key" / "audit-key.pem")
    from tests.case.tampering import CATALOGUE
    from tests.case.test_verify_tamper import build_graded

    from safenet.case.store import Case
    from safenet.case.verify import verify_case

    folder = build_graded(work / "built")
    clean = work / "clean"
    shutil.copytree(folder, clean)
    false_alarms = len(verify_case(Case.open_existing(clean)).problems)
    undetected: list[str] = []
    for i, tampering in enumerate(CATALOGUE):
        copy = work / f"t{i}"
        shutil.copytree(folder, copy)
        tampering.apply(copy)
        result = verify_case(Case.open_existing(copy))
        if result.ok:
            undetected.append(tampering.name)
    return {"tamperings": len(CATALOGUE), "undetected": undetected, "false_alarms": false_alarms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (default: a fresh seed)")
    parser.add_argument("--runs", type=int, default=4, help="triage runs (one exhibit of hostile files each)")
    parser.add_argument("--per-run", type=int, default=40, help="about this many mutated media files per run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a triage counts as hung")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = Path(tmp)
        triage = _triage_runs(work / "triage", seed, args.runs, args.per_run, args.timeout)
        tamper = _tamper(work / "tamper")
    peak_mb = triage["peak_rss_kib"] / 1024
    rows = [
        ("seed", seed, ""),
        ("inputs tried", triage["inputs_tried"], ""),
        ("runs ended early", f"{triage['runs_ended_early']} of {triage['runs']}", "0"),
        ("peak RSS of a triage", f"{peak_mb:,.0f} MB", "< 1024 MB"),
        ("undetected tamperings", f"{len(tamper['undetected'])} of {tamper['tamperings']}", "0"),
        ("false alarms on the untampered case", tamper["false_alarms"], "0"),
    ]
    print_table(("figure", "value", "goal"), rows)
    for line in triage["failures"]:
        print("  " + line)
    for name in tamper["undetected"]:
        print(f"  undetected: {name}")
    ok = (
        triage["runs_ended_early"] == 0
        and triage["peak_rss_kib"] < RSS_GOAL_KIB
        and not tamper["undetected"]
        and tamper["false_alarms"] == 0
    )
    print(
        json.dumps(
            {
                "bench": "hostile",
                "seed": seed,
                "inputs_tried": triage["inputs_tried"],
                "runs": triage["runs"],
                "runs_ended_early": triage["runs_ended_early"],
                "peak_rss_mb": round(peak_mb, 1),
                "tamperings": tamper["tamperings"],
                "undetected_tamperings": len(tamper["undetected"]),
                "false_alarms": tamper["false_alarms"],
                "goals_met": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
