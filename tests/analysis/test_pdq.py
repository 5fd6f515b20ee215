"""PDQ exact path against the C++ reference (golden vectors), dihedral, EXIF, colour modes, trimming."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from safenet.analysis.pdq import COPY_ORIENTATION, PdqMode, PdqResult, Skipped, compute, hamming, hash_rgb
from tests.datafiles import DATA

CORPUS = DATA
PDQ = CORPUS / "pdq"
GOLDEN = list(csv.DictReader((PDQ / "pdq_golden_vectors.csv").open(encoding="utf-8")))
# The four 12 MP exif-rotn rows are not carried in tests/data (14 MB of one photo in four orientations): the
# 12 MP path and EXIF rotation are tested on a picture built here (``twelve_mp``) and on Pillow's hopper files.
NOT_CARRIED = {f"reg-test-input/exif-rotn/exif-rotn-{n}.jpg" for n in (1, 3, 6, 8)}
CHECKED = [r for r in GOLDEN if r["path_in_ThreatExchange_pdq_data"] not in NOT_CARRIED]
MODES = PDQ / "misc-images/modes"
#: Files of ``modes/`` rebuilt from ``original.jpg`` by the folder's own recipe (its README: convert, save),
#: because they are large and lossless: RGBA.png (2.9 MB) has exactly original.jpg's pixels and alpha 255.
BUILT_MODES = {"RGBA.png": "RGBA"}


def _modes_file(name: str, folder: Path) -> Path:
    """A ``modes/`` file: the carried one, or one rebuilt into ``folder`` (pixel-identical to the corpus file)."""
    if name not in BUILT_MODES:
        return MODES / name
    target = folder / name
    if not target.exists():
        with Image.open(MODES / "original.jpg") as original:
            original.convert(BUILT_MODES[name]).save(target)
    return target


@pytest.fixture(scope="module")
def built_modes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdq-modes")


@pytest.fixture(scope="module")
def twelve_mp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP (4000×3000) JPEG photo stored sideways with EXIF orientation 6, as a phone writes one."""
    with Image.open(CORPUS / "media/photos/chelsea.png") as photo:
        big = photo.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    path = tmp_path_factory.mktemp("pdq-12mp") / "sideways.jpg"
    big.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=90, exif=exif)
    return path


def _hash(path: Path | bytes, mode: PdqMode = PdqMode.EXACT, **kw: bool) -> PdqResult:
    result = compute(path, mode, **kw)
    assert isinstance(result, PdqResult), result
    return result


def test_golden_file_has_every_row() -> None:
    assert len(GOLDEN) == 44 and len(CHECKED) == 40


def test_a_rebuilt_modes_file_has_the_corpus_file_s_mode_and_size(built_modes: Path) -> None:
    """The answer key's MD5 is of the corpus file's bytes, which a rebuild need not repeat; its mode and size must
    match, and its pixels are checked by the row's reference hash in ``test_exact_path_reproduces_reference``."""
    for name, mode in BUILT_MODES.items():
        row = next(r for r in GOLDEN if r["path_in_ThreatExchange_pdq_data"] == f"misc-images/modes/{name}")
        with Image.open(_modes_file(name, built_modes)) as image:
            assert image.mode == mode == row["pil_mode"]
            assert image.size == (int(row["width"]), int(row["height"]))


@pytest.mark.parametrize("row", CHECKED, ids=[r["path_in_ThreatExchange_pdq_data"] for r in CHECKED])
def test_exact_path_reproduces_reference(row: dict[str, str], built_modes: Path) -> None:
    """Distance 0 on every row. The reference is the file's pixels as stored, so EXIF is not applied.

    Five rows (c.png, LA.png, RGBA.png, pen-and-coaster.png: alpha; CMYK.jpg) have no ``cpp_ref_hash``:
    the C++ tool exits on images that CImg loads with other than 1 or 3 channels. For those the answer
    key's other column, pdqhash on the CImg-style 512×512 reduction of the viewer's RGB, is the reference.
    """
    relative = row["path_in_ThreatExchange_pdq_data"]
    name = relative.removeprefix("misc-images/modes/")
    path = _modes_file(name, built_modes) if name in BUILT_MODES else PDQ / relative
    result = _hash(path, orient=False)
    if row["cpp_ref_hash"]:
        assert result.full.hex == row["cpp_ref_hash"]
        assert result.quality == int(row["cpp_ref_quality"])
    else:
        assert row["pil_mode"] in ("RGBA", "LA", "CMYK")
        assert result.full.hex == row["pdqhash_cimg512_hash"]
        assert result.quality == int(row["pdqhash_fullres_quality"])


@pytest.mark.parametrize("name", sorted({p.name for p in MODES.iterdir() if p.suffix != ".md"} | set(BUILT_MODES)))
def test_colour_modes_hash_like_the_original(name: str, built_modes: Path) -> None:
    """CMYK (complement in pytx) and palette (38–42 bits off in pytx) come out as the photo looks."""
    original = _hash(MODES / "original.jpg").full.hash
    expected = {"1.png": 12, "PA.webp": 2}.get(name, 0)  # 1-bit dithering; PA stored lossy as WebP
    for mode in PdqMode:
        assert hamming(_hash(_modes_file(name, built_modes), mode).full.hash, original) == expected


def test_cmyk_jpeg_is_not_the_complement() -> None:
    rgb = _hash(CORPUS / "media/pillow/pil_sample_rgb.jpg").full.hash
    cmyk = _hash(CORPUS / "media/pillow/pil_sample_cmyk.jpg").full.hash
    assert hamming(rgb, cmyk) <= 16


DIHEDRAL = {
    "bridge-1-original.jpg": "original",
    "bridge-2-rotate-90.jpg": "rotate-90",
    "bridge-3-rotate-180.jpg": "rotate-180",
    "bridge-4-rotate-270.jpg": "rotate-270",
    "bridge-5-flipx.jpg": "flip-x",
    "bridge-6-flipy.jpg": "flip-y",
    "bridge-7-flip-plus-1.jpg": "flip-plus-1",
    "bridge-8-flip-minus-1.jpg": "flip-minus-1",
}


@pytest.mark.parametrize("mode", list(PdqMode))
@pytest.mark.parametrize(("name", "orientation"), DIHEDRAL.items())
def test_dihedral_match_names_the_orientation(name: str, orientation: str, mode: PdqMode) -> None:
    """bridge-2-rotate-90.jpg is found as the original rotated by 90, and so on for all eight."""
    known = _hash(PDQ / "reg-test-input/dih/bridge-1-original.jpg").full.hash
    hashes = _hash(PDQ / "reg-test-input/dih" / name, mode).full.hashes
    distances = [hamming(h, known) for h in hashes]
    best = min(range(8), key=distances.__getitem__)
    assert distances[best] <= 20  # measured 0-20: each file is a separate JPEG encoding
    assert COPY_ORIENTATION[best] == orientation
    assert sorted(distances)[1] > 100  # the other seven are unrelated


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("ext", ["jpg", "webp"])
def test_exif_orientation_is_applied(orientation: int, ext: str) -> None:
    upright = _hash(CORPUS / "media/pillow/hopper.jpg").full.hash
    rotated = CORPUS / f"media/pillow/hopper_orientation_{orientation}.{ext}"
    applied = _hash(rotated)
    assert applied.orientation == orientation
    # each file is its own lossy encode of the picture: up to 8 bits here (orientations 5-8 as JPEG, 3, 4 and 6 as
    # WebP), with room for another machine's WebP decoder; not applied, the same files are 20 or more bits off
    assert hamming(applied.full.hash, upright) <= 10
    assert hamming(_hash(rotated, orient=False).full.hash, upright) >= 20


def test_exact_with_exif_equals_reference_on_physically_rotated_pixels(twelve_mp: Path) -> None:
    path = twelve_mp
    with Image.open(path) as image:
        rotated = np.asarray(image.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    assert _hash(path).full.hash == hash_rgb(rotated).hash


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("pad", "colour"),
    [((0.2, 0.2, 0.2, 0.2), (0, 0, 0)), ((0.0, 0.12, 0.0, 0.12), (0, 0, 0)), ((0.1, 0, 0.1, 0), (255,) * 3)],
)
def test_uniform_borders_get_a_trimmed_hash(pad: tuple[float, float, float, float], colour: tuple[int, ...]) -> None:
    with Image.open(CORPUS / "media/photos/chelsea.png") as photo:
        photo = photo.convert("RGB")
        width, height = photo.size
        left, top, right, bottom = (int(p * s) for p, s in zip(pad, (width, height, width, height), strict=True))
        canvas = Image.new("RGB", (width + left + right, height + top + bottom), colour)
        canvas.paste(photo, (left, top))
        original = hash_rgb(np.asarray(photo)).hash
    padded = _hash(_png(canvas))
    assert padded.trimmed is not None
    assert padded.trim_box == (left, top, left + width, top + height)
    assert hamming(padded.trimmed.hash, original) == 0
    assert hamming(padded.full.hash, original) > hamming(padded.trimmed.hash, original)


def test_photo_without_borders_has_no_trimmed_hash() -> None:
    assert _hash(CORPUS / "media/photos/chelsea.png").trimmed is None


def test_fast_path_stays_close_to_exact_on_a_12_megapixel_jpeg(twelve_mp: Path) -> None:
    path = twelve_mp
    exact, fast = _hash(path, PdqMode.EXACT), _hash(path, PdqMode.FAST)
    assert hamming(exact.full.hash, fast.full.hash) <= 10
    assert fast.quality == 100


def test_result_is_typed_for_missing_file(tmp_path: Path) -> None:
    assert isinstance(compute(tmp_path / "none.jpg"), Skipped)


@pytest.mark.parametrize("name", ["media/photos/bricks.jpg", "media/pillow/hopper.jpg"])
def test_fast_path_matches_a_180_degree_copy_closely(name: str) -> None:
    # Both were 34–42 bits off when rotate-180 came from the one DCT (PDQ's decimation is not centred).
    with Image.open(CORPUS / name) as photo:
        photo = photo.convert("RGB")
        original = hash_rgb(np.asarray(photo)).hash
        turned = _hash(_png(photo.transpose(Image.Transpose.ROTATE_180)), PdqMode.FAST)
    assert turned.full.hash == hash_rgb(np.asarray(photo.transpose(Image.Transpose.ROTATE_180))).hash
    assert hamming(turned.full.hashes[2], original) <= 12
    assert min(range(8), key=lambda k: hamming(turned.full.hashes[k], original)) == 2


def test_trimming_stops_at_a_uniform_sky_inside_the_picture() -> None:
    # A later pass may only remove a band of a border colour already seen, not the picture's own sky.
    sky = np.full((300, 400, 3), (120, 170, 230), dtype=np.uint8)
    sky[150:] = np.random.default_rng(4).integers(0, 255, (150, 400, 3), dtype=np.uint8)
    canvas = np.zeros((360, 460, 3), dtype=np.uint8)
    canvas[30:330, 30:430] = sky
    assert _hash(_png(Image.fromarray(canvas))).trim_box == (30, 30, 430, 330)
