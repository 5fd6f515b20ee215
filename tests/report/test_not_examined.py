"""The report's "not examined" section: what a run left out, and nothing it did examine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safenet.case.queries import exhibit_facts
from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.report.summary import summarise
from tests.evidence.test_image_unallocated import fat_image

needs_fat = pytest.mark.skipif(
    not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing (make sysdeps-test)"
)


@needs_fat
def test_full_profile_does_not_call_carved_regions_typed_but_not_hashed(tmp_path: Path) -> None:
    image, _ = fat_image(tmp_path)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.FULL, operator="tester")
    triage(image, case, HashSetStore(tmp_path / "hashdb"), options)
    [facts] = exhibit_facts(case)
    assert facts.regions >= 1  # $Unallocated at least: listed, carved, never hashed whole
    assert facts.items["skipped"] == 0
    [exhibit] = summarise(case).exhibits
    assert not any("typed but not hashed" in note for note in exhibit.not_examined), exhibit.not_examined
    assert not any("not carved" in note for note in exhibit.not_examined)
