"""The per-item path's shortcuts keep their answers: the digest-listing check asked once per back-end class,
the disk-image back-end loaded only when a source is tried as an image, and the first-read probe."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from safenet.engine import listed, pipeline
from safenet.engine.listed import ListsDigests, lists_digests
from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from safenet.evidence.directory import DirectoryEvidence
from safenet.evidence.locator import Locator
from safenet.evidence.registry import open_locator


class _Listing:
    DIGEST_MISMATCH = "listed-digest-mismatch"

    def expected_digests(self, locator: Locator) -> dict[str, bytes]:
        return {}


def test_lists_digests_answers_as_the_protocol_does_per_class(tmp_path: Path) -> None:
    folder = DirectoryEvidence(tmp_path)
    for evidence in (folder, _Listing(), _Listing(), folder):
        assert lists_digests(evidence) is isinstance(evidence, ListsDigests)  # type: ignore[arg-type]
    assert listed._LISTS[_Listing] is True
    assert listed._LISTS[DirectoryEvidence] is False


def test_a_folder_source_never_loads_the_image_back_end(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    script = (
        "import sys; from pathlib import Path; from safenet.evidence.registry import open_source; "
        f"e = open_source(Path({str(tmp_path)!r})); list(e.items(lambda w: None)); "
        "print('dfvfs' in sys.modules, 'safenet.evidence.image' in sys.modules, type(e).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "DirectoryEvidence"]


def test_a_file_source_still_tries_the_image_back_end_first(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"plain text, no image format")
    script = (
        "import sys; from pathlib import Path; from safenet.evidence.registry import open_source; "
        f"e = open_source(Path({str(source)!r})); print('dfvfs' in sys.modules, type(e).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "SingleFileEvidence"]


def test_first_read_probe_writes_the_time_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    probe = tmp_path / "first-read"
    monkeypatch.setattr(pipeline, "_first_read", str(probe))
    evidence = DirectoryEvidence(folder)
    settings = Settings(Profile.QUICK, ("md5",))
    before = time.time()
    for item in evidence.items(lambda w: None):
        examine(item, lambda item=item: open_locator(evidence, item.locator), settings)
        written = probe.read_text()
    assert before <= float(written) <= time.time()
    assert pipeline._first_read == ""  # written once; the other items do not ask again


def test_the_triage_engine_loads_no_format_library_a_folder_does_not_need() -> None:
    """What a triage of a folder imports before its first read: no dfVFS (images), no pycryptodome's cffi
    (ED2K, encrypted Android backups), no Alembic (old cases)."""
    script = (
        "import sys; import safenet.engine.triage, safenet.engine.executors, safenet.case.store; "
        "print(*sorted(m for m in ('dfvfs', 'cffi', 'pycparser', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/Users/kim/Pictures/a.JPG", (0, 0)),  # a user folder anywhere in the path, a media extension
        ("/data/home/kim/notes.txt", (0, 1)),
        ("/Windows/System32/x.dll", (2, 1)),  # a system folder only at the start
        ("USR/lib/a.png", (2, 0)),  # no leading slash, upper case
        ("/data/windows/x.jpg", (1, 0)),
        ("/usrx/a.jpg", (1, 0)),  # a marker is a whole folder name
        ("/a/.Trash-1000/b.jpg", (0, 0)),  # ".trash" is a prefix of the folder name
    ],
)
def test_priority_groups(path: str, expected: tuple[int, int]) -> None:
    from safenet.engine.ordering import priority
    from safenet.evidence.locator import Layer, LayerKind
    from safenet.evidence.model import Item

    locator = Locator((Layer(LayerKind.SOURCE, "/src"), Layer(LayerKind.PATH, path)))
    assert priority(Item(locator=locator, name=path.rsplit("/", 1)[-1], size=1)) == expected


def test_the_progress_bar_ends_with_every_file_and_byte_counted() -> None:
    import io

    from rich.console import Console

    from safenet.console import RichEvents

    events = RichEvents(Console(file=io.StringIO(), force_terminal=True), "EX1")
    with events:
        events.planned(1000, 1000 * 7)
        for _ in range(1000):
            events.advanced(1, 7)  # far faster than the bar is fed: most calls only add up
    task = events.progress.tasks[0]
    assert task.fields["items"] == 1000
    assert task.completed == 7000
