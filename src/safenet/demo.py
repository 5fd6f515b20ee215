"""``safenet demo``: benign demo evidence, a synthetic hash set, one triage, the summary and the report.

Everything is generated on the fly from a fixed seed (no demo data is committed): abstract pictures
drawn with Pillow, a few archives, a renamed file, an empty file. The synthetic VICS hash set lists
some of the pictures with made-up UK categories; a known-good list covers a fake system file.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import tarfile
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw
from rich.console import Console
from rich.text import Text

from safenet.case.store import Case, CaseError
from safenet.console import RichEvents, print_summary
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.summary import summarise
from safenet.report.writers import write_report

MARKER = ".safenet-demo"
VICS_UK_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"


def picture(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """An abstract picture: a gradient with random rectangles and ellipses. Benign by construction."""
    rng = random.Random(seed)  # noqa: S311 - reproducible pictures, not secrets
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randrange(20, 200), y0 + rng.randrange(20, 200))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    return img


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=88) if fmt == "JPEG" else img.save(buf, format=fmt)
    return buf.getvalue()


def build_evidence(root: Path) -> dict[str, bytes]:
    """Write the demo exhibit under ``root``; returns {relative path or member: content} of every picture."""
    pictures: dict[str, bytes] = {}

    def put(rel: str, data: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    for i in range(24):
        rel = f"Users/alex/Pictures/IMG_{1000 + i}.jpg"
        pictures[rel] = _encode(picture(i), "JPEG")
        put(rel, pictures[rel])
    for i in range(24, 30):
        rel = f"Users/alex/Downloads/screen_{i}.png"
        pictures[rel] = _encode(picture(i, (320, 240)), "PNG")
        put(rel, pictures[rel])
    pictures["Users/alex/Documents/minutes.txt"] = _encode(picture(30), "JPEG")  # a picture under a false name
    put("Users/alex/Documents/minutes.txt", pictures["Users/alex/Documents/minutes.txt"])
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(31, 36):
            data = _encode(picture(i), "JPEG")
            pictures[f"holiday.zip:{i}.jpg"] = data
            zf.writestr(f"holiday/{i}.jpg", data)
    put("Users/alex/Downloads/holiday.zip", zbuf.getvalue())
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        for i in range(36, 40):
            data = _encode(picture(i), "PNG")
            pictures[f"backup.tar.gz:{i}.png"] = data
            info = tarfile.TarInfo(f"backup/{i}.png")
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    put("Users/alex/backup.tar.gz", tbuf.getvalue())
    put("Users/alex/Documents/todo.txt", b"buy milk\n")
    put("Users/alex/Documents/empty.dat", b"")
    put("Windows/System32/demo.dll", random.Random(99).randbytes(50_000))  # noqa: S311
    return pictures


def build_hashsets(workdir: Path, pictures: dict[str, bytes], dll: bytes) -> tuple[Path, Path]:
    """A synthetic VICS 2.0 UK hash set over some demo pictures, and a known-good md5sum list."""
    chosen = sorted(pictures)[::3]  # every third picture, in a stable order
    codes = ["1", "2", "3", None]
    media = []
    for n, key in enumerate(chosen, start=1):
        data = pictures[key]
        entry: dict[str, object] = {
            "MediaID": n,
            "MD5": hashlib.md5(data).hexdigest().upper(),  # noqa: S324
            "SHA1": hashlib.sha1(data).hexdigest().upper(),  # noqa: S324
            "MediaSize": len(data),
            "IsPrecategorized": "true",
        }
        code = codes[n % len(codes)]
        if code is not None:
            entry["Category"] = int(code)
        media.append(entry)
    media.append({"MediaID": len(media) + 1, "MD5": "00" * 16, "Category": 1})  # listed, not on the exhibit
    vics = workdir / "demo-caid-synthetic.json"
    vics.write_text(json.dumps({"@odata.context": VICS_UK_CONTEXT, "value": media}, indent=1))
    known = workdir / "demo-known-good.md5"
    known.write_text(f"{hashlib.md5(dll).hexdigest()}  Windows/System32/demo.dll\n")  # noqa: S324
    return vics, known


def run_demo(workdir: Path, console: Console) -> None:
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            raise CaseError(f"{workdir} exists and was not made by `safenet demo`; choose another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by safenet demo; safe to delete\n")
    evidence = workdir / "evidence" / "EX1"
    console.print(Text(f"building benign demo evidence in {evidence} …"))
    pictures = build_evidence(evidence)
    vics, known = build_hashsets(workdir, pictures, (evidence / "Windows/System32/demo.dll").read_bytes())
    store = HashSetStore(workdir / "hashsets")
    warnings: list[str] = []
    for path, name, kind in ((vics, "demo-caid", SetKind.ILLICIT), (known, "demo-known", SetKind.KNOWN_GOOD)):
        info = store.import_file(path, name, kind=kind, warn=lambda ref, msg: warnings.append(f"{ref}: {msg}"))
        console.print(Text(f"imported hash set {info.name}: {info.entry_count} entries ({info.format}, {info.kind})"))
    case = Case.create_or_open(workdir / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.FULL, hashsets=("demo-caid", "demo-known"), operator="demo")
    with RichEvents(console, "EX1") as events:
        triage(evidence, case, store, options, events)
    print_summary(console, summarise(case))
    report = write_report(case, "html")
    write_report(case, "json")
    console.print(
        Text(
            f"\nreport: {report}\ncase folder: {case.path}\n"
            f"next: safenet report {case.path} --format json|csv  ·  safenet verify {case.path}"
        )
    )
