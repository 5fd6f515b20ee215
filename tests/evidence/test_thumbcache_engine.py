"""The engine expands thumbnail caches in the standard and full profiles (not quick); every cache entry
and carved file is hashed as a child of its container and reopens from its locator alone."""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import partial
from pathlib import Path

import pytest

from safenet.case.records import ItemStatus
from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from safenet.evidence.carve import REGION
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import Item
from safenet.evidence.registry import open_locator, open_source
from safenet.evidence.single_file import SingleFileEvidence
from tests.datafiles import DATA
from tests.evidence.carve_builders import build

CORPUS = DATA / "thumbcache" / "windows_10"


@pytest.mark.parametrize("profile", [Profile.STANDARD, Profile.FULL])
def test_engine_expands_thumbcache_and_reopens_entries(profile: Profile) -> None:
    evidence = open_source(CORPUS)
    item = next(i for i in evidence.items(lambda w: None) if i.name == "thumbcache_32.db")
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(profile, ("md5",)))
    assert result.warnings == ()
    top, *entries = result.records
    assert top.filetype.name == "thumbcache" and len(entries) == 5
    for record in entries:
        assert record.parent == 0 and record.status is ItemStatus.EXAMINED
        assert record.filetype.name == "bmp" and record.item.locator.leaf.kind is LayerKind.CACHE_ENTRY
        with open_locator(evidence, record.item.locator) as stream:
            assert hashlib.md5(stream.read()).digest() == record.digests["md5"]  # type: ignore[index]


def test_quick_profile_leaves_caches_closed() -> None:
    evidence = open_source(CORPUS)
    item = next(i for i in evidence.items(lambda w: None) if i.name == "thumbcache_32.db")
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(Profile.QUICK, ("md5",)))
    assert len(result.records) == 1


def test_thumbcache_inside_zip_reopens_through_both_layers(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.write(CORPUS / "thumbcache_16.db", "Users/x/thumbcache_16.db")
    path = tmp_path / "exhibit.zip"
    path.write_bytes(buf.getvalue())
    evidence = open_source(path)
    (item,) = evidence.items(lambda w: None)
    result = examine(item, partial(open_locator, evidence, item.locator), Settings(Profile.STANDARD, ("md5",)))
    entries = [r for r in result.records if r.item.locator.leaf.kind is LayerKind.CACHE_ENTRY]
    assert len(entries) == 2
    for record in entries:
        kinds = [layer.kind for layer in record.item.locator.layers]
        assert kinds[-2:] == [LayerKind.ARCHIVE_MEMBER, LayerKind.CACHE_ENTRY]
        with open_locator(evidence, record.item.locator) as stream:
            assert hashlib.md5(stream.read()).digest() == record.digests["md5"]  # type: ignore[index]


def test_region_item_is_carved_in_full_profile_only(tmp_path: Path) -> None:
    """A back-end's unallocated-space item (PATH layer, detail "unallocated") is carved, never hashed whole."""
    data, answer = build(align=512)
    path = tmp_path / "region.bin"
    path.write_bytes(data)
    evidence = SingleFileEvidence(path)
    (whole,) = evidence.items(lambda w: None)
    assert whole.locator.parent is not None
    region_layer = Layer(LayerKind.PATH, whole.locator.leaf.value, detail=REGION)
    region = Item(whole.locator.parent.child(region_layer), "$Unallocated", whole.size)
    opener = partial(evidence.open, whole.locator)
    quick = examine(region, opener, Settings(Profile.STANDARD, ("md5",)))
    assert [r.status for r in quick.records] == [ItemStatus.SKIPPED]
    full = examine(region, opener, Settings(Profile.FULL, ("md5",)))
    carved = [r for r in full.records[1:] if r.item.locator.leaf.detail is None]
    assert len(carved) == len(answer.whole)
    assert all(r.parent == 0 and r.item.carved and r.item.locator.leaf.kind is LayerKind.CARVED for r in carved)
