"""A worker's batch of small files gets its MD5s from SIMD lanes at the batch's end (analysis.md5mb.Md5Batch):
every record the same as when each file is hashed alone with hashlib."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from safenet.analysis.md5mb import Md5Batch
from safenet.analysis.thumbs import default_thumbnail
from safenet.case.records import WorkResult
from safenet.engine import executors
from safenet.engine.executors import Stage
from safenet.engine.pipeline import Settings
from safenet.engine.profiles import Profile
from safenet.evidence.registry import open_source
from tests.builders import jpeg

JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")  # SOI + APP0: typed JPEG in every profile
SIZES = (0, 1, 55, 56, 64, 65, 4095, 120_000, (1 << 20) - 1, 1 << 20, (1 << 20) + 3, 3 << 20, 5 << 20)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(20261206)
    root = tmp_path / "exhibit"
    root.mkdir()
    for size in SIZES:  # a JPEG head and random bytes: the 5 MiB one is hashed at once, not kept for the batch
        body = JPEG_HEAD + rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        (root / f"blob-{size}.jpg").write_bytes(body[:size])
    for n in range(6):  # pictures of every size class, typed from their heads
        (root / f"p{n}.jpg").write_bytes(jpeg(n) + rng.integers(0, 256, 70_000 * n, dtype=np.uint8).tobytes())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # members are hashed inline (their sizes are the archive's claim)
        z.writestr("inner.jpg", jpeg(9))
        z.writestr("note.txt", b"hello " * 1000)
    (root / "a.zip").write_bytes(archive.getvalue())
    return root


class Counting(Md5Batch):
    deferred = 0

    def defer(self, digests: dict[str, bytes], size: int) -> None:
        Counting.deferred += 1
        super().defer(digests, size)


def run(folder: Path, settings: Settings, lanes: bool, monkeypatch: pytest.MonkeyPatch) -> list[WorkResult]:
    monkeypatch.setattr(executors, "MD5_ISA", "avx512" if lanes else "hashlib")  # any ISA but hashlib defers
    monkeypatch.setattr(executors, "Md5Batch", Counting)
    Counting.deferred = 0 if lanes else Counting.deferred
    evidence = open_source(folder)
    items = sorted(evidence.items(lambda w: None), key=lambda item: item.name)
    return Stage(evidence, settings).run(items)


@pytest.mark.parametrize("profile", [Profile.QUICK, Profile.FULL])
@pytest.mark.parametrize("algorithms", [("md5",), ("md5", "sha1", "sha256")])
def test_same_records_as_hashing_alone(
    folder: Path, profile: Profile, algorithms: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(profile, algorithms)
    batched = run(folder, settings, True, monkeypatch)
    alone = run(folder, settings, False, monkeypatch)
    assert batched == alone
    hashed = 0
    for result in batched:
        for record in result.records:
            if record.digests is not None and record.parent is None:
                data = (folder / record.item.name).read_bytes()
                assert record.digests["md5"] == hashlib.md5(data).digest()
                assert list(record.digests) == list(algorithms)
                hashed += 1
    typed = sum(size >= len(JPEG_HEAD) for size in SIZES) + 6  # the pictures
    assert hashed == (typed if profile is Profile.QUICK else len(SIZES) + 7)
    # every hashed top-level file but the 5 MiB one (over Md5Batch's per-item limit) waited for the batch
    assert Counting.deferred == hashed - 1


@pytest.mark.parametrize("lanes", [True, False])
def test_thumbnails_as_from_the_whole_file(folder: Path, lanes: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard profile's review thumbnails: each record's is ``default_thumbnail`` of the file's bytes, whether
    the bytes were kept (a picture that may open) or not (its head already says it does not open)."""
    rng = np.random.default_rng(20261207)
    for n in range(8):  # JPEG heads over random bytes, and pictures cut short: mostly refused from the head
        (folder / f"junk{n}.jpg").write_bytes(JPEG_HEAD + rng.integers(0, 256, 9000 * (n + 1), np.uint8).tobytes())
        (folder / f"cut{n}.jpg").write_bytes(jpeg(20 + n, (300, 200))[: 600 + 400 * n])
    results = run(folder, Settings(Profile.STANDARD, ("md5",)), lanes, monkeypatch)
    made = 0
    for result in results:
        for record in result.records:
            if record.parent is None and record.filetype.kind.value == "image":
                expected = default_thumbnail((folder / record.item.name).read_bytes())
                assert record.thumbnail == expected, record.item.name
                made += expected is not None
    assert made >= 6  # the fixture's pictures
