"""``safenet validate``: the pack passes on the repository's data, and fails, naming the requirement, when an
expected value is altered or a check is broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from safenet.cli import Exit, main
from safenet.validation import checks
from safenet.validation.record import last_validation
from tests.datafiles import DATA


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def altered_data(tmp_path: Path, change: dict[str, object]) -> Path:
    """A data folder like the repository's (its data sets linked, not copied) whose pack has some expected values
    replaced: {requirement id: new expected value}."""
    data = tmp_path / "data"
    data.mkdir()
    for entry in DATA.iterdir():
        if entry.name != "validation":
            (data / entry.name).symlink_to(entry)
    pack = yaml.safe_load((DATA / "validation" / "pack.yaml").read_text(encoding="utf-8"))
    for requirement in pack["requirements"]:
        if requirement["id"] in change:
            requirement["expected"] = change[requirement["id"]]
    (data / "validation").mkdir()
    (data / "validation" / "pack.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    return data


@pytest.mark.slow
def test_the_pack_passes_and_is_recorded_for_the_sfr1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "validate", "--out", str(tmp_path / "report"))
    assert code == Exit.OK, err
    assert "method validation passed: 11 requirements" in out
    report = json.loads((tmp_path / "report" / "validation.json").read_text())
    assert report["passed"] is True and report["failed"] == []
    assert {o["id"] for o in report["outcomes"]} >= {"R-FS-01", "R-PDQ-01", "R-CARVE-01", "R-CACHE-01"}
    assert all(o["observed"] == o["expected"] for o in report["outcomes"])
    assert (tmp_path / "report" / "validation.pdf").read_bytes().startswith(b"%PDF")
    summary = last_validation()
    assert summary is not None and summary.passed and summary.requirements == 11 and summary.failed == ()
    assert len(summary.build_digest) == 64


def test_an_altered_expected_value_fails_naming_the_requirement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pack = yaml.safe_load((DATA / "validation" / "pack.yaml").read_text(encoding="utf-8"))
    [fs01] = [r for r in pack["requirements"] if r["id"] == "R-FS-03"]
    wrong = dict(fs01["expected"])
    first = next(iter(wrong))
    wrong[first] = "0" * 32  # one published MD5 changed
    data = altered_data(tmp_path, {"R-FS-03": wrong, "R-VOL-01": [[63, 52353, "FAT"]]})
    code, out, err = run(capsys, "validate", "--data", str(data), "--out", str(tmp_path / "report"))
    assert code == Exit.VERIFY_FAILED
    assert "method validation failed: R-VOL-01, R-FS-03" in err
    assert "FAIL R-FS-03" in out and "pass R-FS-01" in out
    report = json.loads((tmp_path / "report" / "validation.json").read_text())
    assert report["failed"] == ["R-VOL-01", "R-FS-03"]
    [outcome] = [o for o in report["outcomes"] if o["id"] == "R-FS-03"]
    assert outcome["observed"][first] == fs01["expected"][first] != outcome["expected"][first]
    summary = last_validation()
    assert summary is not None and not summary.passed and summary.failed == ("R-VOL-01", "R-FS-03")


def test_a_broken_check_fails_its_requirement_and_the_run_finishes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def off_by_one(data: Path, req: checks.Requirement, scratch: Path) -> object:
        return [[v[0] + 1, *v[1:]] for v in checks.volumes(data, req, scratch)]

    def crashes(data: Path, req: checks.Requirement, scratch: Path) -> object:
        raise ValueError("reader gave up")

    monkeypatch.setitem(checks.CHECKS, "volumes", off_by_one)
    monkeypatch.setitem(checks.CHECKS, "hashset-records", crashes)
    data = altered_data(tmp_path, {})
    keep = ("R-VOL-01", "R-HASHSET-01", "R-HASHSET-02")
    pack_file = data / "validation" / "pack.yaml"
    pack = yaml.safe_load(pack_file.read_text(encoding="utf-8"))
    pack["requirements"] = [r for r in pack["requirements"] if r["id"] in keep]
    pack_file.write_text(yaml.safe_dump(pack), encoding="utf-8")
    code, out, err = run(capsys, "validate", "--data", str(data), "--out", str(tmp_path / "report"))
    assert code == Exit.VERIFY_FAILED
    assert "method validation failed: R-VOL-01, R-HASHSET-01, R-HASHSET-02" in err
    assert "the check could not run: reader gave up" in out
    assert "Traceback" not in out + err


def test_a_missing_or_malformed_pack_is_one_sentence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", "--data", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == Exit.USAGE and "no validation pack at" in err and "--data" in err
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "pack.yaml").write_text("requirements: [{id: R-1}]\n")
    code, _, err = run(capsys, "validate", "--data", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == Exit.USAGE and "requirement 1" in err and "Traceback" not in err
    assert last_validation() is None
