"""``safenet items``: every recorded item of a triaged folder with known files, filtered, in three formats;
and ``safenet export --format dfxml --all-items``, validated against the DFXML schema."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from safenet.case.store import Case
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.listing import LISTING_COLUMNS
from tests.builders import VicsSet, jpeg, png, write, zip_bytes

DFXML_XSD = Path(__file__).resolve().parents[1] / "data" / "dfxml" / "dfxml.xsd"
NS = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"}
FILES = {
    "known.jpg": jpeg(1),
    "photo.png": png(2),
    "notes.txt": b"shopping list\n",
    "sub/deep.jpg": jpeg(3),
    "=SUM(A1).jpg": jpeg(4),  # a name a spreadsheet would run as a formula
}
MEMBER = jpeg(5)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def case(tmp_path: Path) -> Path:
    root = tmp_path / "ev"
    for rel, data in FILES.items():
        write(root, rel, data)
    write(root, "pack.zip", zip_bytes({"inner.jpg": MEMBER}))
    known = VicsSet()
    known.add(FILES["known.jpg"], 1)
    store = HashSetStore(tmp_path / "db")
    store.import_file(known.write(tmp_path / "set.json"), "caid", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    folder = tmp_path / "case"
    options = TriageOptions(
        exhibit="EX1", profile=Profile.STANDARD, hashsets=("caid",), operator="t", executor=ExecutorKind.INLINE
    )
    triage(root, Case.create_or_open(folder), store, options)
    return folder


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["items", *args, "--format", "json"]) == 0
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


def _names(entries: list[dict[str, object]]) -> set[str]:
    return {str(e["name"]) for e in entries}


def test_every_item_is_listed_with_its_digests_and_flags(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = _json([str(case)], capsys)
    assert _names(entries) == {
        "known.jpg",
        "photo.png",
        "notes.txt",
        "deep.jpg",
        "=SUM(A1).jpg",
        "pack.zip",
        "inner.jpg",
    }
    by_name = {e["name"]: e for e in entries}
    for rel, data in FILES.items():
        if rel != "notes.txt":  # the standard profile types it but does not hash it
            assert by_name[rel.rsplit("/", 1)[-1]]["md5"] == _md5(data), rel
    assert by_name["inner.jpg"]["md5"] == _md5(MEMBER)
    assert by_name["notes.txt"]["status"] == "skipped" and by_name["notes.txt"]["md5"] is None
    assert [e["name"] for e in entries if e["matched"]] == ["known.jpg"]
    inner, pack = by_name["inner.jpg"], by_name["pack.zip"]
    assert inner["parent_id"] == pack["item_id"]
    assert [layer["kind"] for layer in inner["locator"]][-1] == "archive-member"  # type: ignore[index]
    assert by_name["known.jpg"]["size"] == len(FILES["known.jpg"])
    assert str(by_name["known.jpg"]["modified"]).endswith("+00:00")  # a live folder: the zone is known
    assert all(set(e) == set(LISTING_COLUMNS) for e in entries)
    assert all(e["exhibit"] == "EX1" and not e["deleted"] and not e["carved"] for e in entries)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--matched"], {"known.jpg"}),
        (["--unmatched", "--kind", "image"], {"photo.png", "deep.jpg", "=SUM(A1).jpg", "inner.jpg"}),
        (["--media", "other"], {"notes.txt"}),
        (["--status", "skipped"], {"notes.txt"}),
        (["--deleted"], set()),
        (["--live", "--exhibit", "EX1", "--kind", "archive"], {"pack.zip"}),
    ],
)
def test_filters(case: Path, args: list[str], expected: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _names(_json([str(case), *args], capsys)) == expected


def test_path_prefix_is_exact_and_case_sensitive(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = _json([str(case)], capsys)
    deep = next(str(e["path"]) for e in entries if e["name"] == "deep.jpg")
    prefix = deep[: deep.index("sub/") + 4]
    assert _names(_json([str(case), "--path-prefix", prefix], capsys)) == {"deep.jpg"}
    assert _names(_json([str(case), "--path-prefix", prefix.replace("sub/", "SUB/")], capsys)) == set()
    assert _names(_json([str(case), "--path-prefix", prefix.replace("sub/", "s_b/")], capsys)) == set()  # not LIKE


def test_csv_and_table(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["items", str(case), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == LISTING_COLUMNS and len(rows) == 8
    names = [r[LISTING_COLUMNS.index("name")] for r in rows[1:]]
    assert "'=SUM(A1).jpg" in names and "=SUM(A1).jpg" not in names  # formula neutralised
    json.loads(rows[1][LISTING_COLUMNS.index("locator")])  # the locator, as JSON text
    assert main(["items", str(case), "--matched"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].split()[:4] == ["id", "exhibit", "status", "flags"]
    assert " M " in lines[1] and _md5(FILES["known.jpg"]) in lines[1] and "UTC" in lines[1]
    assert "1 item listed" in captured.err and "D deleted" in captured.err


def test_output_file_is_owner_only_and_audited(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "items.json"
    assert main(["items", str(case), "--format", "json", "--output", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 7 and out.stat().st_mode & 0o077 == 0
    assert capsys.readouterr().out == ""
    events = [e for e in Case.open_existing(case).audit.entries() if e["event"] == "items-listed"]
    assert [e["data"]["items"] for e in events] == [7]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["{missing}"], 5, "not a safenet case"),
        (["{case}", "--kind", "picture"], 2, "unknown media kind 'picture'"),
        (["{case}", "--status", "done"], 2, "unknown status 'done'"),
        (["{case}", "--format", "xml"], 2, "unknown listing format 'xml'"),
        (["{case}", "--exhibit", "EX9"], 2, "no exhibit 'EX9' in this case; it has: EX1"),
    ],
)
def test_user_mistakes_are_one_sentence_and_an_exit_code(
    case: Path, tmp_path: Path, args: list[str], code: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(case=case, missing=tmp_path / "nope") for a in args]
    assert main(["items", *argv]) == code
    captured = capsys.readouterr()
    assert words.lower() in captured.err.lower() and "Traceback" not in captured.err and captured.out == ""


def test_dfxml_of_every_item_validates(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.xml"
    assert main(["export", str(case), "--format", "dfxml", "--all-items", "--output", str(path)]) == 0
    assert "exported 7 items (dfxml)" in capsys.readouterr().out
    doc = etree.parse(str(path))
    schema = etree.XMLSchema(etree.parse(str(DFXML_XSD)))
    assert schema.validate(doc), schema.error_log
    objects = doc.findall(".//d:fileobject", NS)
    names = {o.findtext("d:filename", namespaces=NS) or "" for o in objects}
    assert len(objects) == 7 and any("notes.txt" in n for n in names)
    md5s = {o.findtext("d:hashdigest[@type='md5']", namespaces=NS) for o in objects}
    assert {_md5(d) for r, d in FILES.items() if r != "notes.txt"} | {_md5(MEMBER)} <= md5s
    default = tmp_path / "some.xml"
    assert main(["export", str(case), "--format", "dfxml", "--output", str(default)]) == 0
    assert len(etree.parse(str(default)).findall(".//d:fileobject", NS)) == 1  # graded or matched only
    assert main(["export", str(case), "--format", "vics", "--all-items"]) == 2
    assert "--all-items works with --format dfxml only" in capsys.readouterr().err


def test_a_listing_piped_into_head_ends_quietly(case: Path) -> None:
    """``safenet items CASE | head``: a reader that has gone away is not an internal error."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written: every write is EPIPE
    try:
        listing = subprocess.run(
            [sys.executable, "-m", "safenet", "items", str(case), "--format", "csv"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    err = listing.stderr.decode()
    assert listing.returncode == 0 and "internal error" not in err and "Traceback" not in err, err
