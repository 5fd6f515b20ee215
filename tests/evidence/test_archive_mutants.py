"""Damaged archives never end an examination: seeded mutants of every archive format Safenet expands.

Small benign archives (zip stored and deflated, tar, tar.gz/bz2/xz, gzip, 7z, a zip inside a zip) are
damaged in seeded ways (``tests.mutants``) and examined as the engine does in the standard profile
(members hashed, pictures decoded, nested archives expanded). Each must end with records and warnings,
never an exception; the archive itself is always recorded first (hashed whole while its signature still
says archive).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import warnings
import zipfile
from collections.abc import Callable

import py7zr
import pytest

from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from tests.builders import jpeg, md5, png
from tests.evidence.archive_builders import top_item
from tests.mutants import mutants

MUTANTS = 400  # per archive: 3 600 in all, a few seconds
CONTENT = {"photos/a.jpg": jpeg(1), "photos/b.png": png(2), "notes.txt": b"benign text " * 40}


def _zip(method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in CONTENT.items():
            archive.writestr(name, data)
    return out.getvalue()


def _tar(mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in CONTENT.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _7z() -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        for name, data in CONTENT.items():
            archive.writestr(data, name)
    return out.getvalue()


def _nested() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.zip", _zip(zipfile.ZIP_DEFLATED))
        archive.writestr("inner.tar.gz", _tar("w:gz"))
    return out.getvalue()


ARCHIVES: dict[str, Callable[[], bytes]] = {
    "zip-stored": lambda: _zip(zipfile.ZIP_STORED),
    "zip-deflated": lambda: _zip(zipfile.ZIP_DEFLATED),
    "tar": lambda: _tar("w"),
    "tar.gz": lambda: _tar("w:gz"),
    "tar.bz2": lambda: _tar("w:bz2"),
    "tar.xz": lambda: _tar("w:xz"),
    "gzip": lambda: gzip.compress(jpeg(3), mtime=0),
    "7z": _7z,
    "nested": _nested,
}


@pytest.mark.parametrize("kind", ARCHIVES)
def test_archive_mutants_end_in_records_and_warnings(kind: str) -> None:
    original = ARCHIVES[kind]()
    settings = Settings(Profile.STANDARD, ("md5",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own warnings about damaged pictures: noise here
        for mutant in mutants(original, len(kind), MUTANTS):
            data, item = mutant.data, top_item(f"evidence.{kind}", len(mutant.data))
            try:
                result = examine(item, lambda d=data: io.BytesIO(d), settings)
            except Exception as exc:  # the assertion this test exists for
                pytest.fail(f"{kind} seed {len(kind)} {mutant.how}: {type(exc).__name__}: {exc}")
            top = result.records[0]
            assert top.item == item and top.parent is None, mutant.how
            # still an archive by signature: hashed whole, whatever its inside did; else not hashed (profile)
            assert top.digests in (None, {"md5": bytes.fromhex(md5(data))}), mutant.how
            assert all(w.locator is not None for w in result.warnings)
