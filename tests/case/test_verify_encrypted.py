"""``safenet verify`` re-hashes findings from the evidence; an encrypted source (here an encrypted Android
backup) can only be reopened with its password, which is never recorded, so verify takes it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.cli import Exit, main
from tests.builders import VicsSet, jpeg
from tests.evidence.phone.ab_builder import build_ab


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_reopens_an_encrypted_backup_with_the_password_given_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = jpeg(77)
    backup = tmp_path / "phone.ab"
    backup.write_bytes(build_ab([("shared/0/DCIM/Camera/IMG_1.jpg", picture)], password="tr0ub4dor&3").data)
    known = VicsSet()
    known.add(picture, 1)
    sets = known.write(tmp_path / "set.json")
    assert run(capsys, "hashset", "import", str(sets), "--name", "known")[0] == Exit.OK
    case = tmp_path / "case"
    code, out, err = run(
        capsys, "triage", str(backup), "--case", str(case), "--exhibit", "EX1", "--hashset", "known",
        "--password", "tr0ub4dor&3",
    )  # fmt: skip
    assert code == Exit.OK, err
    code, out, err = run(capsys, "verify", str(case))
    assert code == Exit.VERIFY_FAILED
    assert "evidence not available for re-hashing" in out and "--password" in out
    code, out, err = run(capsys, "verify", str(case), "--password", "tr0ub4dor&3")
    assert code == Exit.OK, out + err
    assert "findings re-hashed" in out
    assert "tr0ub4dor" not in (case / "audit.jsonl").read_text()  # never recorded


def test_the_review_server_reopens_an_encrypted_backup_with_the_password_it_was_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.case.store import Case
    from safenet.evidence.model import Credential, CredentialKind, OpenContext
    from safenet.web.settings import WebSettings
    from safenet.web.thumbs import CannotDisplay, Thumbnailer

    picture = jpeg(78)
    backup = tmp_path / "phone.ab"
    backup.write_bytes(build_ab([("shared/0/DCIM/Camera/IMG_2.jpg", picture)], password="s3cret-phone").data)
    case_dir = tmp_path / "case"
    code, _, err = run(
        capsys, "triage", str(backup), "--case", str(case_dir), "--exhibit", "EX1", "--password", "s3cret-phone"
    )
    assert code == Exit.OK, err
    case = Case.open_existing(case_dir)
    [item_id] = [row for (row,) in case.engine.connect().exec_driver_sql("SELECT id FROM items").fetchall()]
    with pytest.raises(CannotDisplay, match="evidence not available"):
        Thumbnailer(case, WebSettings()).read_head(item_id, 16)
    unlocked = OpenContext(credentials=(Credential(CredentialKind.PASSWORD, "s3cret-phone"),))
    assert Thumbnailer(case, WebSettings(evidence_context=unlocked)).read_head(item_id, 16) == picture[:16]


def test_reports_compare_an_encrypted_backup_s_pictures_with_the_phone_given_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SFR1 and the restricted output read pictures' EXIF again (production indicators); an encrypted
    backup's pictures can be read only with its password, given to `report` as to `triage`, never recorded."""
    from tests.evidence.phone.ios_builder import BackupFile, build_backup
    from tests.report.test_restricted import exif_jpeg

    own = exif_jpeg(30, "Apple", "iPhone 11")
    build_backup(
        tmp_path / "backup",
        [BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", own)],
        password="b4ckup-pass",
    )
    case = tmp_path / "case"
    code, _, err = run(
        capsys, "triage", str(tmp_path / "backup"), "--case", str(case), "--exhibit", "PH1", "--password", "b4ckup-pass"
    )
    assert code == Exit.OK, err
    locked, unlocked = tmp_path / "locked.pdf", tmp_path / "unlocked.pdf"
    assert run(capsys, "report", str(case), "--format", "restricted", "--output", str(locked))[0] == Exit.OK
    assert "IMG_0001.JPG" not in locked.with_suffix(".html").read_text()  # not compared: it could not be read
    code, _, err = run(
        capsys, "report", str(case), "--format", "restricted", "--output", str(unlocked), "--password", "b4ckup-pass"
    )
    assert code == Exit.OK, err
    assert "IMG_0001.JPG" in unlocked.with_suffix(".html").read_text()  # its EXIF camera is the seized phone
    assert "b4ckup-pass" not in (case / "audit.jsonl").read_text()
