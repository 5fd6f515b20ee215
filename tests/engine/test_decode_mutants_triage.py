"""Damaged pictures and videos never end a triage: exit 0, and a warning with its locator per bad file.

A folder of seeded mutants of the corpus media (``tests.mutants``) is triaged through the CLI with a PDQ
hash set, so every picture is decoded for PDQ (and, in the standard profile, for its review thumbnail) and
every video and GIF for its frames. Which files are bad is decided independently, by calling the decoder
boundary on each file's bytes: a picture whose PDQ hash cannot be computed must have a
``perceptual-skipped`` warning, a video whose frames cannot all be hashed a ``video-skipped`` or
``video-incomplete`` one. Then ``--resume`` and the review UI's thumbnail meet the same files.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from PIL import Image

from safenet.analysis.filetype import HEAD_BYTES, MediaKind, sniff
from safenet.analysis.pdq import PdqMode, Skipped, compute
from safenet.analysis.video.hasher import hash_video
from safenet.analysis.video.model import Stop, VideoSettings
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.cli import main
from safenet.report.data import report_data
from tests.builders import jpeg, write
from tests.datafiles import DATA
from tests.mutants import mutants

PERCEPTUAL = {"perceptual-skipped"}
VIDEO = {"video-skipped", "video-incomplete"}


def _corpus_media() -> dict[str, list[Path]]:
    """Corpus pictures and videos by extension, smallest first."""
    found: dict[str, list[Path]] = {}
    for folder in ("media", "pdq"):
        for path in (DATA / folder).rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    kind = sniff(handle.read(HEAD_BYTES)).kind
                if kind in (MediaKind.IMAGE, MediaKind.VIDEO):
                    found.setdefault(path.suffix.lower(), []).append(path)
    return {suffix: sorted(paths, key=lambda p: p.stat().st_size) for suffix, paths in found.items()}


def _animated_gif() -> bytes:
    pictures = [Image.new("RGB", (16, 16), (60 * i, 90, 200 - 60 * i)) for i in range(3)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return out.getvalue()


def build_exhibit(root: Path, files_per_type: int, per_file: int) -> dict[str, set[str]]:
    """Write mutants under ``root``; return each bad file's name and the warning codes one of which it needs."""
    written: dict[str, bytes] = {}
    for suffix, paths in sorted(_corpus_media().items()):
        for number, path in enumerate(paths[:files_per_type]):
            for i, mutant in enumerate(mutants(path.read_bytes(), 1000 * number + len(suffix), per_file)):
                written[f"{path.stem}-{i}{suffix}"] = mutant.data
    gif = _animated_gif()
    for length in (95, 120, 160):  # prefixes whose frame count raised IndexError and ended the run
        written[f"truncated-animation-{length}.gif"] = gif[:length]
    bad: dict[str, set[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in written.items():
            write(root, name, data)
            kind = sniff(data[:HEAD_BYTES]).kind
            if kind is MediaKind.IMAGE and isinstance(compute(data, PdqMode.FAST), Skipped):
                bad[name] = PERCEPTUAL
            elif kind is MediaKind.VIDEO and hash_video(data, VideoSettings.full()).stop is not Stop.END:
                bad[name] = VIDEO
    return bad


def _hash_set(tmp_path: Path, hashdb: Path) -> None:
    """A PDQ set of one unrelated picture: every mutant is decoded for PDQ, none matches exactly."""
    write(tmp_path / "reference", "known.jpg", jpeg(77, (320, 240)))
    build = ["hashset", "build", str(tmp_path / "reference"), "--name", "ref", "--kind", "illicit"]
    assert main([*build, "--category", "A", "--scheme", "uk", "--hashdb", str(hashdb)]) == 0


def _triage(tmp_path: Path, root: Path, *extra: str) -> int:
    hashdb = tmp_path / "hashdb"
    if not hashdb.exists():
        _hash_set(tmp_path, hashdb)
    argv = ["triage", str(root), "--case", str(tmp_path / "case"), "--exhibit", "EX1", "--hashset", "ref"]
    return main([*argv, "--hashdb", str(hashdb), *extra])


def _assert_warned(case_path: Path, bad: dict[str, set[str]]) -> None:
    case = Case.create_or_open(case_path)
    try:
        found = report_data(case)["warnings"]
    finally:
        case.close()
    missing = [name for name, codes in bad.items() if not any(w["code"] in codes and name in w["path"] for w in found)]
    assert not missing, f"no warning for {len(missing)} bad files, e.g. {missing[:5]}"


def test_mutated_media_end_in_warnings_not_in_an_ended_run(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    bad = build_exhibit(root, files_per_type=2, per_file=6)
    assert len(bad) >= 20  # the mutants do damage; else this test tests nothing
    assert _triage(tmp_path, root, "--profile", "standard", "--executor", "threads") == 0
    _assert_warned(tmp_path / "case", bad)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_many_mutated_media_in_every_executor(tmp_path: Path, executor: str) -> None:
    root = tmp_path / "ev"
    bad = build_exhibit(root, files_per_type=8, per_file=8)
    assert _triage(tmp_path, root, "--profile", "standard", "--executor", executor) == 0
    _assert_warned(tmp_path / "case", bad)


def test_resume_and_review_thumbnails_meet_a_truncated_animation(tmp_path: Path) -> None:
    from safenet.web.settings import Preferences, WebSettings  # the web app's imports: only this test needs them
    from safenet.web.thumbs import Thumbnailer

    root = tmp_path / "ev"
    write(root, "a-hit.jpg", jpeg(77, (320, 240)))  # the set's own picture: stops the first run
    write(root, "b-truncated.gif", _animated_gif()[:120])
    write(root, "c-garbage.gif", b"GIF89a" + bytes(range(256)) * 4)
    assert _triage(tmp_path, root, "--profile", "standard", "--stop-at-first-hit") == 0
    assert _triage(tmp_path, root, "--resume") == 0
    case = Case.create_or_open(tmp_path / "case")
    try:
        with case.sessions() as s:
            ids = {row.name: row.id for row in s.query(ItemRow)}
        thumbnails = Thumbnailer(case, WebSettings())
        for name in ("b-truncated.gif", "c-garbage.gif"):
            picture = Image.open(io.BytesIO(thumbnails.thumbnail(ids[name], Preferences())))
            assert picture.mode == "L"  # a blurred thumbnail or a placeholder; never an error
    finally:
        case.close()
