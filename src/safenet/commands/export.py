"""``safenet export CASE --format vics|case-uco|dfxml``: graded and matched items for other systems.

``--all-items`` (DFXML only, a file-listing format) exports every recorded item instead. Anyone who can
read the case folder may export (as with reports); each export is audited in the case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text


def export_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[str, typer.Option("--format", help="vics (VICS 2.0 UK, for CAID), case-uco or dfxml.")],
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of <case>/reports/.")] = None,
    all_items: Annotated[
        bool, typer.Option("--all-items", help="Every recorded item, not only graded and matched ones (dfxml only).")
    ] = False,
) -> None:
    """Export graded and matched items: VICS 2.0 (UK profile), CASE/UCO JSON-LD or DFXML."""
    from safenet.case.store import Case
    from safenet.commands.common import Exit, fail, out, user_errors
    from safenet.report.exports import EVERY_ITEM_FORMATS, EXPORT_FORMATS, write_export

    with user_errors():
        if fmt not in EXPORT_FORMATS:
            fail(Exit.USAGE, f"unknown export format '{fmt}'; choose from {', '.join(EXPORT_FORMATS)}")
        if all_items and fmt not in EVERY_ITEM_FORMATS:
            fail(Exit.USAGE, f"--all-items works with --format {' or '.join(EVERY_ITEM_FORMATS)} only")
        path, count = write_export(Case.open_existing(case), fmt, output, every=all_items)
        out.print(Text(f"exported {count} items ({fmt}): {path}"))
