"""The one Jinja environment of the report templates (summary, charging summary, SFR1): autoescaped, so
every name, path and note that comes from evidence is escaped in HTML whatever template shows it. Evidence text
that is not an item's recorded display (already made visible when recorded) goes through ``|shown``, so control
and bidi-override characters are shown escaped in the HTML and the PDF instead of reordering what is read."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from safenet.evidence.locator import display_safe

ENV = Environment(loader=PackageLoader("safenet.report", "templates"), autoescape=select_autoescape(default=True))
ENV.filters["shown"] = display_safe


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)
