"""Issue 13: a picture inside an allocated file whose own type is not recognised is found in the full profile.

A JPEG appended after junk bytes (and followed by more junk) in a file that is not a picture, document or
archive was found by no profile: carving covered unallocated space and slack only. The full profile now carves
inside such files; each carved item's locator points into its parent file, and reopens to the same bytes.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.case.schema import Finding, ItemRow
from safenet.engine.profiles import Profile
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.registry import open_locator, open_source
from tests.builders import VicsSet, jpeg, write
from tests.engine.test_triage import C, _run


@pytest.fixture
def hidden(tmp_path: Path) -> tuple[Path, VicsSet, bytes]:
    root = tmp_path / "exhibit"
    picture = jpeg(7)
    junk = random.Random(13).randbytes(3001)  # an odd length: the picture starts at no sector boundary
    write(root, "Users/bob/AppData/blob.dat", junk + picture + junk[:777])
    write(root, "Users/bob/notes.txt", b"shopping list\n" * 40)
    known = VicsSet()
    known.add(picture, C)
    return root, known, picture


def _carved(case: object) -> list[tuple[str, str | None, int | None]]:
    with case.sessions() as s:  # type: ignore[attr-defined]
        rows = s.execute(select(ItemRow.locator, ItemRow.md5, ItemRow.parent_id)).all()
    return [(loc, md5, parent) for loc, md5, parent in rows if Locator.from_json(loc).leaf.kind is LayerKind.CARVED]


def test_the_full_profile_finds_a_picture_inside_a_file_of_unknown_type(
    tmp_path: Path, hidden: tuple[Path, VicsSet, bytes]
) -> None:
    root, known, picture = hidden
    case, events, _ = _run(tmp_path, root, known, Profile.FULL)
    try:
        carved = _carved(case)
        assert len(carved) == 1, carved  # the text file holds nothing to carve
        locator_json, md5, parent = carved[0]
        assert md5 == hashlib.md5(picture).hexdigest()
        locator = Locator.from_json(locator_json)
        leaf = locator.leaf
        assert (leaf.offset, leaf.length) == (3001, len(picture))
        assert locator.parent is not None and locator.parent.leaf.value.endswith("blob.dat")
        with case.sessions() as s:
            parent_name = s.scalar(select(ItemRow.name).where(ItemRow.id == parent))
            findings = s.scalars(select(Finding.item_id)).all()
        assert parent_name == "blob.dat"
        assert len(findings) == 1 and len(events.hits) == 1  # matched against the hash set like any file
        with open_locator(open_source(root), locator) as stream:
            assert stream.read() == picture
    finally:
        case.close()


@pytest.mark.parametrize("profile", [Profile.QUICK, Profile.STANDARD])
def test_the_lab_and_scene_profiles_do_not_carve_inside_files(
    tmp_path: Path, hidden: tuple[Path, VicsSet, bytes], profile: Profile
) -> None:
    root, known, _ = hidden
    case, events, _ = _run(tmp_path, root, known, profile)
    try:
        assert _carved(case) == [] and events.hits == []
    finally:
        case.close()
