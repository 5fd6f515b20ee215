"""Perceptual matching end to end: a set built from reference pictures, altered copies found in triage.

Benign generated pictures only (safenet.demo.picture). The reference folder holds four pictures; the
exhibit holds resized, rotated, bordered and recompressed copies of them, an exact copy, unrelated
pictures (two of them near-duplicates of each other, for clustering) and a featureless black image.
"""

from __future__ import annotations

import io
import json
import sqlite3
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from PIL import Image, ImageOps

from safenet.case.clusters import build_clusters
from safenet.case.store import Case, CaseError
from safenet.cli import main
from safenet.engine.events import Hit
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.summary import summarise
from safenet.report.writers import render_html, write_report
from tests.builders import write
from tests.engine.test_triage import Collect

SCHEMA = json.loads(resources.files("safenet.report").joinpath("report.schema.json").read_text())


def encode(img: Image.Image, quality: int = 90, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format=fmt, quality=quality)
    return buf.getvalue()


def pic(seed: int) -> Image.Image:
    from safenet.demo import picture

    return picture(seed, (640, 480))


@pytest.fixture
def triaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Case, Collect, Path]:
    reference = tmp_path / "reference"
    originals = {seed: encode(pic(seed)) for seed in range(4)}
    for seed, data in originals.items():
        write(reference, f"set/{seed}.jpg", data)
    hashdb = tmp_path / "db"
    build = ["hashset", "build", str(reference), "--name", "force-ref", "--kind", "illicit", "--category", "A"]
    code = main([*build, "--scheme", "uk", "--hashdb", str(hashdb)])
    built = capsys.readouterr().out
    assert code == 0 and "built force-ref: 4 entries (folder, illicit, scheme uk, PDQ within 31" in built
    exhibit = tmp_path / "exhibit"
    write(exhibit, "resized.jpg", encode(pic(0).resize((320, 240)), quality=50))
    write(exhibit, "rotated.jpg", encode(pic(1).transpose(Image.Transpose.ROTATE_90)))
    write(exhibit, "bordered.jpg", encode(ImageOps.expand(pic(2), border=(0, 160), fill="black")))
    write(exhibit, "recompressed.jpg", encode(pic(3), quality=30))
    write(exhibit, "exact.jpg", originals[0])
    for seed in (20, 21, 22):
        write(exhibit, f"other/{seed}.jpg", encode(pic(seed)))
    write(exhibit, "other/20-small.png", encode(pic(20).resize((400, 300)), fmt="PNG"))
    write(exhibit, "black.jpg", encode(Image.new("RGB", (200, 200))))
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    store = HashSetStore(hashdb)
    triage(exhibit, case, store, TriageOptions(exhibit="EX1", hashsets=("force-ref",), operator="t"), events)
    return case, events, tmp_path


def findings(case: Case) -> dict[str, list[dict[str, object]]]:
    return {item["name"]: item["findings"] for item in report_data(case)["items"]}


def base(display: str) -> str:
    return Path(display).name.split(" (inode")[0]


def test_altered_copies_match_perceptually_with_orientation_and_trim(triaged: tuple[Case, Collect, Path]) -> None:
    case, events, _ = triaged
    found = findings(case)
    assert set(found) == {"resized.jpg", "rotated.jpg", "bordered.jpg", "recompressed.jpg", "exact.jpg"}
    expected = {
        "resized.jpg": ("original", False),
        "rotated.jpg": ("rotate-90", False),
        "bordered.jpg": ("original", True),
        "recompressed.jpg": ("original", False),
    }
    for name, (orientation, trimmed) in expected.items():
        [finding] = found[name]
        assert finding["match_kind"] == "perceptual" and finding["hash_kind"] == "pdq", name
        assert (finding["orientation"], finding["trimmed"], finding["category"]) == (orientation, trimmed, "A"), name
        assert isinstance(finding["distance"], int) and 0 <= finding["distance"] <= 31
    lines = {base(str(h.locator)): h for h in events.hits}
    assert lines["rotated.jpg"].hash_kind.startswith("pdq d=") and "rot90" in lines["rotated.jpg"].hash_kind
    assert lines["bordered.jpg"].hash_kind.endswith("trimmed") and lines["bordered.jpg"].perceptual
    assert lines["exact.jpg"].hash_kind == "sha256" and not lines["exact.jpg"].perceptual


def test_an_exact_match_gets_no_perceptual_work_and_unrelated_pictures_no_hit(
    triaged: tuple[Case, Collect, Path],
) -> None:
    case, _, tmp_path = triaged
    [exact] = findings(case)["exact.jpg"]
    assert exact["match_kind"] == "exact" and exact["distance"] is None and exact["orientation"] is None
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        rows = dict(db.execute("SELECT name, pdq IS NOT NULL FROM items"))
        black = db.execute("SELECT pdq_quality, pdq_low_quality FROM items WHERE name = 'black.jpg'").fetchone()
    db.close()
    assert rows["exact.jpg"] == 0  # settled by the exact match: never decoded
    assert rows["20.jpg"] == rows["rotated.jpg"] == 1
    assert black[0] < 50 and "quality" in black[1]
    summary = summarise(case)
    assert summary.total["A"].counts["exact"] == 1 and summary.total["A"].counts["perceptual"] == 4


def test_report_shows_perceptual_findings_and_clusters(triaged: tuple[Case, Collect, Path]) -> None:
    case, _, _ = triaged
    outcome = build_clusters(case)
    assert (outcome.clusters, outcome.clustered_items) == (1, 2)
    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    [cluster] = data["clusters"]
    assert sorted(base(m["path"]) for m in cluster["items"]) == ["20-small.png", "20.jpg"]
    html = render_html(data)
    assert "distance" in html and "borders trimmed" in html and "Near-duplicate clusters" in html
    csv_path = write_report(case, "csv")
    header = csv_path.read_text().splitlines()[0]
    assert "distance,orientation,trimmed" in header


def test_cluster_command_and_old_cases_are_refused(
    triaged: tuple[Case, Collect, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, tmp_path = triaged
    assert main(["cluster", str(tmp_path / "case")]) == 0
    assert "1 clusters of near-duplicates (2 of " in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(CaseError, match="schema version 1, written by an older Safenet"):
        Case.open_existing(tmp_path / "case")


def test_hit_type_is_plain_data() -> None:
    assert Hit.__dataclass_fields__["perceptual"].default is False


def test_pdq_and_the_review_thumbnail_share_one_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: where a picture gets both a PDQ hash and a review thumbnail (standard and full profiles, no exact
    match), the worker decodes it once; the hash and the thumbnail are those made from the bytes alone."""
    from safenet.analysis import thumbs
    from safenet.analysis.pdq import decode as decode_module
    from safenet.engine.executors import Stage
    from safenet.engine.perceptual import PerceptualWork, hash_image
    from safenet.engine.pipeline import Settings
    from safenet.engine.profiles import Profile
    from safenet.evidence.registry import open_source

    exhibit = tmp_path / "exhibit"
    pictures = {
        "a.jpg": encode(pic(30)),
        "b.png": encode(pic(31).resize((700, 300)), fmt="PNG"),
        "c.jpg": encode(pic(32).resize((1600, 1200)), quality=80),  # DCT-scaled for both
        "cut.jpg": encode(pic(33))[:3000],  # truncated: neither a hash nor a thumbnail, one warning
    }
    for name, data in pictures.items():
        write(exhibit, name, data)
    decoded: list[object] = []
    real = decode_module._decode
    monkeypatch.setattr(decode_module, "_decode", lambda *a, **k: decoded.append(a[0]) or real(*a, **k))
    evidence = open_source(exhibit)
    items = sorted(evidence.items(lambda w: None), key=lambda item: item.name)
    work = PerceptualWork(lambda digests: False)
    results = Stage(evidence, Settings(Profile.STANDARD, ("md5",), perceptual=work)).run(items)
    assert len(decoded) == len(pictures)  # one decode each (the truncated one's, which fails, included)
    monkeypatch.undo()
    records = {r.item.name: r for result in results for r in result.records}
    warnings = [w for result in results for w in result.warnings]
    for name, data in pictures.items():
        alone = hash_image(records[name].item, data, work.mode)  # PDQ from the bytes, decoded for it alone
        assert records[name].thumbnail == thumbs.default_thumbnail(data), name
        if name == "cut.jpg":
            assert records[name].pdq is None and records[name].thumbnail is None and warnings == [alone]
        else:
            assert records[name].pdq == alone and records[name].thumbnail is not None, name
