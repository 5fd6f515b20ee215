"""Encrypted volumes (LUKS1 built here) and snapshot layers: unlock, wrong credential, reopen elsewhere."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import pytest

from safenet.cli import Exit, main
from safenet.evidence.image import CredentialError, ImageEvidence
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Credential, CredentialKind, EvidenceWarning, Item, OpenContext
from tests.datafiles import DATA
from tests.evidence.image_builders import HAVE_LUKS, luks_image, photos

DFVFS = DATA / "disk" / "dfvfs"
PASSWORD = "correct horse"
FILES = photos(2)
needs_luks = pytest.mark.skipif(not HAVE_LUKS, reason="cryptsetup/openssl/dosfstools missing (make sysdeps-test)")


def with_password(password: str) -> OpenContext:
    return OpenContext((Credential(CredentialKind.PASSWORD, password),))


def listing(
    source: Path, context: OpenContext | None = None
) -> tuple[ImageEvidence, list[Item], list[EvidenceWarning]]:
    evidence = ImageEvidence(source, context)
    warnings: list[EvidenceWarning] = []
    return evidence, list(evidence.items(warnings.append)), warnings


def reopen_md5(source: str, locator_json: str, password: str | None) -> str:
    """Runs in a fresh (spawned) process: nothing but the locator and the credential cross over."""
    evidence = ImageEvidence(Path(source), with_password(password) if password else None)
    with evidence.open(Locator.from_json(locator_json)) as stream:
        return hashlib.md5(stream.read()).hexdigest()


def in_fresh_process(source: Path, item: Item, password: str | None = None) -> str:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return str(pool.apply(reopen_md5, (str(source), item.locator.to_json(), password)))


@pytest.fixture(scope="module")
def luks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_LUKS:
        pytest.skip("cryptsetup/openssl/dosfstools missing (make sysdeps-test)")
    return luks_image(tmp_path_factory.mktemp("luks"), FILES, PASSWORD)


@needs_luks
def test_luks_without_credential_is_named_and_not_examined(luks: Path) -> None:
    _, items, warnings = listing(luks)
    assert items == []
    [warning] = warnings
    assert warning.code == "encrypted-volume" and "LUKS volume: locked, no credential given" in warning.message
    assert warning.locator is not None and warning.locator.leaf.detail == "luks"


@needs_luks
def test_luks_unlocked_read_only_and_reopened_in_a_fresh_process(luks: Path) -> None:
    before = hashlib.sha256(luks.read_bytes()).hexdigest()
    evidence, items, warnings = listing(luks, with_password(PASSWORD))
    assert warnings == []
    by_name = {i.name: i for i in items}
    assert set(by_name) == {"IMG_0000.JPG", "IMG_0001.JPG"}
    item = by_name["IMG_0001.JPG"]
    assert [la.kind for la in item.locator.layers][1:4] == [LayerKind.IMAGE, LayerKind.ENCRYPTION, LayerKind.FILESYSTEM]
    expected = hashlib.md5(FILES["DCIM/IMG_0001.JPG"]).hexdigest()
    assert in_fresh_process(luks, item, PASSWORD) == expected
    details = evidence.describe().details
    assert details["unlocked"] == "LUKS › FAT (password)" and PASSWORD not in repr(details)
    assert PASSWORD not in item.locator.to_json()  # credentials never travel in a locator
    assert hashlib.sha256(luks.read_bytes()).hexdigest() == before  # unlocking wrote nothing


@needs_luks
def test_a_password_given_once_does_not_unlock_a_later_run(luks: Path) -> None:
    listing(luks, with_password(PASSWORD))
    _, items, warnings = listing(luks)  # same process, no credential: locked again
    assert items == [] and [w.code for w in warnings] == ["encrypted-volume"]
    with pytest.raises(CredentialError):
        ImageEvidence(luks, with_password("wrong"))


@needs_luks
def test_wrong_password_is_one_sentence_and_exit_code_3(
    luks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CredentialError, match=r"^none of the credentials given unlocks the LUKS volume in luks\.img"):
        ImageEvidence(luks, with_password("wrong"))
    for args in (
        ["inspect", str(luks), "--password", "wrong"],
        ["triage", str(luks), "--case", str(tmp_path / "case"), "--exhibit", "EX1", "--password", "wrong"],
    ):
        code = main(args)
        err = capsys.readouterr().err
        assert code == Exit.EVIDENCE, args
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "check the credential and try again" in lines[0] and "Traceback" not in err
        assert "wrong" not in lines[0].replace("--password", "")  # the value is never echoed


def test_vss_store_item_reopens_in_a_fresh_process() -> None:
    evidence, items, _ = listing(DFVFS / "vsstest.qcow2")
    snapshot = [i for i in items if any(la.detail == "vss" for la in i.locator.layers)]
    assert snapshot
    item = max(snapshot, key=lambda i: i.size or 0)
    with evidence.open(item.locator) as stream:
        here = hashlib.md5(stream.read()).hexdigest()
    assert in_fresh_process(DFVFS / "vsstest.qcow2", item) == here


@needs_luks
def test_luks_key_file_unlocks_and_credentials_of_other_kinds_are_skipped(luks: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "passphrase.key"  # cryptsetup --key-file: the passphrase, kept in a file
    key_file.write_text(PASSWORD)
    _, items, _ = listing(luks, OpenContext((Credential(CredentialKind.KEY_FILE, str(key_file)),)))
    assert len(items) == 2
    both = OpenContext(
        (Credential(CredentialKind.RECOVERY_PASSWORD, "111111-222222"), Credential(CredentialKind.PASSWORD, PASSWORD))
    )
    evidence, items, _ = listing(luks, both)  # a BitLocker recovery password means nothing to LUKS
    assert len(items) == 2 and evidence.describe().details["unlocked"] == "LUKS › FAT (password)"
    binary = tmp_path / "random.key"
    binary.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(CredentialError):
        ImageEvidence(luks, OpenContext((Credential(CredentialKind.KEY_FILE, str(binary)),)))
