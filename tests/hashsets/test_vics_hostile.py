"""VICS files built to hurt the reader: deep nesting, over-long numbers, duplicate keys, a missing context line.

Each is refused with exit 4 and one sentence, or read with a warning; none may crash the interpreter or take
memory out of proportion to the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from safenet.cli import Exit, main
from safenet.hashsets import HashSetError, UnknownFormat, detect_format
from safenet.hashsets.formats.vics import VicsFormat

CONTEXT = '"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"'
MD5 = '"MD5": "00112233445566778899aabbccddeeff"'


class Warnings(list[tuple[str, str]]):
    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


def vics(tmp_path: Path, entries: str, tail: str = "") -> Path:
    path = tmp_path / "set.json"
    path.write_text("{" + CONTEXT + ', "value": [' + entries + "]" + tail + "}")
    return path


def read(path: Path) -> tuple[list[bytes | None], Warnings]:
    warnings = Warnings()
    return [r.md5 for r in VicsFormat().read(path, warnings)], warnings


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("entries", "tail"),
    [
        ("{" + MD5 + ', "X": ' + "[" * 20_000 + "]" * 20_000 + "}", ""),  # inside a media entry
        ("[" * 20_000 + "]" * 20_000, ""),  # a media entry that is itself nested arrays
        ("{" + MD5 + "}", ', "extra": ' + '{"a": ' * 20_000 + "1" + "}" * 20_000),  # outside the entries
    ],
    ids=["in-entry", "entry", "elsewhere"],
)
def test_deep_nesting_is_refused_early_in_bounded_memory(tmp_path: Path, entries: str, tail: str) -> None:
    path = vics(tmp_path, entries, tail)
    tracemalloc.start()
    try:
        with pytest.raises(HashSetError, match=r"nests more than 32 arrays or objects deep") as caught:
            read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # ijson's prefix-keeping reader took over 1 GB for this 40 KB file; refusing at depth 33 needs almost none.
    assert peak < 8 * 1024 * 1024
    assert "\n" not in str(caught.value)


def test_depth_real_exports_need_is_read(tmp_path: Path) -> None:
    # A #Cases export nests root, value, case, Media, media, MediaFiles, file: well inside the limit.
    nested = '{"FileName": "a.jpg", "Meta": {"Exif": [{"Tag": [1, [2, [3]]]}]}}'
    path = vics(tmp_path, "{" + MD5 + ', "MediaFiles": [' + nested + "]}")
    md5s, warnings = read(path)
    assert md5s == [bytes.fromhex("00112233445566778899aabbccddeeff")] and warnings == []


def test_deep_nesting_cli_exit_4_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = vics(tmp_path, "[" * 5_000 + "]" * 5_000)
    code, err = cli(capsys, "hashset", "import", str(path), "--name", "deep", "--hashdb", str(tmp_path / "db"))
    assert code == Exit.HASHSET
    assert err.count("\n") == 1 and "nests more than 32" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("number", "tail"),
    [
        ("9" * 5_000, "}"),
        ("-" + "9" * 5_000, "}"),
        ("9" * 4_400, '"false"}'),  # a number run into a string: the C backend lost this error and crashed
        ("9" * 4_400, ", 1]}"),
        ("12345678901234567890", "}"),
        ("1e5000", "}"),
        ("9" * 400 + ".5", "}"),
    ],
    ids=["int", "negative", "before-string", "in-array", "over-64-bits", "big-exponent", "huge-decimal"],
)
def test_over_large_number_is_refused(tmp_path: Path, number: str, tail: str) -> None:
    path = vics(tmp_path, "{" + MD5 + ', "MediaSize": ' + ("[" if tail.startswith(",") else "") + number + tail)
    with pytest.raises(HashSetError, match=r"holds a number too large to be an id or a size \(more than 64 bits\)"):
        read(path)


@pytest.mark.parametrize("tail", ["}", '"false"}'])
def test_over_long_number_in_a_subprocess_exits_4_not_sigsegv(tmp_path: Path, tail: str) -> None:
    # In a child process: before the fix the interpreter died with SIGSEGV inside ijson's C backend.
    path = vics(tmp_path, "{" + MD5 + ', "MediaID": ' + "9" * 4_400 + tail)
    env = {**os.environ, "SAFENET_HASHDB": str(tmp_path / "db")}
    done = subprocess.run(
        [sys.executable, "-m", "safenet", "hashset", "import", str(path), "--name", "long"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == Exit.HASHSET, done.stderr
    assert done.stderr.count("\n") == 1 and "number too large" in done.stderr


@pytest.mark.parametrize(
    ("number", "size"),
    [("9223372036854775807", 9223372036854775807), ("1." + "0" * 5_000, 1), ("1.5e-99999", 0), ("2835.0", 2835)],
    ids=["int64-max", "long-fraction", "tiny", "integral-float"],
)
def test_large_but_readable_numbers_are_read(tmp_path: Path, number: str, size: int | None) -> None:
    path = vics(tmp_path, "{" + MD5 + ', "MediaID": ' + number + ', "MediaSize": ' + number + "}")
    warnings = Warnings()
    [record] = VicsFormat().read(path, warnings)
    assert record.size == size


@pytest.mark.parametrize("text", ["9" * 5_000, "²", "١٢"], ids=["long", "superscript", "arabic-indic"])
def test_sizes_written_as_text_are_never_a_crash(tmp_path: Path, text: str) -> None:
    path = vics(tmp_path, "{" + MD5 + f', "MediaSize": "{text}"}}')
    warnings = Warnings()
    [record] = VicsFormat().read(path, warnings)
    assert record.size is None and warnings[0][1].startswith("MediaSize ")


def test_duplicate_key_with_different_values_skips_the_entry(tmp_path: Path) -> None:
    other = '"MD5": "ffeeddccbbaa99887766554433221100"'
    path = vics(tmp_path, f'{{"MediaID": 7, {MD5}, {other}}}, {{"MediaID": 8, {MD5}, {MD5}}}')
    md5s, warnings = read(path)
    # Which MD5 a JSON reader keeps differs between readers: neither is matched against.
    assert md5s == [bytes.fromhex("00112233445566778899aabbccddeeff")]
    assert warnings == [("MediaID 7", "key given twice with different values (MD5); entry skipped")]


def test_duplicate_key_nested_in_media_files_is_caught(tmp_path: Path) -> None:
    path = vics(tmp_path, "{" + MD5 + ', "MediaFiles": [{"FileName": "a.jpg", "FileName": "b.jpg"}]}')
    md5s, warnings = read(path)
    assert md5s == [] and warnings == [("Media 1", "key given twice with different values (FileName); entry skipped")]


def test_vics_without_context_line_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"value": [{"MediaID": 1, "MD5": "00" * 16, "Category": "1"}]}))
    with pytest.raises(UnknownFormat) as caught:
        detect_format(path)
    message = str(caught.value)
    assert "looks like VICS JSON but has no @odata.context" in message
    assert "DataModels/2.0.xml/Default/$metadata#Media" in message


def test_vics_with_a_foreign_context_says_so(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    body = {"@odata.context": "http://example.invalid/$metadata#Things", "value": [{"MD5": "00" * 16}]}
    path.write_text(json.dumps(body))
    with pytest.raises(UnknownFormat, match=r"looks like VICS JSON but its @odata.context"):
        detect_format(path)


def test_other_json_is_still_not_a_format(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"value": [{"name": "x"}]}))
    with pytest.raises(UnknownFormat, match=r"is not in a hash-set format Safenet reads"):
        detect_format(path)


def test_a_refused_import_shows_the_warnings_it_points_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = '"MD5": "ffeeddccbbaa99887766554433221100"'
    path = vics(tmp_path, f"{{{MD5}, {other}}}")
    code, err = cli(capsys, "hashset", "import", str(path), "--name", "dup", "--hashdb", str(tmp_path / "db"))
    assert code == Exit.HASHSET
    lines = err.splitlines()
    assert lines[0] == "warning: Media 1: key given twice with different values (MD5); entry skipped"
    assert lines[-1].startswith("safenet: error: ") and lines[-1].endswith("(see the warnings)")
