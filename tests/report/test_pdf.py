"""The PDF writer leaves Pillow's handling of truncated pictures as it found it (WeasyPrint changes it)."""

from __future__ import annotations

import io

from PIL import Image, ImageFile

from safenet.report.pdf import html_to_pdf


def test_a_pdf_does_not_make_truncated_pictures_decodable() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    cut = buf.getvalue()[:-40]
    pdf = html_to_pdf("<p>counts</p>")
    assert pdf.startswith(b"%PDF")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    try:
        Image.open(io.BytesIO(cut)).load()
    except OSError:
        pass
    else:
        raise AssertionError("a truncated picture decoded after a PDF was written")
