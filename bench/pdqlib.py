"""Benign photos for the PDQ benchmarks: shipped offline by scikit-image and matplotlib, plus the corpus.

No download happens: every file is read from an installed package or the repository's tests/data.
``perception`` / ``scikit-video`` are not used (not installed here); scikit-image, matplotlib's
grace_hopper.jpg and the corpus photos stand in for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from safenet.analysis.pdq import reduce_like_reference

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data"
SKIMAGE_PHOTOS = (
    "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg",
    "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg",
)  # fmt: skip
# The 12 MP exif-rotn photos (one photo in four orientations, 14 MB) are not carried in tests/data.
CORPUS_PHOTOS = (
    "media/photos/bricks.jpg", "media/photos/kodim03.png", "media/photos/rommel.jpg", "media/pillow/hopper.jpg",
    "media/pillow/flower.jpg", "media/pillow/flower2.jpg", "pdq/bridge-mods/aaa-orig.jpg",
    "pdq/misc-images/c.png", "pdq/reg-test-input/pen-and-coaster.png",
)  # fmt: skip


def photo_paths() -> list[Path]:
    import matplotlib
    import skimage.data

    skdir = Path(os.path.dirname(skimage.data.__file__))
    mpl = Path(os.path.dirname(matplotlib.__file__)) / "mpl-data/sample_data/grace_hopper.jpg"
    return [skdir / name for name in SKIMAGE_PHOTOS] + [mpl] + [CORPUS / rel for rel in CORPUS_PHOTOS]


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def plain_pdq(image: Image.Image) -> bytes:
    """The peer: PIL decode → 512×512 nearest (reference) → pdqhash; one orientation, no trimming."""
    vector, _quality = pdqhash.compute(reduce_like_reference(np.asarray(image.convert("RGB"))))
    return np.packbits(vector.astype(np.uint8)).tobytes()
