"""The one Jinja environment of the report templates (summary, charging summary, SFR1): autoescaped, so
every name, path and note that comes from evidence is escaped in HTML whatever template shows it."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

ENV = Environment(loader=PackageLoader("safenet.report", "templates"), autoescape=select_autoescape(default=True))


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)
