"""The PDQ core: reference 512×512 reduction, then the reference C++ hasher via PyPI ``pdqhash``.

Why ``pdqhash`` and not numpy: it compiles Meta's reference C++ (luma, Jarosz box filters, 16×16 DCT,
Torben median) and also exposes ``pdqDihedralHash256esFromFloatLuma``, which derives all eight
orientation hashes from one DCT. Re-implementing that in numpy would only add a second thing to prove
bit-exact. What the binding lacks is the reference *front end*: the C++ tool (``pdq-photo-hasher``)
first reduces any image larger than 512 px on a side to 512×512 with CImg's nearest-neighbour resize
(aspect ratio ignored). :func:`reduce_like_reference` reproduces CImg's index arithmetic exactly, and
with it every row of ``pdq_golden_vectors.csv`` is reproduced bit for bit (see tests/analysis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pdqhash

#: The reference front end reduces images larger than this (on either side) to this square.
REFERENCE_SIDE: Final = 512
#: Meta's recommended match threshold (Hamming distance ≤ 31 of 256 bits).
DEFAULT_THRESHOLD: Final = 31
#: Hashes below this quality are kept but never used to claim a match (python-threatexchange uses 50).
MIN_QUALITY: Final = 50
HASH_BYTES: Final = 32

#: The eight dihedral hashes in the order ``pdqDihedralHash256esFromFloatLuma`` returns them. Hash *k*
#: is the hash of this image after transform *k*. The names follow PDQ's own reg-test set (``dih/``).
TRANSFORMS: Final = (
    "original",
    "rotate-90",
    "rotate-180",
    "rotate-270",
    "flip-x",
    "flip-y",
    "flip-plus-1",
    "flip-minus-1",
)
#: When dihedral hash *k* of a found image matches a known image, the found image is the known one with
#: ``COPY_ORIENTATION[k]`` applied (rotations invert; flips and transposes are their own inverse).
#: Checked against PDQ's ``dih/bridge-*`` files in tests.
COPY_ORIENTATION: Final = (
    "original",
    "rotate-270",
    "rotate-180",
    "rotate-90",
    "flip-x",
    "flip-y",
    "flip-plus-1",
    "flip-minus-1",
)

U8Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class PdqHash:
    """The eight dihedral PDQ hashes of one picture (index 0: as given) and its quality (0–100)."""

    hashes: tuple[bytes, ...]
    quality: int

    @property
    def hash(self) -> bytes:
        return self.hashes[0]

    @property
    def hex(self) -> str:
        return self.hashes[0].hex()

    @property
    def usable(self) -> bool:
        """Whether this hash may support a match claim (quality ≥ 50)."""
        return self.quality >= MIN_QUALITY


def reduce_like_reference(pixels: U8Image) -> U8Image:
    """CImg ``resize(512, 512)`` (nearest neighbour, aspect ignored) when either side exceeds 512 px.

    CImg walks the output with ``curr = (ulong)((x + 1.0) * width / 512)`` and steps the source by
    ``curr - old``; output pixel *x* therefore reads source ``floor(x * width / 512)``. Division by 512 is
    exact in binary floating point, so numpy gives the same indices as the C++ double arithmetic.
    """
    height, width = pixels.shape[:2]
    if height <= REFERENCE_SIDE and width <= REFERENCE_SIDE:
        return pixels
    steps = np.arange(REFERENCE_SIDE, dtype=np.float64)
    cols = np.floor(steps * width / REFERENCE_SIDE).astype(np.intp)
    rows = np.floor(steps * height / REFERENCE_SIDE).astype(np.intp)
    reduced: U8Image = np.take(np.take(pixels, rows, axis=0), cols, axis=1)  # 3× faster than 2-D fancy indexing
    return reduced


def hash_reduced(pixels: U8Image) -> PdqHash:
    """Hash an already reduced H×W×3 (RGB) or H×W (grey) uint8 array: eight orientations from one DCT.

    Grey is passed replicated to three channels; the binding's 0.299/0.587/0.114 luma of (g, g, g) is
    exactly g in float32 for every g, which is what the C++ grey path computes.
    """
    if pixels.ndim == 2:  # a read-only three-channel view, no copy: the binding reads through strides
        pixels = np.broadcast_to(pixels[:, :, None], (*pixels.shape, 3))
    vectors, quality = pdqhash.compute_dihedral(pixels)
    return PdqHash(tuple(_vector_to_bytes(v) for v in vectors), int(quality))


def hash_rgb(pixels: U8Image) -> PdqHash:
    """Reference front end + core: what ``pdq-photo-hasher`` computes for these RGB or grey pixels."""
    return hash_reduced(reduce_like_reference(pixels))


#: Dihedral indices whose DCT-derived hash turns the picture on *both* axes (rotate-180, flip-minus-1).
#: PDQ's decimation (row ``floor((i + 0.5)·N/64)``, N = 8·64 here) and its even Jarosz window are not
#: centred, so a hash derived from the DCT drifts by one sample per reversed axis: 180° copies of benign
#: photos landed 32–48 bits from their original. Hashing the 180°-turned pixels gives these two with no
#: reversed axis (its own "original" and "flip-plus-1"), leaving at most one reversed axis everywhere.
_FROM_TURNED: Final = ((2, 0), (7, 6))


def hash_reduced_turned(pixels: U8Image) -> PdqHash:
    """Like :func:`hash_reduced`, but rotate-180 and flip-minus-1 hashed from the 180°-turned pixels.

    Every hash is still a PDQ hash of this picture under the named transform; only how it is derived
    differs (two DCTs instead of one, about 5 ms more per 512×512 picture). Used by the fast path; the
    exact path keeps the one-DCT hashes of the reference tool.
    """
    plain = hash_reduced(pixels)
    turned = hash_reduced(pixels[::-1, ::-1])  # a reversed view: the binding's luma step copies it anyway
    hashes = list(plain.hashes)
    for index, source in _FROM_TURNED:
        hashes[index] = turned.hashes[source]
    return PdqHash(tuple(hashes), plain.quality)


def hash_rgb_turned(pixels: U8Image) -> PdqHash:
    """Reference front end + :func:`hash_reduced_turned` (hash 0 identical to :func:`hash_rgb`)."""
    return hash_reduced_turned(reduce_like_reference(pixels))


def _vector_to_bytes(vector: npt.NDArray[np.integer]) -> bytes:
    # The binding returns bit 255 first, so packing MSB-first gives the C++ hex order (w[15] .. w[0]).
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()


def hamming(a: bytes, b: bytes) -> int:
    """Hamming distance between two 256-bit hashes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def parse_hex(text: str) -> bytes:
    """Parse a 64-digit hex PDQ hash; raises ValueError naming the bad value."""
    value = text.strip().lower()
    if len(value) != 2 * HASH_BYTES:
        raise ValueError(f"PDQ hash must be 64 hex digits, got {len(value)}: {value[:70]!r}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"PDQ hash is not hexadecimal: {value!r}") from None
