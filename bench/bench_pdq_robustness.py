"""PDQ robustness: recall of transformed copies and false matches, plain PDQ vs Safenet's PDQ.

Photos: benign, offline (scikit-image, matplotlib grace_hopper, corpus; see pdqlib.py). Each photo is the
"known" image; each transform of it is a "found" copy (saved as JPEG q90 unless the transform is a JPEG
quality). A copy is recalled when it is within the threshold (31) of its own photo's hash:
  plain    reference pipeline hash of the copy vs reference hash of the photo (one orientation, no trim)
  safenet  fast-path hashes of the copy (8 orientations × whole/trimmed, quality ≥ 50 only) vs the
           photo's exact hash
False matches: every copy (and photo) against every *other* photo, same rules.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdqlib import load_rgb, photo_paths, plain_pdq
from safenet.analysis.pdq import DEFAULT_THRESHOLD, PdqMode, PdqResult, compute, hamming

Transform = Callable[[Image.Image], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _scale(f: float) -> Transform:
    return lambda im: im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.LANCZOS)


def _pad(f: float, colour: tuple[int, int, int] = (0, 0, 0)) -> Transform:
    def pad(im: Image.Image) -> Image.Image:
        dx, dy = round(im.width * f), round(im.height * f)
        canvas = Image.new("RGB", (im.width + 2 * dx, im.height + 2 * dy), colour)
        canvas.paste(im, (dx, dy))
        return canvas

    return pad


def _letterbox(im: Image.Image) -> Image.Image:
    """Into a 16:9 frame with black bars: top and bottom when wider than 16:9, else left and right."""
    if im.width * 9 >= im.height * 16:
        width, height = im.width, round(im.width * 9 / 16)
    else:
        width, height = round(im.height * 16 / 9), im.height
    canvas = Image.new("RGB", (width, height))
    canvas.paste(im, ((width - im.width) // 2, (height - im.height) // 2))
    return canvas


def _crop(f: float) -> Transform:
    return lambda im: im.crop(
        (round(im.width * f), round(im.height * f), round(im.width * (1 - f)), round(im.height * (1 - f)))
    )


def _screenshot(im: Image.Image) -> Image.Image:
    """Phone-screenshot-like: picture scaled to 70 % on a light canvas under a grey status bar."""
    small = _scale(0.7)(im)
    canvas = Image.new("RGB", (round(im.width * 0.8), round(small.height * 1.5)), (245, 245, 245))
    bar = round(canvas.height * 0.06)
    canvas.paste(Image.new("RGB", (canvas.width, bar), (60, 60, 60)), (0, 0))
    canvas.paste(small, ((canvas.width - small.width) // 2, bar + (canvas.height - bar - small.height) // 2))
    return canvas


TRANSFORMS: dict[str, tuple[str, Transform, int]] = {
    "resize_50": ("resize/recompress/colour", _scale(0.5), 90),
    "resize_25": ("resize/recompress/colour", _scale(0.25), 90),
    "jpeg_q50": ("resize/recompress/colour", lambda im: im, 50),
    "jpeg_q30": ("resize/recompress/colour", lambda im: im, 30),
    "brightness_+30": ("resize/recompress/colour", lambda im: ImageEnhance.Brightness(im).enhance(1.3), 90),
    "contrast_+30": ("resize/recompress/colour", lambda im: ImageEnhance.Contrast(im).enhance(1.3), 90),
    "rotate_90": ("rotations/flips", lambda im: im.transpose(Image.Transpose.ROTATE_90), 90),
    "rotate_180": ("rotations/flips", lambda im: im.transpose(Image.Transpose.ROTATE_180), 90),
    "mirror": ("rotations/flips", lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 90),
    "pad_10": ("padding/letterbox", _pad(0.10), 90),
    "pad_20": ("padding/letterbox", _pad(0.20, (255, 255, 255)), 90),
    "letterbox": ("padding/letterbox", _letterbox, 90),
    "screenshot": ("padding/letterbox", _screenshot, 90),
    "crop_5": ("crop (no goal)", _crop(0.05), 90),
}
GOALS = {"resize/recompress/colour": 0.99, "rotations/flips": 0.99, "padding/letterbox": 0.90}


def safenet_hashes(data: bytes) -> list[bytes]:
    result = compute(data, PdqMode.FAST)
    if not isinstance(result, PdqResult):
        return []
    return [h for _trimmed, variant in result.variants() for h in variant.hashes]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
    args = parser.parse_args()
    t = args.threshold
    paths = photo_paths()
    known_plain, known_safe, copies = [], [], []  # copies: (photo index, transform, plain hash, safenet hashes)
    for index, path in enumerate(paths):
        photo = load_rgb(path)
        original = _jpeg(photo, 95)
        known_plain.append(plain_pdq(photo))
        exact = compute(original, PdqMode.EXACT)
        assert isinstance(exact, PdqResult)
        known_safe.append((exact.full.hash, exact.full.usable))
        copies.append((index, "original", plain_pdq(photo), safenet_hashes(original)))
        for name, (_group, transform, quality) in TRANSFORMS.items():
            data = _jpeg(transform(photo), quality)
            with Image.open(io.BytesIO(data)) as decoded:
                plain = plain_pdq(decoded)
            copies.append((index, name, plain, safenet_hashes(data)))
    recall: dict[str, dict[str, float]] = {}
    false_plain = false_safe = pairs = 0
    for index, name, plain, safe in copies:
        row = recall.setdefault(name, {"plain": 0, "safenet": 0, "n": 0})
        row["n"] += 1
        row["plain"] += hamming(plain, known_plain[index]) <= t
        own, usable = known_safe[index]
        row["safenet"] += usable and any(hamming(h, own) <= t for h in safe)
        for other in range(len(paths)):
            if other == index:
                continue
            pairs += 1
            false_plain += hamming(plain, known_plain[other]) <= t
            other_hash, other_usable = known_safe[other]
            false_safe += other_usable and any(hamming(h, other_hash) <= t for h in safe)
    print(f"{len(paths)} photos, threshold {t}; recall plain PDQ / Safenet")
    table = {}
    for name, row in recall.items():
        group = TRANSFORMS[name][0] if name in TRANSFORMS else "-"
        table[name] = {
            "group": group,
            "plain": round(row["plain"] / row["n"], 3),
            "safenet": round(row["safenet"] / row["n"], 3),
        }
        print(f"  {name:15s} {table[name]['plain']:6.3f} {table[name]['safenet']:6.3f}   {group}")
    goals = {}
    for group, goal in GOALS.items():
        worst = min(v["safenet"] for v in table.values() if v["group"] == group)
        goals[group] = {"goal": goal, "worst_safenet": worst, "met": worst >= goal}
    print(f"  false matches over {pairs} pairs: plain {false_plain}, Safenet {false_safe} (goal 0)")
    unusable = [str(p.name) for p, (_h, ok) in zip(paths, known_safe, strict=True) if not ok]
    print(
        json.dumps(
            {
                "bench": "pdq_robustness",
                "photos": len(paths),
                "threshold": t,
                "recall": table,
                "false_matches": {"pairs": pairs, "plain": false_plain, "safenet": false_safe},
                "goals": goals,
                "low_quality_known": unusable,
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
