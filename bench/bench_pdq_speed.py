"""PDQ speed: Safenet's fast path vs the reference pipeline, on generated 12 MP, 3 MP and 1 MP JPEGs.

Peers, same images, same run, one thread:
  reference  PIL full decode → 512×512 nearest (CImg rule) → pdqhash   (what ``exact`` computes)
  fullres    PIL full decode → pdqhash on the full-resolution array     (a common naive use)
  fast       safenet.analysis.pdq.compute(data, FAST): DCT-scaled decode, 8 dihedral hashes, trim check
  floor      libjpeg-turbo's cheapest decode (1/8 scale, Y plane only) and nothing else: no hashing. Even a
             scaled decode must entropy-decode every coefficient, so no JPEG-based fast path can beat this
             rate; ``max_speedup_possible`` (floor ÷ reference) bounds what any fast path can reach here.
Drift: Hamming distance fast vs exact (Safenet's exact path, bit-exact with the C++ reference).
Images: benign photos (scikit-image, matplotlib, corpus) upscaled with mild noise, JPEG quality 90.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdqlib import load_rgb, photo_paths
from safenet.analysis.pdq import PdqMode, PdqResult, compute, hamming, reduce_like_reference

SIZES = {"12MP": (4032, 3024), "3MP": (2016, 1512), "1MP": (1152, 864)}


def generate(size: tuple[int, int], count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for path in photo_paths()[:count]:
        image = load_rgb(path).resize(size, Image.Resampling.BICUBIC)
        noisy = np.asarray(image, dtype=np.int16) + rng.integers(-4, 5, (size[1], size[0], 3), dtype=np.int16)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def reference(data: bytes) -> object:
    with Image.open(io.BytesIO(data)) as image:
        return pdqhash.compute(reduce_like_reference(np.asarray(image.convert("RGB"))))


def fullres(data: bytes) -> object:
    with Image.open(io.BytesIO(data)) as image:
        return pdqhash.compute(np.asarray(image.convert("RGB")))


def fast(data: bytes) -> object:
    return compute(data, PdqMode.FAST)


def floor(data: bytes) -> object:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (1, 1))  # libjpeg's smallest scale (1/8): DC coefficients only, no IDCT, no chroma
        image.load()
        return image.size


def rate(fn: object, images: list[bytes], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for data in images:
            fn(data)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=12, help="images per size")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, object] = {"bench": "pdq_speed", "count": args.count, "runs": args.runs}
    for label, size in SIZES.items():
        images = generate(size, args.count, seed=len(label))
        drift = []
        for data in images:
            exact_r, fast_r = compute(data, PdqMode.EXACT), compute(data, PdqMode.FAST)
            assert isinstance(exact_r, PdqResult) and isinstance(fast_r, PdqResult)
            drift.append(hamming(exact_r.full.hash, fast_r.full.hash))
        ref_rate = rate(reference, images, args.runs)
        full_rate = rate(fullres, images, 1)
        fast_rate = rate(fast, images, args.runs)
        floor_rate = rate(floor, images, args.runs)
        row = {
            "reference_img_s": round(ref_rate, 2),
            "fullres_pdqhash_img_s": round(full_rate, 2),
            "fast_img_s": round(fast_rate, 2),
            "speedup_vs_reference": round(fast_rate / ref_rate, 2),
            "speedup_vs_fullres": round(fast_rate / full_rate, 2),
            "decode_floor_img_s": round(floor_rate, 2),
            "max_speedup_possible": round(floor_rate / ref_rate, 2),
            "drift_mean_bits": round(statistics.fmean(drift), 2),
            "drift_max_bits": max(drift),
            "mean_jpeg_kb": round(statistics.fmean(len(d) for d in images) / 1024),
        }
        figures[label] = row
        print(
            f"{label:5s} reference {ref_rate:6.2f} img/s  fullres {full_rate:6.2f}  fast {fast_rate:6.2f}  "
            f"×{row['speedup_vs_reference']} (goal ≥15 on 12MP; decode floor {floor_rate:.1f} img/s = "
            f"×{row['max_speedup_possible']} at most) drift mean {row['drift_mean_bits']} max {max(drift)}"
        )
    twelve = figures["12MP"]
    assert isinstance(twelve, dict)
    figures["goal_speed_met"] = twelve["speedup_vs_reference"] >= 15
    figures["goal_drift_met"] = twelve["drift_mean_bits"] <= 4
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
