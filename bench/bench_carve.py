"""Carving: Safenet's carver vs PhotoRec (Debian ``testdisk``) on the same synthetic raw image.

The image is the carving tests' layout (tests/evidence/carve_builders.py) repeated ``--scale`` times,
every file on a sector boundary (as a file system places them, and as PhotoRec assumes): whole
JPEG/PNG/GIF/BMP/WebP/TIFF/AVI/MP4 files, truncated and fragmented ones, decoys with JPEG markers, all in
seeded random data, then ``--filler-mb`` of random data. Figures per tool: whole files recovered with
the right MD5 (recall), false carves (output that is not a whole known file and is not flagged partial),
partial files flagged as partial (Safenet only: PhotoRec does not flag them), wall time and MB/s.
Goal (issue 5): recall >= PhotoRec's, fewer false carves, less time. Ends with one JSON line.

    .venv/bin/python bench/bench_carve.py            # scale 40 + 256 MB of random filler
    .venv/bin/python bench/bench_carve.py --quick    # scale 4 + 16 MB
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import ROOT, run_child

sys.path.insert(0, str(ROOT))  # the test layout is the benchmark's input: one definition of the image

from tests.evidence.carve_builders import Answer, build

from safenet.evidence.carve import CarveLimits, carve

PHOTOREC_TYPES = ("jpg", "png", "gif", "bmp", "tif", "riff", "mov")


def make_image(path: Path, scale: int, filler_mb: int) -> Answer:
    data, answer = build(seed=5, scale=scale, align=512)
    rng = random.Random(9)
    with path.open("wb") as out:
        out.write(data)
        out.write(bytes(-len(data) % 512))
        for _ in range(filler_mb):
            out.write(rng.randbytes(1 << 20))
    return answer


def score_safenet(path: Path, answer: Answer, alignment: int) -> dict[str, Any]:
    size = path.stat().st_size
    with path.open("rb") as stream:
        started = time.perf_counter()
        found = list(carve(stream, size, CarveLimits(alignment=alignment)))
        elapsed = time.perf_counter() - started
        ok = false = flagged = 0
        for c in found:
            stream.seek(c.offset)
            digest = hashlib.md5(stream.read(c.length)).hexdigest()
            if c.partial is not None:
                flagged += c.offset in answer.partial
                false += c.offset not in answer.partial
            elif answer.whole.get(c.offset, ("", ""))[1] == digest:
                ok += 1
            else:
                false += 1
    return _figures(ok, false, elapsed, size) | {"partial_flagged": flagged, "alignment": alignment}


def score_photorec(path: Path, answer: Answer, workdir: Path) -> dict[str, Any] | None:
    photorec = shutil.which("photorec")
    if photorec is None:
        return None
    out = workdir / "recup"
    options = ",".join(["partition_none", "options", "paranoid", "fileopt", "everything", "disable"])
    options += "," + ",".join(f"{t},enable" for t in PHOTOREC_TYPES) + ",search"
    result = run_child([photorec, "/d", out, "/cmd", path, options], stdout=open("/dev/null", "wb"))  # noqa: SIM115
    ok = false = at_partial = 0
    for file in sorted(workdir.glob("recup.*/f*")):  # PhotoRec names a file by its first sector: f<sector>.ext
        digest = hashlib.md5(file.read_bytes()).hexdigest()
        offset = int("".join(ch for ch in file.stem if ch.isdigit()) or -1) * 512
        if answer.whole.get(offset, ("", ""))[1] == digest:
            ok += 1
        else:
            false += 1
            at_partial += offset in answer.partial
    figures = _figures(ok, false, result.wall_s, path.stat().st_size)
    return figures | {"partial_output_unflagged": at_partial, "returncode": result.returncode}


def _figures(ok: int, false: int, seconds: float, size: int) -> dict[str, Any]:
    return {
        "recovered_md5_ok": ok,
        "false_carves": false,
        "time_s": round(seconds, 3),
        "mb_s": round(size / seconds / 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=40)
    parser.add_argument("--filler-mb", type=int, default=256)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale, filler = (4, 16) if args.quick else (args.scale, args.filler_mb)
    with tempfile.TemporaryDirectory(prefix="bench-carve-") as tmp:
        work = Path(tmp)
        image = work / "synthetic.dd"
        answer = make_image(image, scale, filler)
        image_size = image.stat().st_size
        safenet = score_safenet(image, answer, 512)
        unaligned = score_safenet(image, answer, 1)
        photorec = score_photorec(image, answer, work)
    whole = len(answer.whole)
    print(f"image: {image_size} bytes, {whole} whole, {len(answer.partial)} partial, {len(answer.decoys)} decoys")
    for name, fig in (("safenet (512)", safenet), ("safenet (any byte)", unaligned), ("photorec", photorec)):
        print(f"{name:20} {fig}")
    goals: dict[str, Any] = {}
    if photorec is not None:
        goals = {
            "recall_ge_photorec": safenet["recovered_md5_ok"] >= photorec["recovered_md5_ok"],
            "fewer_false_carves": safenet["false_carves"] < photorec["false_carves"],
            "faster": safenet["time_s"] < photorec["time_s"],
        }
        print("goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in goals.items()))
    record = {
        "bench": "carve",
        "image_bytes": image_size,
        "scale": scale,
        "filler_mb": filler,
        "whole_files": whole,
        "partial_files": len(answer.partial),
        "decoys": len(answer.decoys),
        "safenet": safenet,
        "safenet_any_byte": unaligned,
        "photorec": photorec,
        "goals": goals,
    }
    print(json.dumps(record, separators=(",", ":")))
    return 0 if safenet["recovered_md5_ok"] == whole and safenet["false_carves"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
