"""DFTT images #1 (extended partitions), #9 (FAT volume labels) and #14 (ISO 9660) against their keys."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from safenet.inspect import inspect_source
from tests.datafiles import DATA
from tests.evidence.image_builders import content, listing, path_of

DFTT = DATA / "disk" / "dftt"


def unzip(name: str, member: str, tmp_path: Path) -> Path:
    with zipfile.ZipFile(DFTT / name) as archive:
        return Path(archive.extract(member, tmp_path))


def test_dftt1_every_partition_of_the_extended_chain(tmp_path: Path) -> None:
    # Key: six FAT16 partitions, three in the primary table and three in the extended chain (the third
    # entry of an extended table is what most tools miss); each holds one empty file named after it.
    key = (DFTT / "1-extend-part.answers.txt").read_text()
    table = re.findall(r"^\s+0\d\s+(\d+)\s+\d+\s+(\d+)\s+DOS FAT16", key, re.M)
    starts, lengths = [int(s) for s, _ in table], [int(n) for _, n in table]
    assert len(starts) == 6
    image = unzip("1-extend-part.zip", "1-extend-part/ext-part-test-2.dd", tmp_path)
    volumes = inspect_source(image)["volumes"]
    assert [(v["offset"] // 512, v["length"] // 512) for v in volumes] == list(zip(starts, lengths, strict=True))
    assert all(v["state"] == "readable" and v["filesystem"] == "FAT" for v in volumes)
    _, items, warnings = listing(image)
    assert warnings == []
    live = {(i.locator.layers[2].offset // 512, path_of(i)) for i in items if not i.deleted}  # type: ignore[operator]
    names = ["primary-1", "primary-2", "primary-3", "second-1", "second-2", "second-3"]
    assert live == {(start, f"/{name}.txt") for start, name in zip(starts, names, strict=True)}
    assert all(i.size == 0 for i in items)


def test_dftt9_fat_volume_labels_with_data_are_listed(tmp_path: Path) -> None:
    # Key: two directory entries carry the volume-label attribute and have clusters: LABEL2 (random data
    # with "over here") and dir1/FILE2.DLL (a JPEG). A tool must show both and their content.
    key = (DFTT / "9-fat-label.answers.txt").read_text()
    label2, file2 = re.findall(r"Its MD5 value is ([0-9a-f]{32})", key)
    image = unzip("9-fat-label.zip", "9-fat-label/9-fat-label.dd", tmp_path)
    assert hashlib.md5(image.read_bytes()).hexdigest() == "aa834dca822918de45792f4e115516b9"  # the key's
    evidence, items, warnings = listing(image)
    assert warnings == [] and not any(i.deleted for i in items)
    got = {path_of(i).split()[0]: i for i in items}
    assert set(got) == {"/LABEL2", "/dir1/FILE2"}
    assert hashlib.md5(content(evidence, got["/LABEL2"])).hexdigest() == label2
    assert b"over here" in content(evidence, got["/LABEL2"])
    jpeg = content(evidence, got["/dir1/FILE2"])
    assert hashlib.md5(jpeg).hexdigest() == file2 and jpeg.startswith(b"\xff\xd8\xff")  # a media file, found
    assert all("hidden content" in (i.note or "") for i in items)


@pytest.mark.parametrize("name", ["iso-dirtree1.iso", "iso-dirtree2.iso"])
def test_dftt14_iso_files_of_every_directory_hierarchy_are_named(name: str, tmp_path: Path) -> None:
    # Key: File1.txt is in the primary hierarchy, File2.txt in a secondary (Joliet) one; a tool should show
    # both. TSK names one hierarchy's files; Safenet names the others from their own directory records.
    key = (DFTT / "14-iso9660-1.answers.txt").read_text()
    assert f"{name} = " in key
    image = unzip("14-iso9660-1.zip", f"14-iso9660-1/{name}", tmp_path)
    assert hashlib.md5(image.read_bytes()).hexdigest() == re.search(rf"{name} = (\w+)", key).group(1)  # type: ignore[union-attr]
    evidence, items, warnings = listing(image)
    assert warnings == [] and not any(i.deleted for i in items)
    got = {path_of(i).lower(): content(evidence, i) for i in items}
    assert set(got) == {"/file1.txt", "/file2.txt"}
    assert got["/file1.txt"].startswith(b"Hello. I am file #1.")
    assert got["/file2.txt"].startswith(b"Goodbye. I am file #2.")


def test_dftt14_iso_endian_conflict_is_reported(tmp_path: Path) -> None:
    # Key: one file whose start block differs between the little- and big-endian fields; the text says
    # which one a tool used. TSK reads the big-endian one; Safenet lists the file and says it may be wrong.
    image = unzip("14-iso9660-1.zip", "14-iso9660-1/iso-endian.iso", tmp_path)
    evidence, items, warnings = listing(image)
    [item] = items
    assert content(evidence, item).startswith(b"This tool shows big endian.")
    [warning] = warnings
    assert warning.code == "fs-corrupt" and "little-endian (31) and big-endian (32)" in warning.message
