"""Benchmark: one decode per picture for its PDQ hash and its review thumbnail (issue 20), against the reference PDQ
pipeline on the same pictures, same run.

Pictures: benign photos (scikit-image, matplotlib, the repository's tests/data; ``pdqlib.photo_paths``) upscaled
with mild seeded noise to 12 MP, 3 MP and 1 MP JPEGs (quality 90), and the same at 1 MP as PNG.

Part 1, in this process, one thread, CPU seconds per picture (best of ``--repeat``):
  reference   PIL full decode → 512×512 nearest (CImg rule) → pdqhash: the peer, a PDQ hash and nothing else
  pdq         Safenet's fast PDQ (``pdq.compute``): DCT-scaled decode, 8 dihedral hashes, trimmed variant
  thumbnail   the default review thumbnail alone (``thumbs.default_thumbnail``)
  two decodes PDQ, then the thumbnail from a decode of its own (today's, at PDQ's >= 512 px; the old code's
              thumbnail decode was at >= 128 px, a little cheaper: ``--before-src`` times the old code itself)
  shared      ``pdq.fast_decode`` once, then ``pdq.compute_decoded`` and ``thumbs.thumbnail_of``: what it does now
Printed: milliseconds a picture, each row against the reference, and what the thumbnail adds to the PDQ hash when
the decode is shared (``shared - pdq``) and when it is not (``two decodes - pdq``).

Part 2, end to end (``--triage``): the pictures written as a tree (``--copies`` of each, so that a run lasts
seconds), a PDQ hash set built from four other benign pictures (``safenet hashset build``), then ``safenet triage
TREE --hashset pdqset --digests md5`` in the quick profile (PDQ, no thumbnails) and the standard one (PDQ and a
thumbnail for every picture), round-robin after an untimed run each. Printed: median wall and CPU seconds, and
standard / quick. ``--before-src DIR`` adds the same two runs with another copy of ``src/`` (an older commit's,
its compiled extensions copied in) first on ``PYTHONPATH``.

    .venv/bin/python bench/bench_shared_decode.py [--count 12] [--repeat 3] [--triage] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import OUT_DIR, VENV_BIN, child_times, host_info, median, print_markdown, print_table, run_child
from pdqlib import load_rgb, photo_paths
from safenet.analysis.pdq import PdqMode, compute, compute_decoded, fast_decode, reduce_like_reference
from safenet.analysis.thumbs import default_thumbnail, thumbnail_of

SIZES = {"12MP": (4032, 3024), "3MP": (2016, 1512), "1MP": (1152, 864)}


def pictures(count: int, seed: int) -> dict[str, list[bytes]]:
    """``count`` pictures of each kind: JPEGs at three sizes and 1 MP PNGs."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[bytes]] = {kind: [] for kind in (*(f"{name} JPEG" for name in SIZES), "1MP PNG")}
    for path in photo_paths()[:count]:
        photo = load_rgb(path)
        for name, size in SIZES.items():
            image = photo.resize(size, Image.Resampling.BICUBIC)
            noisy = np.asarray(image, dtype=np.int16) + rng.integers(-4, 5, (size[1], size[0], 3), dtype=np.int16)
            picture = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
            out[f"{name} JPEG"].append(encoded(picture, "JPEG"))
            if name == "1MP":
                out["1MP PNG"].append(encoded(picture, "PNG"))
    return out


def encoded(picture: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def reference(data: bytes) -> object:
    with Image.open(io.BytesIO(data)) as image:
        return pdqhash.compute(reduce_like_reference(np.asarray(image.convert("RGB"))))


def pdq(data: bytes) -> object:
    return compute(data, PdqMode.FAST)


def two_decodes(data: bytes) -> object:
    return compute(data, PdqMode.FAST), default_thumbnail(data)


def shared(data: bytes) -> object:
    decoded = fast_decode(data)
    return compute_decoded(decoded, PdqMode.FAST), thumbnail_of(decoded)


WAYS: dict[str, Callable[[bytes], object]] = {
    "reference PDQ (peer)": reference,
    "safenet PDQ": pdq,
    "safenet thumbnail": default_thumbnail,
    "PDQ + thumbnail, two decodes (before)": two_decodes,
    "PDQ + thumbnail, one decode (now)": shared,
}


def cpu_ms(fn: Callable[[bytes], object], images: list[bytes], repeat: int) -> float:
    """CPU milliseconds a picture, best of ``repeat`` passes over ``images``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for data in images:
            fn(data)
        best = min(best, time.process_time() - start)
    return best / len(images) * 1000


def in_process(kinds: dict[str, list[bytes]], repeat: int, markdown: bool) -> dict[str, Any]:
    for images in kinds.values():  # warm: decoder tables, NumPy's first calls
        for fn in WAYS.values():
            fn(images[0])
    ms = {kind: {way: cpu_ms(fn, images, repeat) for way, fn in WAYS.items()} for kind, images in kinds.items()}
    header = ("pictures", *WAYS, "thumbnail adds, shared", "thumbnail adds, two decodes")
    rows = []
    for kind, row in ms.items():
        peer = row["reference PDQ (peer)"]
        cells = [f"{row[way]:.2f} ms ({peer / row[way]:.2f}x)" for way in WAYS]
        added = row["PDQ + thumbnail, one decode (now)"] - row["safenet PDQ"]
        before = row["PDQ + thumbnail, two decodes (before)"] - row["safenet PDQ"]
        rows.append((f"{kind} ({len(kinds[kind])})", *cells, f"{added:.2f} ms", f"{before:.2f} ms"))
    print(f"\nCPU ms a picture, one thread, best of {repeat} (in brackets: reference / this; higher is faster)")
    print_table(header, rows)
    if markdown:
        print_markdown(header, rows)
    return ms


def triage_runs(
    kinds: dict[str, list[bytes]], copies: int, repeat: int, markdown: bool, before: Path | None
) -> dict[str, Any]:
    from safenet.demo import picture

    work = OUT_DIR / "shared-decode" / f"work-{os.getpid()}"
    tree, reference_folder = work / "tree", work / "reference"
    for folder in (tree, reference_folder):
        folder.mkdir(parents=True)
    files = 0
    for kind, images in kinds.items():
        suffix = ".png" if "PNG" in kind else ".jpg"
        for n, data in enumerate(images):
            for copy in range(copies):  # a different trailing byte: a different MD5, the same picture
                (tree / f"{kind.replace(' ', '-')}-{n}-{copy}{suffix}").write_bytes(data + bytes([copy]))
                files += 1
    for seed in range(4):
        picture(seed, (640, 480)).save(reference_folder / f"{seed}.jpg", "JPEG", quality=90)
    env = dict(os.environ, SAFENET_HASHDB=str(work / "hashdb"), NO_COLOR="1", COLUMNS="120")
    safenet = str(VENV_BIN / "safenet")
    built = run_child(
        [safenet, "hashset", "build", str(reference_folder), "--name", "pdqset", "--kind", "illicit"], env=env
    )
    if built.returncode != 0:
        raise SystemExit(f"hash-set build failed (exit {built.returncode})")

    def run(profile: str, tag: str) -> dict[str, Any]:
        case = work / f"case-{tag}"
        name, _, version = profile.partition(" ")
        cmd = [safenet, "triage", str(tree), "--case", str(case), "--exhibit", "P1", "--profile", name]
        src = {"PYTHONPATH": str(before)} if version and before is not None else {}
        result = child_times(run_child([*cmd, "--hashset", "pdqset", "--digests", "md5"], env=env | src))
        shutil.rmtree(case, ignore_errors=True)
        return result

    profiles: tuple[str, ...] = ("quick", "standard")
    if before is not None:  # the same runs with another copy of src/ first on the path
        profiles += ("quick (before)", "standard (before)")
    for profile in profiles:
        run(profile, f"warm-{profile}")
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in profiles}
    for n in range(repeat):
        for profile in profiles:
            runs[profile].append(run(profile, f"{profile}-{n}"))
    shutil.rmtree(work, ignore_errors=True)
    wall = {p: median([r["wall_s"] for r in runs[p]]) for p in profiles}
    cpu = {p: median([r["cpu_s"] for r in runs[p]]) for p in profiles}
    header = ("triage, --digests md5, PDQ set", "median wall s", "runs", "median CPU s", "exit")
    rows = [
        (
            f"{p} ({'PDQ and thumbnails' if p.startswith('standard') else 'PDQ, no thumbnails'})",
            f"{wall[p]:.2f}",
            ", ".join(f"{r['wall_s']:.2f}" for r in runs[p]),
            f"{cpu[p]:.2f}",
            str(sorted({r["rc"] for r in runs[p]})),
        )
        for p in profiles
    ]
    print(f"\n{files} pictures ({copies} copies of each above), {repeat} run(s) each, round-robin")
    print_table(header, rows)
    for suffix in ("", " (before)") if before is not None else ("",):
        standard, quick = f"standard{suffix}", f"quick{suffix}"
        print(
            f"standard / quick{suffix} = {wall[standard] / wall[quick]:.2f}x wall, "
            f"{cpu[standard] / cpu[quick]:.2f}x CPU (what the review thumbnails cost on top of PDQ)"
        )
    if markdown:
        print_markdown(header, rows)
    ok = all(r["rc"] == 0 for rs in runs.values() for r in rs)
    return {"files": files, "wall_s": wall, "cpu_s": cpu, "runs": runs, "ok": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=12, help="photos, each made into every kind (default 12)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--triage", action="store_true", help="also the end-to-end triage runs")
    parser.add_argument("--copies", type=int, default=5, help="copies of each picture in the triage tree")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument("--before-src", type=Path, help="also triage with this copy of src/ on PYTHONPATH")
    args = parser.parse_args(argv)
    host = host_info()
    kinds = pictures(args.count, args.seed)
    print(f"{sum(len(v) for v in kinds.values())} pictures; load {host['loadavg_at_start']}")
    record: dict[str, Any] = {"benchmark": "shared_decode", "host": host, "spec": vars(args)}
    record["in_process_ms"] = in_process(kinds, args.repeat, args.markdown)
    ok = True
    if args.triage:
        record["triage"] = found = triage_runs(kinds, args.copies, args.repeat, args.markdown, args.before_src)
        ok = found["ok"]
    print(json.dumps(record, separators=(",", ":"), default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
