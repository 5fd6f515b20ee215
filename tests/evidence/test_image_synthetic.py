"""The image back-end on images built here (mkfs.vfat + mtools): known media, some deleted, end to end."""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
import subprocess
from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.image import ImageEvidence
from safenet.evidence.locator import Locator
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.summary import summarise
from tests.builders import VicsSet, jpeg

needs_tools = pytest.mark.skipif(
    not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing (make sysdeps-test)"
)


def fat_image(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    image = tmp_path / "stick.img"
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", "STICK", str(image)], check=True, capture_output=True)
    files = {f"IMG_{i:04d}.JPG": jpeg(i, (320, 240)) for i in range(4)}
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["mmd", "-i", str(image), "::/DCIM"], check=True)
    for name, data in files.items():
        (src / name).write_bytes(data)
        subprocess.run(["mcopy", "-i", str(image), str(src / name), f"::/DCIM/{name}"], check=True)
    subprocess.run(["mdel", "-i", str(image), "::/DCIM/IMG_0003.JPG"], check=True)
    return image, files


def _reopen_md5(source: str, locator_json: str) -> str:
    evidence = ImageEvidence(Path(source))
    with evidence.open(Locator.from_json(locator_json)) as stream:
        return hashlib.md5(stream.read()).hexdigest()


@needs_tools
def test_fat_image_lists_live_and_deleted_media(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    evidence = ImageEvidence(image)
    items = list(evidence.items(lambda w: None))
    by_name = {i.name: i for i in items}
    assert set(by_name) >= {"IMG_0000.JPG", "IMG_0001.JPG", "IMG_0002.JPG"}
    deleted = [i for i in items if i.deleted]
    assert len(deleted) == 1 and deleted[0].size == len(files["IMG_0003.JPG"])
    with evidence.open(deleted[0].locator) as stream:
        assert stream.read() == files["IMG_0003.JPG"]  # freshly deleted: clusters still hold it
    for name in ("IMG_0000.JPG", "IMG_0002.JPG"):
        with evidence.open(by_name[name].locator) as stream:
            assert stream.read() == files[name]


@needs_tools
def test_locator_reopens_in_a_fresh_process(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    item = next(i for i in ImageEvidence(image).items(lambda w: None) if i.name == "IMG_0001.JPG")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.apply(_reopen_md5, (str(image), item.locator.to_json()))
    assert got == hashlib.md5(files["IMG_0001.JPG"]).hexdigest()


@needs_tools
def test_triage_of_an_image_counts_deleted_hits_and_never_writes_the_image(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    known = VicsSet()
    known.add(files["IMG_0000.JPG"], 1)
    known.add(files["IMG_0003.JPG"], 2)  # the deleted one
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit="EX2", profile=Profile.QUICK, hashsets=("caid-test",), operator="tester", verify_image=True
    )
    outcome = triage(image, case, store, options)
    assert outcome.hits == 2
    total = summarise(case).total
    assert total["A"].counts["live"] == 1 and total["B"].counts["deleted"] == 1
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    audit = (tmp_path / "case" / "audit.jsonl").read_text()
    assert '"image-hash"' in audit and before in audit


@needs_tools
def test_image_items_are_ordered_media_first_then_by_physical_offset(tmp_path: Path) -> None:
    from safenet.engine.ordering import order, priority

    image, _ = fat_image(tmp_path)
    planned = order(ImageEvidence(image).items(lambda w: None))
    assert all(priority(i) == (0, 0) for i in planned if i.name.endswith(".JPG"))  # DCIM/: user folder, media
    offsets = [i.locator.layers[-1].offset or 0 for i in planned if not i.deleted]
    assert offsets == sorted(offsets)
