"""PDQ perceptual hashing (Meta's 256-bit image hash): exact and fast paths with one API.

Use :func:`compute` for an image; :class:`PdqResult` carries the eight dihedral hashes, quality and
the trimmed variant; :class:`Skipped` says why an image was not hashed. A perceptual match is a lead
for an examiner, never proof on its own: hashes with quality < 50 never support a match.
"""

from safenet.analysis.pdq.core import (
    COPY_ORIENTATION,
    DEFAULT_THRESHOLD,
    MIN_QUALITY,
    TRANSFORMS,
    PdqHash,
    hamming,
    hash_rgb,
    parse_hex,
    reduce_like_reference,
)
from safenet.analysis.pdq.decode import DEFAULT_MAX_PIXELS, Decoded, Skipped
from safenet.analysis.pdq.hasher import PdqMode, PdqResult, compute, compute_decoded, compute_pixels, fast_decode

__all__ = [
    "COPY_ORIENTATION",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_THRESHOLD",
    "MIN_QUALITY",
    "TRANSFORMS",
    "Decoded",
    "PdqHash",
    "PdqMode",
    "PdqResult",
    "Skipped",
    "compute",
    "compute_decoded",
    "compute_pixels",
    "fast_decode",
    "hamming",
    "hash_rgb",
    "parse_hex",
    "reduce_like_reference",
]
