"""HTML to PDF through WeasyPrint, without letting it change how the rest of Safenet decodes pictures.

Importing ``weasyprint.images`` sets Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True. In a
process that also decodes evidence (the review server writes the charging summary in-process; ``safenet
demo`` triages and then reports), every truncated picture read after the first PDF would then decode "fine",
grey-filled, instead of being refused: a reveal would show a picture that is not all there, and a PDQ hash
could be taken of a half-grey picture. Safenet's reports hold no pictures and Safenet never wants a truncated
picture decoded as if whole, so the flag is set back to False (Pillow's default) at once.
"""

from __future__ import annotations

from PIL import ImageFile


def html_to_pdf(html: str) -> bytes:
    """The PDF of one self-contained HTML document (WeasyPrint is heavy: imported on first use)."""
    try:
        from weasyprint import HTML

        return bytes(HTML(string=html).write_pdf())
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
