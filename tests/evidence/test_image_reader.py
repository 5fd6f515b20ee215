"""The two file-system readers keep one shape (``image.reader.FileSystemReader``): the dfVFS reader of
APFS answers the questions the back-end asks of TSK's in its own words (a carve-not-supported warning,
no regions, a clear refusal to open one), so the back-end never asks which reader it holds."""

from __future__ import annotations

import hashlib

import pytest

from safenet.evidence.carve import REGION
from safenet.evidence.image import ImageEvidence
from safenet.evidence.image.native import NativeFileSystem
from safenet.evidence.image.reader import FileSystemReader
from safenet.evidence.image.tsk import TskFileSystem
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, OpenContext
from tests.datafiles import DATA, data_file

APFS = DATA / "disk" / "dfvfs" / "apfs.raw"
A_FILE_MD5 = "85bebf486af24792085f769afa46717d"  # the corpus's a_directory/a_file (a short text file)


def test_both_readers_have_every_member_of_the_interface() -> None:
    members = [name for name in dir(FileSystemReader) if not name.startswith("_")]
    members += list(FileSystemReader.__annotations__)
    for reader in (TskFileSystem, NativeFileSystem):
        missing = [m for m in members if not hasattr(reader, m) and m not in ("name", "direct")]
        assert missing == [], reader


def test_apfs_listed_for_carving_warns_once_and_gives_no_region() -> None:
    evidence = ImageEvidence(data_file(APFS), OpenContext(unallocated=True))
    warnings: list[EvidenceWarning] = []
    items = list(evidence.items(warnings.append))
    assert not [i for i in items if i.locator.leaf.detail == REGION]
    carving = [w for w in warnings if w.code == "carve-not-supported"]
    assert [w.message for w in carving] == ["unallocated space of APFS is not carved yet"]
    (a_file,) = [i for i in items if i.locator.leaf.value.lower().endswith("a_directory/a_file")]
    with evidence.open(a_file.locator) as stream:
        assert hashlib.md5(stream.read()).hexdigest() == A_FILE_MD5
    fs_layers = a_file.locator.layers[:-1]
    region = Locator((*fs_layers, Layer(LayerKind.PATH, "$Unallocated", detail=REGION)))
    with pytest.raises(EvidenceError, match="no regions"):
        evidence.open(region)
