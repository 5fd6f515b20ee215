"""``safenet verify`` against the tamper catalogue, on a real triaged and graded case.

The case is built once per module (a real triage, grades, a confirmation, an undo); each test works on a
copy of its folder, so every tampering meets an otherwise untouched case.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.case.gradings import Grade, confirm_grading, grade_items, record_reveal, undo_gradings
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.cli import main
from tests.case.tampering import CATALOGUE, Tampering
from tests.case.test_gradings import EXAMINER, EXAMINER2, REVIEWER, build_case


def build_graded(root: Path) -> Path:
    """A triaged case with a broken picture (a warning), grades, a confirmation and an undo; returns its folder."""
    built = build_case(root, extra={"broken.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 40, "cut.png": b"\x89PNG\r\n\x1a\n"})
    (built.case.path / "audit.head.after-triage").write_bytes((built.case.path / "audit.head").read_bytes())
    u10, u11, u12 = built.ids["u10.jpg"], built.ids["u11.jpg"], built.ids["u12.jpg"]
    grade_items(built.case, [u10, u11], Grade.B, EXAMINER)
    grade_items(built.case, [u12], Grade.C, EXAMINER2)
    record_reveal(built.case, u10, REVIEWER)
    confirm_grading(built.case, u10, REVIEWER)
    rows = grade_items(built.case, [u11], Grade.A, EXAMINER)
    undo_gradings(built.case, [r.row_id or 0 for r in rows], EXAMINER)
    built.case.close()
    return built.case.path


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(case folder, installation key) built once; tests copy the folder and use the same key."""
    root = tmp_path_factory.mktemp("graded")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAFENET_HASHDB", str(root / "hashdb"))
        mp.setenv("SAFENET_AUDIT_KEY", str(root / "key" / "audit-key.pem"))
        yield build_graded(root), root / "key" / "audit-key.pem"


@pytest.fixture
def copy(graded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the graded case, verified as the installation that wrote it."""
    folder, key = graded
    key_copy = tmp_path / "key" / "audit-key.pem"
    shutil.copytree(key.parent, key_copy.parent)  # the key and the heads this installation remembers
    monkeypatch.setenv("SAFENET_AUDIT_KEY", str(key_copy))
    shutil.copytree(folder, tmp_path / "case")
    return tmp_path / "case"


def test_the_untampered_case_verifies(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(copy)]) == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert "PROBLEM" not in text and "gradings: 5 rows checked" in text and "this installation's key" in text
    assert "warnings: " in text and "runs: 1 checked" in text


@pytest.mark.parametrize("tampering", CATALOGUE, ids=[t.name for t in CATALOGUE])
def test_each_tampering_is_detected(copy: Path, tampering: Tampering, capsys: pytest.CaptureFixture[str]) -> None:
    tampering.apply(copy)
    assert main(["verify", str(copy)]) == 6
    text = capsys.readouterr().out
    problems = [line for line in text.splitlines() if line.startswith("PROBLEM")]
    assert problems and any(tampering.expect in line for line in problems), text


def test_another_installation_sees_its_own_key_missing(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFENET_AUDIT_KEY", str(copy.parent / "other" / "key.pem"))
    result = verify_case(Case.open_existing(copy))
    assert result.ok, result.problems
    assert any("another installation's key" in line for line in result.lines)
    assert any("has not written to this case" in line for line in result.lines)


def test_forged_lines_stay_a_problem_after_later_writes(copy: Path) -> None:
    """A later writer names the unsigned lines it found; that must not turn a forgery into a note."""
    forged = next(t for t in CATALOGUE if t.name == "add a grade with a well-chained log line")
    forged.apply(copy)
    case = Case.open_existing(copy)
    assert not verify_case(case).ok  # and this verification itself was appended and signed
    again = verify_case(case)
    assert any("never signed" in p for p in again.problems), again.lines
