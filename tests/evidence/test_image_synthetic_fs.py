"""ext4 and NTFS images built here with known benign photos, some deleted: are they all found?"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safenet.evidence.image import ImageEvidence
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceWarning, Item
from tests.evidence.image_builders import HAVE_EXT4, HAVE_NTFS, ext4_image, ntfs_image, photos

DELETED = ["DCIM/IMG_0004.JPG", "DCIM/IMG_0005.JPG"]


def listing(image: Path) -> tuple[ImageEvidence, dict[str, Item], list[EvidenceWarning]]:
    evidence = ImageEvidence(image)
    warnings: list[EvidenceWarning] = []
    items = {}
    for item in evidence.items(warnings.append):
        path = next(la.value for la in item.locator.layers if la.kind is LayerKind.PATH)
        stream = item.locator.leaf.value if item.locator.leaf.kind is LayerKind.STREAM else ""
        items[path.lstrip("/") + (f":{stream}" if stream else "")] = item
    return evidence, items, warnings


def md5_of(evidence: ImageEvidence, item: Item) -> str:
    with evidence.open(item.locator) as stream:
        return hashlib.md5(stream.read()).hexdigest()


@pytest.mark.skipif(not HAVE_EXT4, reason="e2fsprogs missing (make sysdeps-test)")
def test_ext4_live_and_deleted_photos_are_found(tmp_path: Path) -> None:
    files = photos(6) | photos(2, "home/alice/Pictures")
    evidence, items, warnings = listing(ext4_image(tmp_path, files, DELETED))
    assert warnings == []
    assert set(items) == set(files)
    for path, data in files.items():
        assert items[path].deleted == (path in DELETED)
        assert md5_of(evidence, items[path]) == hashlib.md5(data).hexdigest(), path
    assert all("not reallocated" in (items[p].note or "") for p in DELETED)
    assert next(la for la in items[DELETED[0]].locator.layers if la.kind is LayerKind.FILESYSTEM).detail == "ext4"


@pytest.mark.skipif(not HAVE_EXT4, reason="e2fsprogs missing (make sysdeps-test)")
def test_ext4_deleted_photos_with_wiped_extents_are_named_not_listed(tmp_path: Path) -> None:
    # The Linux kernel empties a deleted file's extent tree and size: nothing in the metadata says where
    # the content was. Such names are not items (there is nothing to hash) but each is a warning naming it
    # that says carving may find it, so the report never implies they were examined.
    files = photos(6)
    _, items, warnings = listing(ext4_image(tmp_path, files, DELETED, wipe=True))
    assert set(items) == set(files) - set(DELETED) and not any(i.deleted for i in items.values())
    assert {(w.code, w.locator.leaf.value if w.locator else "") for w in warnings} == {
        ("deleted-unrecoverable", f"/{path}") for path in DELETED
    }  # one warning per name, its locator the path (and inode)
    assert all("carving" in w.message for w in warnings)


@pytest.mark.skipif(not HAVE_NTFS, reason="ntfs-3g missing (make sysdeps-test)")
def test_ntfs_live_deleted_and_alternate_stream_photos_are_found(tmp_path: Path) -> None:
    files = photos(6) | photos(2, "Users/alice/Pictures")
    hidden = photos(1, "hidden")["hidden/IMG_0000.JPG"]
    image = ntfs_image(tmp_path, files, DELETED, streams={"Users/alice/Pictures/IMG_0000.JPG:thumb": hidden})
    evidence, items, warnings = listing(image)
    assert warnings == []
    assert set(items) == set(files) | {"Users/alice/Pictures/IMG_0000.JPG:thumb"}  # no $MFT, no reserved records
    for path, data in files.items():
        assert items[path].deleted == (path in DELETED)
        assert md5_of(evidence, items[path]) == hashlib.md5(data).hexdigest(), path
    ads = items["Users/alice/Pictures/IMG_0000.JPG:thumb"]
    assert ads.locator.leaf.kind is LayerKind.STREAM and ads.size == len(hidden)
    assert md5_of(evidence, ads) == hashlib.md5(hidden).hexdigest()
    assert next(la for la in ads.locator.layers if la.kind is LayerKind.FILESYSTEM).detail == "NTFS"
