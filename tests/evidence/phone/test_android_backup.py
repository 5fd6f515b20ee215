"""Android backups (.ab): the builder proven by an independent decode, then Safenet's reader end to end."""

from __future__ import annotations

import hashlib
import io
import random
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
from safenet.engine.ordering import order
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Credential, CredentialKind, EvidenceError, OpenContext
from safenet.evidence.phone.android_backup import AndroidBackupEvidence, java_chars_utf8
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.phone.tarstream import Body, TarStream
from safenet.evidence.registry import open_locator, open_source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, png, zip_bytes
from tests.evidence.phone.ab_builder import build_ab, java_chars, tar_of
from tests.evidence.phone.support import listing, one_sentence, read_every

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
        line = one_sentence(capsys)
        assert code == Exit.EVIDENCE
        assert "Android backup" in line and "wrong" not in line


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
        (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10\n0011\n" + b"00" * 48 + b"\n", "impossible length"),
    ):
        path = tmp_path / "bad.ab"
        path.write_bytes(header)
        with pytest.raises(EvidenceError, match=message):
            open_source(path, with_password(PASSWORD))


# Master keys of backups made by real devices (Android 6.0: versions 3; Android 8.0: 5; Android 4.4.4: 2), as
# John the Ripper's Android backup format lists them: $ab$version*cipher*rounds*user salt*checksum salt*IV*blob,
# with the password. Their master keys hold bytes >= 0x80, so only the exact checksum quirk opens them.
REAL_DEVICES = [
    (
        "$ab$3*0*10000*2a7c948fd7124307bca8d7ac921a9f019f32b0f74f484cfe9266f3ee0da064fc8a57b1c9e2edf66b842544"
        "8d064ef121a453c8941a024dbdfc7481bfbc47437e*3bbd3f57551336c7db480cbdc3dc5ce3da4e185a586a3fd45b816007c"
        "2c41889149fbf0e292f88b1207d070d10e577c021dabd0ed8ba8ea6849b0d311942eb37*469920775ce354235ad625001847"
        "54d7*749ae8a777d30ea4913084a8266f9f740dfc0a78d545aafb0a39051519a610db5f3d5f68cdaff7f04a74645e8a7b0c5"
        "c965d978f4a2fa0650854ab120bb9f683b494a6dcb84d3b74960a6a413fe83648f118e152bad23ab1be294912e357b3b9",
        "openwall",
    ),
    (
        "$ab$3*0*10000*6a2b625432affe69b7bec924c643462c1bb47f8270ea32c3f4fe371f7646b51fa5bd3b13592143bd1a03f6"
        "7bb73f17c0edbaa68f9de8d88190dbf2bc1a51e121*4b8a71cb21ab4510ddf0fbcfa049c4f046baa492b51efbc7d12499c6d"
        "2d794443c8d1f19dee8bef088dd7e1951d1215207594f828e53dd5734a9c1be1c0b350c*161cc825bb9c3025b8f81b9a1dcc"
        "d1d9*9424dfd7d445e3be505a8905565ed3c4359492b0f8b079a8d4ba57d72a9489c0be6e87f51d20c6544152fded3de91bd"
        "c5a74966a54d6261190f6379bc8d0a39b2eb6ebeb1768478fdbdf241cc15137111caa00efe8e07ba2c5efcac71f91c101",
        "åbc",
    ),
    (
        "$ab$5*0*10000*ff4b9c083784b63e1724700f18fad0fac41e9a82fb4fad6b2a2efc35d77359af0e7604f83b011660724159"
        "469f2ea5206bd3dce0f7b7fe4b9be1d2bfdb5d4c72*a5ee2fb150351a4882630f71111c4619b31391069241665c81efbcd9d"
        "6696018cdbcfb412bfcc24d7e31a7fca2055892b4e64d263a5f47073177c35257b99b41*0b6b9f4463420eb0dbfeb37a90cd"
        "c362*238058ca186ffc15b1f8c16d8057cb8ebca600b2971f264a31964a786ebb8af47f9e15244c3aca5403db4481c2f268d"
        "36062b929eff12abb87b87a6f4da4de8ef76345777f99c806277123a1d9d3442a4ec7ed9669d5e237425f67454428555c",
        "hello",
    ),
    (
        "$ab$2*0*10000*4acaf4f77074d002b3bcf012def362f9bea95c74b7fbf5447f2f285c4652012152ef0fef4610fa8ed94cd4"
        "cb37fa0b4a8b010d40f5ebedff3f76c01a826b10ff*df94321d7554eb9c502b810367933d14f6b9102986e985764bcaffc5b"
        "1228c2b610db8315e12bdc852e012d99f0cdc94880ef24a5bdfd0c281b68db25e8b517d*374ef92b1ebddf250420946a6417"
        "3c0e*fd23ea1d32d23456891a1d101e130d2c7384813c82cfa53928042adc8bf681f70c7e5d8eafe100798dbad34b87470aa"
        "d54ad4b9d937ae5c5c873adcffcdede502986013ad08914723a21467ff45a7de14b37c808b93ccd9143d2a042055958fe",
        "old",
    ),
]


@pytest.mark.parametrize(("vector", "password"), REAL_DEVICES)
def test_master_keys_of_real_device_backups(tmp_path: Path, vector: str, password: str) -> None:
    version, _cipher, rounds, user_salt, ck_salt, iv, blob = vector.removeprefix("$ab$").split("*")
    path = tmp_path / "real.ab"
    path.write_text(f"ANDROID BACKUP\n{version}\n1\nAES-256\n{user_salt}\n{ck_salt}\n{rounds}\n{iv}\n{blob}\n")
    evidence = AndroidBackupEvidence(path, with_password(password))  # the body is not needed to unlock
    assert evidence.describe().details["acquisition.note"].startswith("encrypted (AES-256)")
    with pytest.raises(EvidenceError, match="does not open"):
        AndroidBackupEvidence(path, with_password(password + "x"))


@pytest.mark.parametrize(("compressed", "password"), [(False, None), (True, None), (True, PASSWORD)])
def test_seeded_random_damage_to_the_body_never_raises(tmp_path: Path, compressed: bool, password: str | None) -> None:
    rng = random.Random(14)
    built = build_ab(members(), compressed=compressed, password=password)
    for n in range(25):
        damaged = bytearray(built.data)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(built.header_end, len(damaged))] = rng.randrange(256)
        path = tmp_path / f"d{n}.ab"
        path.write_bytes(bytes(damaged))
        evidence = AndroidBackupEvidence(path, with_password(password) if password else None)
        items, warnings = listing(evidence)
        assert all(w.code in ("android-backup-damaged", "suspicious-member-name") for w in warnings)
        read_every(evidence, items)


def test_files_opened_in_engine_order_cost_no_rereading(tmp_path: Path) -> None:
    """Reopening reads forwards from a kept reader: in the engine's order (folder groups, then tar offset) the
    body is decoded a few times in all, not once per file."""
    many = [(f"{'shared/0/DCIM/Camera' if i % 3 else 'apps/com.x/f'}/p{i:03}.jpg", jpeg(i % 5)) for i in range(120)]
    path = tmp_path / "many.ab"
    path.write_bytes(build_ab(many, password=PASSWORD).data)
    evidence = AndroidBackupEvidence(path, with_password(PASSWORD))
    items, _ = listing(evidence)
    starts = 0
    body = evidence._body

    def counted() -> Body:
        nonlocal starts
        starts += 1
        return body()

    evidence._tar = TarStream(counted)
    expected = dict(many)
    for item in order(items):
        with evidence.open(item.locator) as stream:
            assert stream.read() == expected[item.locator.leaf.value]
    assert starts <= 2  # one pass per folder group


def test_an_archive_in_a_backup_is_expanded_and_its_members_reopen(tmp_path: Path) -> None:
    inner = jpeg(21)
    path = tmp_path / "nested.ab"
    path.write_bytes(
        build_ab([("shared/0/Download/pics.zip", zip_bytes({"a/inner.jpg": inner}))], password=PASSWORD).data
    )
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="PH1", profile=Profile.STANDARD, operator="t", context=with_password(PASSWORD))
    triage(path, case, None, options)
    with case.sessions() as s:
        row = next(r for r in s.scalars(select(ItemRow)) if r.name == "inner.jpg")
    locator = Locator.from_json(row.locator)
    kinds = [layer.kind for layer in locator.layers]
    assert kinds == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH, LayerKind.ARCHIVE_MEMBER]
    assert row.md5 == hashlib.md5(inner).hexdigest()
    evidence = open_source(path, with_password(PASSWORD))
    with open_locator(evidence, locator) as stream:
        assert stream.read() == inner
