"""Full-file-system extractions (zip, tar, tar.gz) recognised as phones from their directory alone."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import plistlib
import random
import tarfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import TimeSource
from safenet.evidence.phone.ffs import FfsEvidence
from safenet.evidence.phone.identity import Acquisition, from_details
from safenet.evidence.registry import open_source
from tests.builders import jpeg, png
from tests.evidence.phone.support import listing, read_every

IOS = {
    "extraction/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG": jpeg(1),
    "extraction/private/var/mobile/Media/PhotoData/Thumbnails/t.jpg": jpeg(2),
    "extraction/private/var/root/Library/Lockdown/data_ark.plist": plistlib.dumps({"-DeviceName": "Bob's iPhone"}),
    "extraction/System/Library/CoreServices/SystemVersion.plist": plistlib.dumps(
        {"ProductVersion": "16.5", "ProductName": "iPhone OS"}, fmt=plistlib.FMT_BINARY
    ),
    "readme.txt": b"made by a tool",
}
BUILD_PROP = b"# build\nro.product.model=Pixel 7\nro.product.manufacturer=Google\nro.serialno=2A1B3C\n"
ANDROID = {
    "system/build.prop": BUILD_PROP,
    "data/media/0/DCIM/Camera/PXL_1.jpg": jpeg(3),
    "data/media/0/Pictures/Screenshots/s.png": png(4),
    "data/data/com.example/files/x.jpg": jpeg(5),
}


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_of(members: dict[str, bytes], gz: bool, compress: Callable[[bytes], bytes] = gzip.compress) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return compress(buf.getvalue()) if gz else buf.getvalue()


def test_ios_zip_is_a_phone_with_device_paths(tmp_path: Path) -> None:
    path = tmp_path / "graykey.zip"
    path.write_bytes(zip_of(IOS))
    evidence = open_source(path)
    assert isinstance(evidence, FfsEvidence)
    description = evidence.describe()
    phone = from_details(description.details)
    assert phone is not None and phone[0].platform == "ios" and phone[1].method is Acquisition.FFS_EXTRACTION
    assert (phone[0].name, phone[0].os_version) == ("Bob's iPhone", "16.5")
    assert "inferred from the layout" in description.details["ffs.layout"]
    assert description.details["ffs.root"] == "extraction/"
    items, warnings = listing(evidence)
    assert warnings == []
    values = {i.locator.leaf.value: i for i in items}
    assert set(values) == {
        "/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG",
        "/private/var/mobile/Media/PhotoData/Thumbnails/t.jpg",
        "/private/var/root/Library/Lockdown/data_ark.plist",
        "/System/Library/CoreServices/SystemVersion.plist",
        "readme.txt",  # outside the extraction's folder: kept by its stored name
    }
    assert values["readme.txt"].locator.leaf.detail == "member"
    for item in items:
        kinds = [la.kind for la in item.locator.layers]
        assert kinds == [LayerKind.SOURCE, LayerKind.DEVICE, LayerKind.PATH]
        assert item.locator.layers[1].detail == "ffs-extraction"
        name = item.locator.leaf.value
        stored = name if item.locator.leaf.detail == "member" else "extraction" + name
        with evidence.open(Locator.from_json(item.locator.to_json())) as stream:
            assert stream.read() == IOS[stored]


@pytest.mark.parametrize(
    ("suffix", "compress"), [("", None), (".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)]
)
def test_android_tar_with_identity_from_build_prop(
    tmp_path: Path, suffix: str, compress: Callable[[bytes], bytes] | None
) -> None:
    path = tmp_path / f"ffs.tar{suffix}"
    path.write_bytes(tar_of(ANDROID, compress is not None, compress or gzip.compress))
    evidence = open_source(path)
    assert isinstance(evidence, FfsEvidence)
    phone = from_details(evidence.describe().details)
    assert phone is not None
    identity = phone[0]
    assert (identity.platform, identity.model, identity.manufacturer, identity.serial) == (
        "android",
        "Pixel 7",
        "Google",
        "2A1B3C",
    )
    items, warnings = listing(evidence)
    assert warnings == [] and len(items) == 4
    assert items[1].locator.leaf.value == "/data/media/0/DCIM/Camera/PXL_1.jpg"
    assert str(items[1].locator).endswith(
        "Google Pixel 7 2A1B3C [ffs-extraction] › /data/media/0/DCIM/Camera/PXL_1.jpg"
    )
    modified = items[1].modified  # the header's time is the phone's own file time, not an archive's
    assert modified is not None and modified.source is TimeSource.FS_METADATA
    assert modified.value == datetime.fromtimestamp(1_700_000_000, UTC)
    for item in [*reversed(items), items[0]]:
        with evidence.open(item.locator) as stream:
            assert stream.read() == ANDROID[item.locator.leaf.value.lstrip("/")]


def test_archives_without_a_phone_layout_stay_plain_files(tmp_path: Path) -> None:
    for name, data in (
        ("plain.zip", zip_of({"holiday/a.jpg": jpeg(1)})),
        ("plain.tar.gz", tar_of({"holiday/a.jpg": jpeg(1)}, gz=True)),
        ("photo.jpg.gz", gzip.compress(jpeg(1))),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert open_source(path).NAME == "file", name


def test_truncated_tar_gz_keeps_the_files_before_the_damage(tmp_path: Path) -> None:
    data = tar_of(ANDROID, gz=True)
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    evidence = open_source(path)
    assert isinstance(evidence, FfsEvidence)
    items, warnings = listing(evidence)
    assert [w.code for w in warnings] == ["ffs-damaged"] and warnings[0].locator == evidence.locator
    assert 1 <= len(items) <= 4


def test_hostile_member_names_are_warned(tmp_path: Path) -> None:
    path = tmp_path / "hostile.zip"
    path.write_bytes(zip_of({"data/media/0/DCIM/a.jpg": jpeg(1), "data/media/0/../../../../etc/x.jpg": jpeg(2)}))
    evidence = open_source(path)
    assert isinstance(evidence, FfsEvidence)
    items, warnings = listing(evidence)
    assert [w.code for w in warnings] == ["suspicious-member-name"] and warnings[0].locator == items[1].locator


def test_an_absolute_member_outside_the_layout_is_warned(tmp_path: Path) -> None:
    """Inside the layout's folder a leading "/" is the phone's root; outside it a member's name is its own."""
    path = tmp_path / "rooted.zip"
    path.write_bytes(zip_of({"extraction/data/media/0/DCIM/a.jpg": jpeg(1), "/rooted.jpg": jpeg(2)}))
    evidence = FfsEvidence(path)
    items, warnings = listing(evidence)
    assert [(w.code, w.message) for w in warnings] == [
        ("suspicious-member-name", "name has an absolute path: /rooted.jpg")
    ]
    assert warnings[0].locator == items[1].locator


def test_triage_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "ffs.zip"
    path.write_bytes(zip_of(ANDROID))
    case = Case.create_or_open(tmp_path / "case")
    outcome = triage(path, case, None, TriageOptions(exhibit="PH1", profile=Profile.FULL, operator="t"))
    assert outcome.items_recorded >= 4
    with case.sessions() as s:
        rows = {Locator.from_json(r.locator).leaf.value: r.sha256 for r in s.scalars(select(ItemRow))}
    assert rows["/data/media/0/DCIM/Camera/PXL_1.jpg"] == hashlib.sha256(jpeg(3)).hexdigest()


def test_seeded_random_damage_never_raises(tmp_path: Path) -> None:
    rng = random.Random(14)
    opened = 0
    for n, data in enumerate([tar_of(ANDROID, gz=True)] * 15 + [zip_of(ANDROID)] * 15):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(20, len(damaged))] = rng.randrange(256)
        path = tmp_path / f"d{n}"
        path.write_bytes(bytes(damaged))
        evidence = open_source(path)
        if not isinstance(evidence, FfsEvidence):
            continue  # damage hid the layout: a plain file
        opened += 1
        items, _ = listing(evidence)
        read_every(evidence, items)
    assert opened >= 10  # this seed opens 22 of the 30 as extractions: the checks above are not skipped
