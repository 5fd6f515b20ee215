"""``safenet triage EX1=... EX2=... EX3=...`` end to end: a verdict per device, the seize / may-be-left summary,
the documented exit codes when one device fails, per-exhibit resume, a case that verifies, and user mistakes in
one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.cli import Exit, main
from tests.builders import VicsSet, jpeg, write
from tests.evidence.image_builders import HAVE_EXT4, ext4_image

pytestmark = pytest.mark.timeout(300)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """EX1 (a folder with two known pictures), EX2 (a folder with none), EX3 (an ext4 image with one, or a
    folder where mkfs.ext4 is missing); the set imported as "s"."""
    known = VicsSet()
    for i in range(6):
        write(tmp_path / "ex1", f"DCIM/{i}.jpg", data := jpeg(i))
        if i in (1, 4):
            known.add(data, 1 + i % 3)
        write(tmp_path / "ex2", f"Pictures/{i}.jpg", jpeg(50 + i))
    files = {f"DCIM/IMG_{i}.JPG": jpeg(90 + i) for i in range(5)}
    known.add(files["DCIM/IMG_2.JPG"], 3)
    if HAVE_EXT4:
        ex3 = ext4_image(tmp_path, files, delete=[])
    else:
        for rel, data in files.items():
            write(tmp_path / "ex3", rel, data)
        ex3 = tmp_path / "ex3"
    code, _, err = run(capsys, "hashset", "import", str(known.write(tmp_path / "vics.json")), "--name", "s")
    assert code == Exit.OK, err
    return [f"EX1={tmp_path / 'ex1'}", f"EX2={tmp_path / 'ex2'}", f"EX3={ex3}"]


def test_three_devices_at_once_give_verdicts_and_the_summary(
    tmp_path: Path, devices: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(tmp_path / "case")
    code, out, err = run(capsys, "triage", *devices, "--case", case, "--hashset", "s", "--operator", "DC Test")
    assert code == Exit.OK, err
    assert "EX1: known material found: 2 files" in out and "the first after" in out
    assert "EX3: known material found: 1 file (C 1)" in out
    assert "EX2: no known material found in 6 items" in out and "profile quick" in out
    assert "seize: EX1, EX3" in out
    assert "no known material found (may be left, what was examined stated above): EX2" in out
    code, out, err = run(capsys, "verify", case)
    assert code == Exit.OK, out + err


def test_one_missing_device_fails_alone_with_exit_3(
    tmp_path: Path, devices: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(tmp_path / "case")
    missing = f"EX4={tmp_path / 'gone.E01'}"
    code, out, err = run(capsys, "triage", devices[0], missing, devices[1], "--case", case, "--hashset", "s")
    assert code == Exit.EVIDENCE
    assert "FAILED EX4:" in out and "does not exist" in out
    assert "seize: EX1, EX4 (not examined to the end)" in out
    assert "may be left, what was examined stated above): EX2" in out
    assert "Traceback" not in out + err
    code, out, err = run(capsys, "verify", case)
    assert code == Exit.OK, out + err


def test_a_stopped_exhibit_is_resumed_alone(
    tmp_path: Path, devices: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(tmp_path / "case")
    args = ("--case", case, "--hashset", "s")
    code, out, err = run(capsys, "triage", devices[0], devices[1], *args, "--stop-at-first-hit", "--workers", "1")
    assert code == Exit.OK, err
    assert "stopped at the first hit" in out and "seize: EX1" in out
    code, out, err = run(capsys, "triage", devices[0], "--case", case, "--resume")
    assert code == Exit.OK, err
    assert "EX1: known material found: 1 file " in out  # the second hit, found by the resumed run
    code, out, err = run(capsys, "triage", devices[1], "--case", case, "--resume")
    assert code == Exit.CASE and "FAILED EX2:" in out and "no unfinished run to resume" in out
    code, out, err = run(capsys, "verify", case)
    assert code == Exit.OK, out + err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("EX2=/b", "--exhibit", "EX1"), "--exhibit names one source"),
        (("EX1=/x",), "each device needs its own exhibit label"),
        (("/x",), "give each as LABEL=PATH"),
    ],
)
def test_usage_mistakes_are_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "triage", "EX1=/a", *extra, "--case", str(tmp_path / "c"))
    assert code == Exit.USAGE and message in err and "Traceback" not in out + err
    assert not (tmp_path / "c").exists()


def test_one_source_without_a_label_needs_an_exhibit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "triage", str(tmp_path), "--case", str(tmp_path / "c"))
    assert code == Exit.USAGE and "--exhibit EX1" in err


def test_labels_with_escape_sequences_are_shown_escaped(
    tmp_path: Path, devices: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    label = "EX1\x1b[2J\x1b]0;pwned\x07"
    ex1 = devices[0].split("=", 1)[1]
    code, out, err = run(
        capsys, "triage", f"{label}={ex1}", devices[1], "--case", str(tmp_path / "c"), "--hashset", "s"
    )
    assert code == Exit.OK, err
    assert "\x1b" not in out + err and "\x07" not in out + err and "EX1\\x1b[2J" in out
