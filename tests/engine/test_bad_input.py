"""Hostile evidence ends in recorded warnings with locators and a finished run; findings are kept."""

from __future__ import annotations

import io
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.evidence import directory
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.summary import summarise
from tests.builders import VicsSet, jpeg, md5, write, zip_bytes


def _triage(
    tmp_path: Path, root: Path, known: VicsSet, profile: Profile = Profile.STANDARD, events: object = None
) -> tuple[Case, dict[str, int]]:
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    outcome = triage(root, case, store, TriageOptions(exhibit="EX1", profile=profile, hashsets=("s",)), events)  # type: ignore[arg-type]
    assert outcome.status is RunStatus.COMPLETED
    data = report_data(case)
    codes: dict[str, int] = {}
    for w in data["warnings"]:
        codes[w["code"]] = codes.get(w["code"], 0) + 1
    return case, codes


def _one_hit(root: Path) -> VicsSet:
    known = VicsSet()
    data = jpeg(1)
    write(root, "good/hit.jpg", data)
    known.add(data, 1)
    return known


def test_zip_bomb_is_refused_and_other_hits_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    known = _one_hit(root)
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("bomb.jpg", "w", force_zip64=True) as member,
    ):
        member.write(b"\xff\xd8\xff\xe0")
        zero = bytes(1 << 20)
        for _ in range(300):  # 300 MiB of zeros deflate to ~300 KiB: ratio ~1000
            member.write(zero)
    write(root, "bomb.zip", buf.getvalue())
    case, codes = _triage(tmp_path, root, known)
    assert codes.get("archive-bomb", 0) >= 1
    assert summarise(case).hits == 1


def test_traversal_names_truncated_archives_and_empty_files(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    known = _one_hit(root)
    sneaky = jpeg(2)
    known.add(sneaky, 2)
    write(root, "traversal.zip", zip_bytes({"../../etc/evil.jpg": sneaky}))
    whole = zip_bytes({f"m{i}.jpg": jpeg(10 + i, (200, 200)) for i in range(4)})
    write(root, "truncated.zip", whole[: len(whole) // 2])
    write(root, "zero.jpg", b"")
    case, codes = _triage(tmp_path, root, known)
    assert codes.get("suspicious-member-name") == 1
    assert codes.get("archive-corrupt", 0) >= 1
    assert summarise(case).hits == 2
    assert not (tmp_path / "etc").exists()


def test_control_characters_and_invalid_utf8_in_names(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    known = VicsSet()
    data = jpeg(3)
    known.add(data, 3)
    with open(os.fsencode(root) + b"/evil\n<script>alert(1)\x1b[2J\xff.jpg", "wb") as fh:
        fh.write(data)
    case, codes = _triage(tmp_path, root, known)
    assert codes == {}
    [item] = report_data(case)["items"]
    assert "\n" not in item["path"] and "\x1b" not in item["path"] and "\\xff" in item["path"]


def test_unreadable_and_vanishing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ev"
    known = _one_hit(root)
    write(root, "locked.jpg", jpeg(4))
    write(root, "vanishing.jpg", jpeg(5))
    real_open = directory.open_readonly

    def guarded(path: Path | str) -> object:
        if str(path).endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied")
        return real_open(path)

    monkeypatch.setattr(directory, "open_readonly", guarded)

    class DeleteAfterListing:
        def planned(self, items: int, total_bytes: int) -> None:
            (root / "vanishing.jpg").unlink()  # gone between listing and reading

        def advanced(self, items: int, bytes_read: int) -> None:
            pass

        def hit(self, hit: object) -> None:
            pass

    case, codes = _triage(tmp_path, root, known, events=DeleteAfterListing())
    assert codes == {"unreadable": 2}
    items = summarise(case).exhibits[0].items
    assert items["unreadable"] == 2 and summarise(case).hits == 1
    assert any("could not be read" in n for n in summarise(case).exhibits[0].not_examined)


def test_symlink_loop_and_special_files(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    known = _one_hit(root)
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "fifo")
    case, codes = _triage(tmp_path, root, known)
    assert codes == {"symlink-loop": 1, "special-file": 1}
    assert summarise(case).hits == 1


class _GrowingFile(io.FileIO):
    """A file being written while it is read: each time the reader reaches its end, 1 MiB more is appended."""

    def __init__(self, path: Path | str, most: int) -> None:
        super().__init__(path, "r")
        self.left = most

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        if not data and self.left > 0:
            with open(self.name, "ab") as out:
                out.write(bytes(1 << 20))
            self.left -= 1 << 20
            data = super().read(size)
        return data


@pytest.mark.parametrize("profile", [Profile.QUICK, Profile.FULL])
def test_a_file_that_grows_while_read_is_read_to_its_listed_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: Profile
) -> None:
    root = tmp_path / "ev"
    known = _one_hit(root)
    picture = jpeg(6)
    path = write(root, "growing.jpg", picture)
    known.add(picture, 1)  # what the file held when it was listed is a known picture
    real_open = directory.open_readonly

    def growing(target: Path | str) -> object:
        return _GrowingFile(target, 16 << 20) if str(target).endswith("growing.jpg") else real_open(target)

    monkeypatch.setattr(directory, "open_readonly", growing)
    case, codes = _triage(tmp_path, root, known, profile)
    assert codes == {"size-changed": 1}
    assert path.stat().st_size == len(picture) + (1 << 20)  # one byte past the listed size was asked for, no more
    with sqlite3.connect(case.path / "case.db") as db:
        [(status, digest)] = db.execute("SELECT status, md5 FROM items WHERE name = 'growing.jpg'")
    assert (status, digest) == ("partial", md5(picture))
    assert summarise(case).hits == 2  # its listed bytes still match
    [warning] = report_data(case)["warnings"]
    assert "grew while read" in warning["message"] and "growing.jpg" in warning["path"]
