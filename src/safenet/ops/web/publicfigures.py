"""The public figures as a self-contained HTML document and as a PDF (``report.pdf.html_to_pdf``).

Used by the dashboard's PDF link and by ``safenet ops figures --format html|pdf``. The document carries only
what ``PublicFigures`` holds: aggregate counts (small ones already suppressed), the period, the advice text.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from safenet.ops.figures import PublicFigures
from safenet.report.pdf import html_to_pdf

_ENV = Environment(loader=PackageLoader("safenet.ops.web", "templates"), autoescape=True, undefined=StrictUndefined)

#: The figures in the order they are published, with their public labels.
LABELS = (
    ("warrants_executed", "Warrants executed"),
    ("arrests", "Arrests"),
    ("charged", "People charged"),
    ("children_safeguarded", "Children safeguarded"),
    ("devices_examined", "Devices examined"),
)


def figure_rows(figures: PublicFigures) -> list[tuple[str, int | str]]:
    return [(label, getattr(figures, name)) for name, label in LABELS]


def figures_html(figures: PublicFigures) -> str:
    return _ENV.get_template("figures_document.html").render(figures=figures, rows=figure_rows(figures))


def figures_pdf(figures: PublicFigures) -> bytes:
    return html_to_pdf(figures_html(figures))


def write(figures: PublicFigures, fmt: str, output: Path) -> None:
    """``safenet ops figures --format html|pdf --output FILE``."""
    if fmt == "pdf":
        output.write_bytes(figures_pdf(figures))
    else:
        output.write_text(figures_html(figures), encoding="utf-8")
