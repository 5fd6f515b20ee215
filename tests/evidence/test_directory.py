from __future__ import annotations

import os
from pathlib import Path

import pytest

from safenet.evidence.directory import DirectoryEvidence
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceError, EvidenceWarning, NotMyFormat
from safenet.evidence.registry import SourceNotFound, open_locator, open_source


def listing(root: Path) -> tuple[dict[str, bytes], list[EvidenceWarning]]:
    ev = DirectoryEvidence(root)
    warnings: list[EvidenceWarning] = []
    found = {}
    for item in ev.items(warnings.append):
        with ev.open(item.locator) as fh:
            found[item.locator.leaf.value] = fh.read()
    return found, warnings


def test_lists_regular_files_with_paths_inodes_and_times(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.jpg").write_bytes(b"\xff\xd8\xff" + b"1" * 10)
    (tmp_path / "top.txt").write_bytes(b"")
    ev = DirectoryEvidence(tmp_path)
    items = {i.locator.leaf.value: i for i in ev.items(lambda w: None)}
    assert set(items) == {"/a/b/x.jpg", "/top.txt"}
    x = items["/a/b/x.jpg"]
    assert x.locator.leaf.kind is LayerKind.PATH and x.locator.leaf.inode == (tmp_path / "a/b/x.jpg").stat().st_ino
    assert x.size == 13 and x.modified is not None and x.modified.value.tzinfo is not None
    assert items["/top.txt"].size == 0


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    src = tmp_path / "src"
    src.mkdir()
    (src / "real.jpg").write_bytes(b"real")
    (src / "inside-link").symlink_to(src / "real.jpg")
    (src / "out-link").symlink_to(outside / "secret.jpg")
    (src / "dir-out").symlink_to(outside)
    (src / "dangling").symlink_to(src / "nope")
    (src / "loop1").symlink_to(src / "loop2")
    (src / "loop2").symlink_to(src / "loop1")
    found, warnings = listing(src)
    assert found == {"/real.jpg": b"real"}
    codes = sorted((w.code, w.locator.leaf.value if w.locator else "") for w in warnings)
    assert codes == [
        ("symlink-dangling", "/dangling"),
        ("symlink-loop", "/loop1"),
        ("symlink-loop", "/loop2"),
        ("symlink-outside", "/dir-out"),
        ("symlink-outside", "/out-link"),
    ]


def test_special_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "f.jpg").write_bytes(b"1")
    found, warnings = listing(tmp_path)
    assert list(found) == ["/f.jpg"]
    assert [(w.code, w.locator.leaf.value) for w in warnings if w.locator] == [("special-file", "/pipe")]
    assert "FIFO" in warnings[0].message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory_is_a_warning(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        _, warnings = listing(tmp_path)
    finally:
        locked.chmod(0o700)
    assert [w.code for w in warnings] == ["unreadable"]


def test_names_with_control_characters_and_invalid_utf8(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\nname\x1b\xff.jpg"
    with open(raw, "wb") as fh:
        fh.write(b"content")
    found, warnings = listing(tmp_path)
    assert warnings == []
    [(name, data)] = found.items()
    assert data == b"content"
    assert os.fsencode(name) == b"/bad\nname\x1b\xff.jpg"


def test_open_refuses_paths_outside_the_source(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"1")
    ev = DirectoryEvidence(tmp_path)
    [item] = list(ev.items(lambda w: None))
    evil = item.locator.parent.child(type(item.locator.leaf)(LayerKind.PATH, "/../../etc/passwd"))  # type: ignore[union-attr]
    with pytest.raises(EvidenceError):
        ev.open(evil)


def test_file_vanishing_after_listing_raises_oserror(tmp_path: Path) -> None:
    (tmp_path / "gone.jpg").write_bytes(b"1")
    ev = DirectoryEvidence(tmp_path)
    [item] = list(ev.items(lambda w: None))
    (tmp_path / "gone.jpg").unlink()
    with pytest.raises(FileNotFoundError):
        ev.open(item.locator)


def test_registry_picks_backends_and_names_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "one.jpg").write_bytes(b"\xff\xd8\xff")
    assert open_source(tmp_path).NAME == "directory"
    single = open_source(tmp_path / "one.jpg")
    assert single.NAME == "file"
    [item] = list(single.items(lambda w: None))
    with open_locator(single, item.locator) as fh:
        assert fh.read() == b"\xff\xd8\xff"
    with pytest.raises(SourceNotFound, match="does not exist"):
        open_source(tmp_path / "missing")
    with pytest.raises(NotMyFormat):
        DirectoryEvidence(tmp_path / "one.jpg")


def test_source_is_not_modified(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p.jpg").write_bytes(b"\xff\xd8\xff" * 100)
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.rglob("*")}
    listing(tmp_path)
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.rglob("*")}
    assert before == after


def test_each_time_is_the_files_own(tmp_path: Path) -> None:
    """Equal times share one Timestamp; different ones keep their own values (ns precision, UTC)."""
    same, apart = tmp_path / "same.bin", tmp_path / "apart.bin"
    same.write_bytes(b"s")
    apart.write_bytes(b"a")
    os.utime(same, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.utime(apart, ns=(1_500_000_000_000_000_000, 1_600_000_000_000_001_000))
    items = {i.name: i for i in DirectoryEvidence(tmp_path).items(lambda w: None)}
    for name, path in (("same.bin", same), ("apart.bin", apart)):
        item, st = items[name], path.stat()
        assert item.modified is not None and item.accessed is not None and item.changed is not None
        assert item.modified.value.timestamp() == pytest.approx(st.st_mtime_ns / 1e9, abs=1e-6)
        assert item.accessed.value.timestamp() == pytest.approx(st.st_atime_ns / 1e9, abs=1e-6)
        assert item.changed.value.timestamp() == pytest.approx(st.st_ctime_ns / 1e9, abs=1e-6)
    assert items["same.bin"].accessed is items["same.bin"].modified
    assert items["apart.bin"].accessed != items["apart.bin"].modified
