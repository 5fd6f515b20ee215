"""``safenet items CASE``: list every recorded item of a case (filters; table, CSV or JSON).

Reading a case to standard output changes nothing in it; a listing written to a file with ``--output`` is
owner-only and audited, as reports are.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from safenet.analysis.filetype import MediaKind
from safenet.case.records import ItemStatus
from safenet.owner_only import open_owner_only_text

_KINDS = tuple(k.value for k in MediaKind)
_STATUSES = tuple(s.value for s in ItemStatus)


def items_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    exhibit: Annotated[list[str] | None, typer.Option("--exhibit", help="Only this exhibit (repeatable).")] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "--media", help=f"Only this media kind: {', '.join(_KINDS)} (repeatable)."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help=f"Only items in this state: {', '.join(_STATUSES)} (repeatable)."),
    ] = None,
    deleted: Annotated[
        bool | None,
        typer.Option("--deleted/--live", help="Only deleted or carved items / only live ones.", show_default=False),
    ] = None,
    path_prefix: Annotated[
        str | None, typer.Option("--path-prefix", help="Only items whose listed path starts with this.")
    ] = None,
    matched: Annotated[
        bool | None,
        typer.Option(
            "--matched/--unmatched",
            help="Only items an illicit hash set matched / only the others.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here (owner-only) instead of the screen.")
    ] = None,
) -> None:
    """List every recorded item: locator, size, times, digests and flags (deleted, carved, matched)."""
    from safenet.case.queries import ItemFilter, exhibit_labels, iter_items
    from safenet.case.store import Case
    from safenet.commands.common import Exit, err, fail, user_errors
    from safenet.report.listing import LISTING_FORMATS, TABLE_LEGEND

    with user_errors(case):
        if fmt not in LISTING_FORMATS:
            fail(Exit.USAGE, f"unknown listing format '{fmt}'; choose from {', '.join(LISTING_FORMATS)}")
        for given, allowed, what in ((kind, _KINDS, "media kind"), (status, _STATUSES, "status")):
            for value in given or ():
                if value not in allowed:
                    fail(Exit.USAGE, f"unknown {what} '{value}'; choose from {', '.join(allowed)}")
        opened = Case.open_existing(case)
        labels = exhibit_labels(opened)
        for label in exhibit or ():
            if label not in labels:
                fail(Exit.USAGE, f"no exhibit '{label}' in this case; it has: {', '.join(labels) or 'none'}")
        wanted = ItemFilter(
            exhibits=tuple(exhibit or ()),
            media_kinds=tuple(kind or ()),
            statuses=tuple(status or ()),
            deleted=deleted,
            path_prefix=path_prefix,
            matched=matched,
        )
        write = LISTING_FORMATS[fmt]
        rows = iter_items(opened, wanted)
        if output is None:
            try:
                count = write(rows, sys.stdout)
                sys.stdout.flush()
            except BrokenPipeError:  # `safenet items CASE | head`: the reader has all it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
                raise typer.Exit(0) from None
        else:
            with open_owner_only_text(output) as fh:
                count = write(rows, fh)
            opened.audit.append("items-listed", format=fmt, path=str(output), items=count)
        if fmt == "table":
            err.print(TABLE_LEGEND)
        err.print(f"{count:,} item{'' if count == 1 else 's'} listed")
