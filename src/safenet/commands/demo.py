"""``safenet demo``: benign demo evidence and a demo hash set, triaged, and the summary printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safenet.commands.common import out, user_errors


def demo_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where demo evidence, hash sets and the case go.")] = Path(
        "demo-out"
    ),
) -> None:
    """Build benign demo evidence and a demo hash set, triage it, and print the summary."""
    from safenet.demo import run_demo

    with user_errors():
        run_demo(workdir, out)
