"""Plain-text lines of the operation's views, for the command line (the web renders the same views itself)."""

from __future__ import annotations

from safenet.ops.figures import WeeklyReport
from safenet.ops.people import PersonView
from safenet.ops.visits import VisitView


def visit_lines(view: VisitView) -> list[str]:
    raise NotImplementedError


def person_lines(view: PersonView) -> list[str]:
    raise NotImplementedError


def report_lines(report: WeeklyReport) -> list[str]:
    raise NotImplementedError
