"""Reading evidence leaves access times as found (ACPO principle 1), for every kind of source.

Each test sets the access times of everything in the source far into the past first, so that a ``relatime``
mount would update them on any read, and checks a plain read does update them here (the check would prove
nothing on a ``noatime`` mount). Then ``inspect`` and a full-profile ``triage`` with ``--verify-image``
(every file hashed, images read whole), and the atimes must be unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.cli import Exit, main
from tests.builders import jpeg
from tests.datafiles import DATA, data_file

PAST_NS = 1_000_000_000 * 1_000_000_000  # 2001-09-09: older than any relatime window


def _everything(source: Path) -> Iterator[Path]:
    yield source
    if source.is_dir():
        yield from source.rglob("*")


def set_past(paths: list[Path]) -> None:
    for path in paths:
        os.utime(path, ns=(PAST_NS, path.lstat().st_mtime_ns), follow_symlinks=False)


def atimes(paths: list[Path]) -> dict[str, int]:
    return {str(path): path.lstat().st_atime_ns for path in paths}


def require_atime_updates(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    set_past([probe])
    with probe.open("rb") as handle:
        handle.read()
    if probe.stat().st_atime_ns == PAST_NS:
        pytest.skip("this file system does not record access times (noatime): nothing to check")
    probe.unlink()


def folder(tmp_path: Path) -> list[Path]:
    root = tmp_path / "evidence"
    (root / "DCIM" / "sub").mkdir(parents=True)
    (root / "DCIM" / "a.jpg").write_bytes(jpeg(1))
    (root / "DCIM" / "sub" / "b.jpg").write_bytes(jpeg(2))
    (root / "notes.txt").write_bytes(b"text")
    return [root]


def single_file(tmp_path: Path) -> list[Path]:
    path = tmp_path / "evidence" / "photo.jpg"
    path.parent.mkdir()
    path.write_bytes(jpeg(3))
    return [path]


def _copied(tmp_path: Path, *names: str) -> list[Path]:
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name in names:
        shutil.copyfile(data_file(DATA / "disk" / "dfvfs" / name), folder / name)
    return [folder / name for name in names]


def raw_image(tmp_path: Path) -> list[Path]:
    return _copied(tmp_path, "ext2.raw")


def partitioned_raw_image(tmp_path: Path) -> list[Path]:
    return _copied(tmp_path, "mbr_2022.raw")


def e01_image(tmp_path: Path) -> list[Path]:
    return _copied(tmp_path, "ext2.split.E01", "ext2.split.E02")


def split_raw_image(tmp_path: Path) -> list[Path]:
    return _copied(tmp_path, "ext2.splitraw.000", "ext2.splitraw.001")


@pytest.mark.parametrize(
    "make",
    [folder, single_file, raw_image, partitioned_raw_image, e01_image, split_raw_image],
    ids=lambda f: f.__name__,
)
def test_reading_evidence_keeps_access_times(make: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_atime_updates(tmp_path)
    made = make(tmp_path)  # type: ignore[operator]
    source = made[0]
    paths = [p for top in made for p in _everything(top)]
    set_past(paths)
    before = atimes(paths)
    assert set(before.values()) == {PAST_NS}
    if not source.is_dir():
        assert main(["inspect", str(source)]) in (Exit.OK, Exit.EVIDENCE)
    case = tmp_path / "case"
    verify = ["--verify-image"] if source.suffix in (".raw", ".E01", ".000") else []
    code = main(["triage", str(source), "--case", str(case), "--exhibit", "E", "--profile", "full", *verify])
    assert code == Exit.OK, capsys.readouterr().err
    assert atimes(paths) == before
