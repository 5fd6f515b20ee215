"""The EXIF camera (make, model, body serial) read from a picture's header: exact values from a built JPEG,
bounded and cleaned texts, and a plain reason (never an exception) for hostile or truncated input."""

from __future__ import annotations

import io

from PIL import Image

from safenet.analysis.camera import MAX_TEXT, Camera, camera_of
from safenet.demo import picture
from tests.mutants import mutants


def camera_jpeg(make: str | bytes, model: str, serial: str | None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    if serial is not None:
        exif.get_ifd(0x8769)[0xA431] = serial
    buf = io.BytesIO()
    picture(5, (96, 72)).convert("RGB").save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_make_model_and_serial_are_read_from_the_header() -> None:
    found = camera_of(camera_jpeg("Canon", "Canon EOS 5D Mark IV", "012345678901"))
    assert found == Camera("Canon", "Canon EOS 5D Mark IV", "012345678901")
    assert isinstance(found, Camera) and found.text() == "make Canon, model Canon EOS 5D Mark IV, serial 012345678901"
    header_only = camera_jpeg("Nikon", "D750", None)[:2048]  # the EXIF segment comes before any pixel data
    assert camera_of(header_only) == Camera("Nikon", "D750", None)


def test_a_picture_without_exif_says_so() -> None:
    buf = io.BytesIO()
    picture(6, (64, 48)).convert("RGB").save(buf, format="PNG")
    found = camera_of(buf.getvalue())
    assert found == Camera(None, None, None)
    assert isinstance(found, Camera) and found.text() == "no camera make, model or serial in the picture's EXIF"


def test_hostile_texts_are_cleaned_and_bounded() -> None:
    found = camera_of(camera_jpeg("Evil\x1b[31m\x07", "M" * 5000, "S\x00N"))
    assert isinstance(found, Camera)
    assert found.make == "Evil[31m" and found.model == "M" * MAX_TEXT and found.serial == "SN"


def test_garbage_and_mutants_give_a_reason_never_an_exception() -> None:
    for garbage in (b"", b"not a picture at all", camera_jpeg("Canon", "EOS", "1")[:40]):
        found = camera_of(garbage)
        assert isinstance(found, str) and found.startswith("EXIF could not be read (")
    for mutant in mutants(camera_jpeg("Canon", "EOS", "1"), seed=12, count=200):
        assert isinstance(camera_of(mutant.data), Camera | str), mutant.how
