"""Where the tests' third-party data lives: tests/data (sources and licences in tests/data/PROVENANCE.md).

Disk images that are almost all zeros are kept gzipped to keep the repository small; ``data_file`` gives
the unpacked image, written once per test process into a temporary folder beside its other segments.
"""

from __future__ import annotations

import atexit
import gzip
import shutil
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

_unpacked: dict[Path, Path] = {}


def data_file(path: Path) -> Path:
    """``path`` itself, or, when the repository keeps it as ``path.gz``, an unpacked copy of it.

    A missing file raises: the data is part of the repository, so a test must never skip for want of it.
    Segments of one split image (``x.E01``/``x.E02``, ``x.000``/``x.001``) are unpacked together, because
    the image readers find the later segments by name next to the first.
    """
    if path.exists():
        return path
    packed = path.with_name(path.name + ".gz")
    if not packed.exists():
        raise FileNotFoundError(f"test data missing: {path} (nor {packed.name})")
    if packed not in _unpacked:
        folder = Path(tempfile.mkdtemp(prefix="safenet-testdata-"))
        atexit.register(shutil.rmtree, folder, True)
        stem = Path(path.name).stem
        for segment in sorted(packed.parent.glob(f"{stem}.*.gz")):
            if Path(segment.name.removesuffix(".gz")).stem == stem:
                target = folder / segment.name.removesuffix(".gz")
                with gzip.open(segment) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                _unpacked[segment] = target
    return _unpacked[packed]
