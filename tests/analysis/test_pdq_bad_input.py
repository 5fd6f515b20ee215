"""Hostile and odd images: a Skipped with a reason or a low-quality flag, never an exception or a match."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from safenet.analysis.pdq import PdqMode, PdqResult, Skipped, compute, hamming
from tests.datafiles import DATA

CORPUS = DATA
PILLOW = CORPUS / "media/pillow"


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 header claims another size (a decompression bomb's header)."""
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = bytearray(_encode(Image.fromarray(noise), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize("mode", list(PdqMode))
def test_30000_square_jpeg_is_refused_before_decoding(mode: PdqMode) -> None:
    result = compute(_jpeg_claiming(30000, 30000), mode)
    assert isinstance(result, Skipped) and result.reason == "too-large"


def test_pixel_limit_is_configurable() -> None:
    data = _encode(Image.new("RGB", (100, 100)))
    result = compute(data, PdqMode.EXACT, max_pixels=9999)
    assert isinstance(result, Skipped) and result.reason == "too-large"


@pytest.mark.parametrize("name", ["truncated_jpeg.jpg", "truncated_image.png"])
def test_truncated_files_are_skipped_with_reason(name: str) -> None:
    for mode in PdqMode:
        result = compute(PILLOW / name, mode)
        assert isinstance(result, Skipped) and result.reason == "truncated", result


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"GIF89a" + b"\xff" * 20])
def test_garbage_is_undecodable(data: bytes) -> None:
    result = compute(data)
    assert isinstance(result, Skipped) and result.reason == "undecodable"


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 1), (2, 2), (3, 200)])
def test_degenerate_geometry_never_matches(size: tuple[int, int]) -> None:
    noise = np.random.default_rng(2).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    result = compute(_encode(Image.fromarray(noise, "L")))
    assert isinstance(result, PdqResult)
    assert result.low_quality and result.variants() == ()
    assert result.low_quality_reason is not None and "degenerate" in result.low_quality_reason


def test_all_black_image_has_quality_zero_and_no_variants() -> None:
    result = compute(_encode(Image.new("RGB", (640, 480))))
    assert isinstance(result, PdqResult)
    assert result.quality == 0 and result.low_quality and result.variants() == ()
    assert result.trimmed is None  # a uniform image is not "all border"


@pytest.mark.parametrize(
    "path", ["media/pillow/iss634.gif", "media/pillow/iss634.webp", "media/video/newtonscradle.gif"]
)
def test_animated_images_hash_the_first_frame_with_a_note(path: str) -> None:
    result = compute(CORPUS / path)
    assert isinstance(result, PdqResult)
    assert any("first frame" in note for note in result.notes)


def _photo() -> Image.Image:
    with Image.open(CORPUS / "media/photos/chelsea.png") as image:
        return image.convert("RGB")


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = np.asarray(_photo().convert("L"), dtype=np.uint16)
    wide = Image.fromarray(grey * 257)  # I;16
    assert wide.mode == "I;16"
    eight = compute(_encode(_photo().convert("L")), PdqMode.EXACT)
    sixteen = compute(_encode(wide), PdqMode.EXACT)
    assert isinstance(eight, PdqResult) and isinstance(sixteen, PdqResult)
    assert hamming(eight.full.hash, sixteen.full.hash) == 0


@pytest.mark.parametrize("values", ["I", "F01", "F255"])
def test_wide_grey_modes_in_tiff(values: str) -> None:
    grey = np.asarray(_photo().convert("L"), dtype=np.float64)
    array = {
        "I": (grey * 256).astype(np.int32),
        "F01": (grey / 255).astype(np.float32),
        "F255": grey.astype(np.float32),
    }
    reference = compute(_encode(_photo().convert("L")), PdqMode.EXACT)
    result = compute(_encode(Image.fromarray(array[values]), "TIFF"), PdqMode.EXACT)
    assert isinstance(reference, PdqResult) and isinstance(result, PdqResult)
    assert hamming(reference.full.hash, result.full.hash) <= 4


def test_lab_tiff_hashes_like_rgb() -> None:
    from PIL import ImageCms

    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    lab = ImageCms.applyTransform(_photo(), to_lab)
    assert lab is not None and lab.mode == "LAB"
    reference = compute(_encode(_photo()), PdqMode.EXACT)
    result = compute(_encode(lab, "TIFF"), PdqMode.EXACT)
    assert isinstance(reference, PdqResult) and isinstance(result, PdqResult)
    assert hamming(reference.full.hash, result.full.hash) <= 8


def test_cmyk_tiff_hashes_like_rgb() -> None:
    reference = compute(_encode(_photo()), PdqMode.EXACT)
    result = compute(_encode(_photo().convert("CMYK"), "TIFF"), PdqMode.EXACT)
    assert isinstance(reference, PdqResult) and isinstance(result, PdqResult)
    assert hamming(reference.full.hash, result.full.hash) == 0
