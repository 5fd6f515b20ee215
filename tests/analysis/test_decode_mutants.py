"""No decoder error leaves the decoder boundary: thousands of seeded mutants of every corpus media file.

Every image and video in tests/data/media and tests/data/pdq is damaged in seeded ways (``tests.mutants``)
and handed to what triage and the review UI call: ``pdq.compute`` (decode + hash), the review thumbnail, and
for videos and GIFs ``hash_video``. Each must return its typed result (a hash, a ``Skipped``, a
``VideoHash`` with a stop reason), never raise. A failure names the file, the seed and the mutation.
"""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from safenet.analysis.filetype import HEAD_BYTES, MediaKind, sniff
from safenet.analysis.pdq import PdqMode, PdqResult, Skipped, compute
from safenet.analysis.pdq.decode import Decoded, decode
from safenet.analysis.thumbs import default_thumbnail
from safenet.analysis.video.hasher import hash_video
from safenet.analysis.video.model import Stop, VideoHash, VideoSettings
from tests.datafiles import DATA
from tests.mutants import Mutant, mutants

IMAGE_MUTANTS = 16  # per picture: ~170 corpus pictures give ~2 700 mutants
VIDEO_MUTANTS = 24  # per video or GIF (a decode costs more)
#: Small bounds so a mutant that decodes for long costs little; the bounds themselves are tested elsewhere.
SETTINGS = VideoSettings(max_frames=4, time_budget_s=2.0)


def _media(kind: MediaKind | None = None) -> list[Path]:
    found = []
    for folder in ("media", "pdq"):
        for path in sorted((DATA / folder).rglob("*")):
            if path.is_file():
                with path.open("rb") as handle:
                    filetype = sniff(handle.read(HEAD_BYTES))
                if filetype.kind in (MediaKind.IMAGE, MediaKind.VIDEO) and (kind is None or filetype.kind is kind):
                    found.append(path)
    return found


IMAGES = _media(MediaKind.IMAGE)
VIDEOS = _media(MediaKind.VIDEO) + [p for p in IMAGES if p.suffix.lower() == ".gif"]
DONORS = [path.read_bytes()[:1024] for path in _media()[::7]]  # headers of other formats for header swaps


def _id(path: Path) -> str:
    return str(path.relative_to(DATA))


def _seeded(path: Path, count: int) -> Iterator[tuple[int, Mutant]]:
    seed = sum(_id(path).encode())  # fixed per file, different between files
    for mutant in mutants(path.read_bytes(), seed, count, DONORS):
        yield seed, mutant


def test_the_corpus_has_every_media_type() -> None:
    """The mutation tests below are only as wide as the corpus: fail loudly if it shrinks."""
    suffixes = {p.suffix.lower() for p in IMAGES + VIDEOS}
    assert {".jpg", ".png", ".gif", ".webp", ".avif", ".mp4"} <= suffixes
    assert len(IMAGES) >= 100 and len(VIDEOS) >= 4


@pytest.mark.parametrize("path", IMAGES, ids=_id)
def test_image_mutants_never_raise_out_of_the_decoder(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF and malformed MPOs: noise here
        for seed, mutant in _seeded(path, IMAGE_MUTANTS):
            try:
                hashed = compute(mutant.data, PdqMode.FAST)
                thumbnail = default_thumbnail(mutant.data)
            except Exception as exc:  # the assertion this test exists for
                pytest.fail(f"{_id(path)} seed {seed} {mutant.how}: {type(exc).__name__}: {exc}")
            assert isinstance(hashed, PdqResult | Skipped)
            assert thumbnail is None or thumbnail.startswith(b"\xff\xd8")


@pytest.mark.parametrize("path", VIDEOS, ids=_id)
def test_video_and_animation_mutants_never_raise_out_of_the_decoder(path: Path) -> None:
    for seed, mutant in _seeded(path, VIDEO_MUTANTS):
        try:
            hashed = hash_video(mutant.data, SETTINGS, sheet=True)
        except Exception as exc:  # the assertion this test exists for
            pytest.fail(f"{_id(path)} seed {seed} {mutant.how}: {type(exc).__name__}: {exc}")
        assert isinstance(hashed, VideoHash) and isinstance(hashed.stop, Stop)
        assert hashed.stop is not Stop.END or hashed.frames


def animated_gif(frames: int = 3) -> bytes:
    """A small benign animated GIF (plain colour frames)."""
    pictures = [Image.new("RGB", (16, 16), (60 * i, 90, 200 - 60 * i)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return out.getvalue()


def test_mutants_of_a_small_animated_gif_never_raise() -> None:
    """The corpus GIFs are few; a tiny built animation takes many mutants cheaply (frame descriptors)."""
    data = animated_gif(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mutant in mutants(data, 19, 400, DONORS):
            try:
                hashed, thumbnail = compute(mutant.data), default_thumbnail(mutant.data)
                video = hash_video(mutant.data, SETTINGS)
            except Exception as exc:  # the assertion this test exists for
                pytest.fail(f"animated GIF seed 19 {mutant.how}: {type(exc).__name__}: {exc}")
            assert isinstance(hashed, PdqResult | Skipped) and isinstance(video, VideoHash)
            assert thumbnail is None or thumbnail.startswith(b"\xff\xd8")


@pytest.mark.parametrize("length", [95, 120, 160, 186])
def test_a_truncated_animated_gif_keeps_its_first_frame(length: int) -> None:
    """Counting the frames of these prefixes raised IndexError out of ``decode`` and ended the triage."""
    decoded = decode(animated_gif()[:length], fast=True, orient=True)
    assert isinstance(decoded, Decoded)
    assert any("frame count unreadable" in note for note in decoded.notes)
    assert isinstance(compute(animated_gif()[:length]), PdqResult)


def test_decoder_messages_carry_no_memory_addresses() -> None:
    """Two runs over the same evidence must give the same warnings (Pillow names ``<BytesIO at 0x…>``)."""
    skipped = decode(b"not an image at all", fast=True, orient=True)
    assert isinstance(skipped, Skipped) and skipped.reason == "undecodable"
    assert "0x" not in skipped.message and "UnidentifiedImageError" in skipped.message


def test_pillows_own_warnings_stay_off_the_terminal(tmp_path: Path) -> None:
    """Pillow also reports damage as Python warnings, printed on stderr over the progress display."""
    data = (DATA / "media/pillow/iptc.jpg").read_bytes()
    [*_, mutant] = mutants(data, 7, 2)  # a flipped bit in a tag count: "Metadata Warning, tag 282 had too many"
    path = tmp_path / "damaged.jpg"
    path.write_bytes(mutant.data)
    script = "import sys; from safenet.analysis.pdq import compute; compute(open(sys.argv[1], 'rb').read())"
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert done.stderr == ""
