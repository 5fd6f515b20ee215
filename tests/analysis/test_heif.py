"""HEIC/HEIF pictures open wherever evidence pixels are read, with pillow-heif registered on first need only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "media" / "pillow" / "avif"

# A fresh interpreter: nothing else has registered the opener (the review UI's modules, an earlier test).
PROBE = """
import sys
from pathlib import Path
from safenet.analysis.pdq import PdqResult, compute
from safenet.analysis import camera
assert "pillow_heif" not in sys.modules, "registered at import"
data = Path(sys.argv[1]).read_bytes()
hashed = compute(data)
assert isinstance(hashed, PdqResult), hashed
assert hashed.stored_size == (128, 128), hashed.stored_size
assert "pillow_heif" in sys.modules
print("ok", isinstance(camera.camera_of(data), camera.Camera))
"""


def test_a_heic_decodes_for_pdq_with_nothing_registered_beforehand() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(DATA / "hopper.heif")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "True"]


def test_the_camera_of_a_heic_is_read_with_nothing_registered_beforehand() -> None:
    probe = (
        "import sys; from pathlib import Path; from safenet.analysis.camera import camera_of; "
        "print(repr(camera_of(Path(sys.argv[1]).read_bytes())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(DATA / "hopper.heif")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Camera("), done.stdout  # read, not a reason it could not be
