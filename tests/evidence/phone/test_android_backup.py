"""Android backups (.ab): the builder proven by an independent decode, then Safenet's reader end to end."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from sqlalchemy import select

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Credential, CredentialKind, EvidenceError, EvidenceWarning, Item, OpenContext
from safenet.evidence.phone.android_backup import AndroidBackupEvidence, java_chars_utf8
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.registry import open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png
from tests.evidence.phone.ab_builder import build_ab, java_chars, tar_of

PASSWORD = "correct horse"
HIGH_KEY = bytes(range(0x70, 0x90))  # half the bytes >= 0x80: where the two checksum forms differ


def members() -> list[tuple[str, bytes]]:
    return [
        ("apps/com.example.gallery/_manifest", b"1\n1\ncom.example.gallery\n"),
        ("apps/com.example.gallery/f/pic0.jpg", jpeg(1)),
        ("apps/com.whatsapp/f/Media/img.png", png(2)),
        ("shared/0/DCIM/Camera/IMG_0001.jpg", jpeg(3)),
        ("shared/0/Pictures/big.jpg", jpeg(4, (320, 240))),
    ]


def with_password(value: str) -> OpenContext:
    return OpenContext((Credential(CredentialKind.PASSWORD, value),))


def _lines(data: bytes, count: int) -> tuple[list[str], bytes]:
    rest = data
    out = []
    for _ in range(count):
        line, _, rest = rest.partition(b"\n")
        out.append(line.decode())
    return out, rest


def _untar(raw: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}  # type: ignore[union-attr]


def _cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    return plain[: -plain[-1]]


def independent_decode(data: bytes, password: str | None) -> dict[str, bytes]:
    """Decode an .ab following AOSP's restore code, with ``cryptography`` and none of Safenet's reader."""
    (magic, version, compressed, encryption), rest = _lines(data, 4)
    assert magic == "ANDROID BACKUP"
    if encryption == "AES-256":
        assert password is not None
        (user_salt, ck_salt, rounds, user_iv, blob), rest = _lines(rest, 5)

        def kdf(secret: bytes, salt: str) -> bytes:
            return PBKDF2HMAC(hashes.SHA1(), 32, bytes.fromhex(salt), int(rounds)).derive(secret)

        plain = _cbc_decrypt(kdf(password.encode(), user_salt), bytes.fromhex(user_iv), bytes.fromhex(blob))
        iv = plain[1 : 1 + plain[0]]
        at = 1 + plain[0]
        key = plain[at + 1 : at + 1 + plain[at]]
        at += 1 + plain[at]
        checksum = plain[at + 1 : at + 1 + plain[at]]
        assert kdf(java_chars(key, int(version)), ck_salt) == checksum
        rest = _cbc_decrypt(key, iv, rest)
    if compressed == "1":
        rest = zlib.decompress(rest)
    return _untar(rest)


def write_ab(tmp_path: Path, name: str = "backup.ab", **kw: object) -> Path:
    path = tmp_path / name
    path.write_bytes(build_ab(members(), **kw).data)  # type: ignore[arg-type]
    return path


def listing(evidence: AndroidBackupEvidence) -> tuple[list[Item], list[EvidenceWarning]]:
    warnings: list[EvidenceWarning] = []
    return list(evidence.items(warnings.append)), warnings


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("password", [None, PASSWORD])
def test_builder_proven_then_read_by_safenet(
    tmp_path: Path, version: int, compressed: bool, password: str | None
) -> None:
    built = build_ab(members(), version=version, compressed=compressed, password=password, master_key=HIGH_KEY)
    assert independent_decode(built.data, password) == dict(members())
    path = tmp_path / "b.ab"
    path.write_bytes(built.data)
    evidence = open_source(path, with_password(password) if password else None)
    assert isinstance(evidence, AndroidBackupEvidence)
    items, warnings = listing(evidence)
    assert warnings == []
    assert [i.locator.leaf.value for i in items] == [name for name, _ in members()]
    for item, (name, data) in zip(items, members(), strict=True):
        kinds = [layer.kind for layer in item.locator.layers]
        assert kinds == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH]
        assert item.locator.layers[0].value == str(path.resolve())
        assert item.locator.layers[1].value == "Android backup"
        assert item.locator.layers[1].detail == Acquisition.ANDROID_BACKUP.value
        assert item.size == len(data) and item.name == name.rsplit("/", 1)[1]
        with evidence.open(Locator.from_json(item.locator.to_json())) as stream:
            assert stream.read() == data
    phone = from_details(evidence.describe().details)
    assert phone is not None and phone[0].platform == "android" and phone[1].method is Acquisition.ANDROID_BACKUP
    assert evidence.describe().details["ab.version"] == str(version)


def test_checksum_quirk_differs_from_plain_bytes_for_high_bytes() -> None:
    assert java_chars_utf8(b"\x41\x80\xff") == "A\uff80\uffff".encode()
    assert java_chars_utf8(HIGH_KEY) != HIGH_KEY and java_chars_utf8(b"ascii") == b"ascii"


def test_items_open_in_any_order_and_owner_app_is_noted(tmp_path: Path) -> None:
    evidence = AndroidBackupEvidence(write_ab(tmp_path, password=PASSWORD), with_password(PASSWORD))
    items, _ = listing(evidence)
    expected = dict(members())
    for item in [*reversed(items), items[2], items[0], items[4]]:
        with evidence.open(item.locator) as stream:
            assert stream.read() == expected[item.locator.leaf.value]
    first, second = evidence.open(items[1].locator), evidence.open(items[1].locator)  # a reopen while open
    assert first.read() == second.read() == expected[items[1].locator.leaf.value]
    first.close()
    second.close()
    assert items[2].note == "owner app com.whatsapp" and items[3].note is None
    assert str(items[3].locator).endswith("Android backup [android-backup] › shared/0/DCIM/Camera/IMG_0001.jpg")


@pytest.mark.parametrize("version", [1, 5])
def test_wrong_and_missing_password_are_one_sentence(tmp_path: Path, version: int) -> None:
    path = write_ab(tmp_path, password=PASSWORD, version=version, master_key=HIGH_KEY)
    with pytest.raises(EvidenceError, match=r"^the password given does not open the encrypted Android backup"):
        open_source(path, with_password("wrong"))
    with pytest.raises(EvidenceError, match=r"^the Android backup backup\.ab is encrypted: give its password"):
        open_source(path)


def test_wrong_password_on_the_command_line_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_ab(tmp_path, password=PASSWORD)
    for extra in (["--password", "wrong"], []):
        code = main(["triage", str(path), "--case", str(tmp_path / "case"), "--exhibit", "EX1", *extra])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == Exit.EVIDENCE and len(lines) == 1 and "Traceback" not in err, err
        assert "Android backup" in lines[0] and "wrong" not in lines[0]


def test_triage_end_to_end_matches_a_hash_set(tmp_path: Path) -> None:
    path = write_ab(tmp_path, password=PASSWORD)
    known = VicsSet()
    known.add(jpeg(3), 1)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit="PH1", profile=Profile.FULL, hashsets=("caid-test",), operator="t", context=with_password(PASSWORD)
    )
    outcome = triage(path, case, store, options)
    assert outcome.hits == 1
    with case.sessions() as s:
        rows = {Locator.from_json(r.locator).leaf.value: r for r in s.scalars(select(ItemRow))}
        warnings = [(w.code, w.message) for w in s.scalars(select(WarningRow))]
    assert warnings == []
    for name, data in members():
        assert rows[name].md5 == hashlib.md5(data).hexdigest()
        assert rows[name].sha256 == hashlib.sha256(data).hexdigest()
    assert rows["apps/com.whatsapp/f/Media/img.png"].note == "owner app com.whatsapp"


def _cut_points(built_len: int, header_end: int, checked_end: bool) -> list[int]:
    """Cuts inside the body; the last two fall in the tar's zero padding, which only a checked end (zlib's,
    the cipher's padding) shows as cut."""
    body = built_len - header_end
    within = [header_end + 1, header_end + 700, header_end + body // 3, header_end + body // 2]
    return [*within, built_len - 20, built_len - 1] if checked_end else within


@pytest.mark.parametrize(("compressed", "password"), [(False, None), (True, None), (False, PASSWORD), (True, PASSWORD)])
def test_truncated_backups_keep_what_was_found_and_warn(tmp_path: Path, compressed: bool, password: str | None) -> None:
    built = build_ab(members(), compressed=compressed, password=password)
    expected = dict(members())
    for cut in _cut_points(len(built.data), built.header_end, compressed or password is not None):
        path = tmp_path / f"cut{cut}.ab"
        path.write_bytes(built.data[:cut])
        evidence = AndroidBackupEvidence(path, with_password(password) if password else None)
        items, warnings = listing(evidence)
        assert [w.code for w in warnings] == ["android-backup-damaged"], cut
        assert warnings[0].locator == evidence.locator
        assert [i.locator.leaf.value for i in items] == [n for n, _ in members()][: len(items)]
        for item in items:  # each is read whole, or fails as an EvidenceError the engine records
            try:
                with evidence.open(item.locator) as stream:
                    assert stream.read() == expected[item.locator.leaf.value]
            except EvidenceError:
                pass


def test_sizes_past_the_end_and_a_missing_end_marker(tmp_path: Path) -> None:
    cut = tar_of(members()).rstrip(b"\0")[:-100]  # the last file's data stops short of its header's size
    path = tmp_path / "short.ab"
    path.write_bytes(build_ab([], compressed=False, tar=cut).data)
    evidence = AndroidBackupEvidence(path)
    items, warnings = listing(evidence)
    assert len(items) == len(members()) and [w.code for w in warnings] == ["android-backup-damaged"]
    with pytest.raises(EvidenceError, match="cannot be read whole"), evidence.open(items[-1].locator) as stream:
        stream.read()
    path.write_bytes(build_ab([], compressed=True, tar=tar_of(members(), end_marker=False)).data)
    items, warnings = listing(AndroidBackupEvidence(path))
    assert len(items) == len(members()) and [w.code for w in warnings] == ["android-backup-damaged"]


def test_truncated_backup_triage_records_a_warning_and_goes_on(tmp_path: Path) -> None:
    built = build_ab(members(), compressed=True)
    path = tmp_path / "cut.ab"
    path.write_bytes(built.data[: len(built.data) * 2 // 3])
    case = Case.create_or_open(tmp_path / "case")
    outcome = triage(path, case, None, TriageOptions(exhibit="PH1", operator="t"))
    with case.sessions() as s:
        codes = [w.code for w in s.scalars(select(WarningRow))]
    assert "android-backup-damaged" in codes and outcome.items_recorded >= 1


def test_hostile_names_are_warned_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "hostile.ab"
    path.write_bytes(build_ab([("apps/x/../../etc/evil.jpg", jpeg(9)), ("ok.jpg", jpeg(8))], compressed=False).data)
    items, warnings = listing(AndroidBackupEvidence(path))
    assert [i.name for i in items] == ["evil.jpg", "ok.jpg"]
    assert [w.code for w in warnings] == ["suspicious-member-name"] and warnings[0].locator == items[0].locator


def test_other_files_are_not_mine_and_bad_headers_are_one_sentence(tmp_path: Path) -> None:
    other = tmp_path / "photo.jpg"
    other.write_bytes(jpeg(1))
    assert open_source(other).NAME == "file"
    assert open_source(tmp_path).NAME != "android-backup"
    for header, message in (
        (b"ANDROID BACKUP\n9\n1\nnone\n", "version '9' is not supported"),
        (b"ANDROID BACKUP\n5\n2\nnone\n", "compression flag '2'"),
        (b"ANDROID BACKUP\n5\n1\nROT13\n", "encryption 'ROT13' is not supported"),
        (b"ANDROID BACKUP\n5\n1\nAES-256\nzz\n", "salt is not hexadecimal"),
        (b"ANDROID BACKUP\n5", "cut off or damaged at its version line"),
        (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n99999999999\n", "round count"),
    ):
        path = tmp_path / "bad.ab"
        path.write_bytes(header)
        with pytest.raises(EvidenceError, match=message):
            open_source(path, with_password(PASSWORD))
