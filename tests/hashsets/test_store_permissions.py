"""Every file of the hash-set database is owner-only, whatever the user's umask."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.hashsets import HashSetStore, SetKind
from safenet.owner_only import create_owner_only, open_owner_only

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def test_sets_are_written_owner_only_under_umask_000(tmp_path: Path, umask_000: None) -> None:
    vics = tmp_path / "set.json"
    media = [
        {"MediaID": n, "MD5": f"{n:032x}", "SHA1": f"{n:040x}", "PDQ": f"{n:064x}", "Series": "S", "Category": 1}
        for n in range(1, 40)
    ]
    vics.write_text(json.dumps({"@odata.context": CONTEXT, "value": media}))
    vpdq = tmp_path / "clip.vpdq.txt"
    vpdq.write_text("".join(f"{n},100,{(n * 7919):064x},{n:.3f}\n" for n in range(5)))
    root = tmp_path / "db"
    store = HashSetStore(root)
    store.import_file(vics, "vics", warn=lambda ref, message: None)
    store.import_file(vpdq, "clip", kind=SetKind.ILLICIT, format_name="vpdq", warn=lambda ref, message: None)
    found = modes(root)
    names = {Path(name).name for name in found}
    # Every kind of file a set is made of: exact tables, the PDQ index, the video frames and the extras.
    assert {"md5.prefix.npy", "sha1.rest.npy", "extra.sqlite", "pdq.index.npz", "video.frames.npz"} <= names
    wrong = {name: oct(mode) for name, mode in found.items() if mode != (0o700 if (root / name).is_dir() else 0o600)}
    assert wrong == {}


def test_open_owner_only_tightens_an_existing_file_and_refuses_links(tmp_path: Path, umask_000: None) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o666)
    with open_owner_only(path) as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    create_owner_only(path)  # an existing file keeps its content
    assert path.read_bytes() == b"new"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        open_owner_only(link)
    assert not (tmp_path / "elsewhere").exists()
