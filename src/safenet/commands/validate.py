"""``safenet validate``: run the method validation pack and write its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safenet.commands.common import Exit, fail, out, user_errors


def _default_data() -> Path:
    """The repository's answer-keyed test data, beside the source of an installation made from a clone."""
    return Path(__file__).resolve().parents[3] / "tests" / "data"


def validate_cmd(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder holding validation/pack.yaml and its data sets (default: the repository's tests/data).",
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where validation.json and validation.pdf are written.")
    ] = Path("validation-report"),
) -> None:
    """Run the method validation pack (answer-keyed data sets) and write a report; exit 6 if any requirement fails."""
    from rich.text import Text

    from safenet.console import plain
    from safenet.validation.pack import PackError, load_pack
    from safenet.validation.record import record_run
    from safenet.validation.runner import Outcome, run_pack, write_report

    def progress(outcome: Outcome) -> None:
        mark = Text("pass", style="green") if outcome.passed else Text("FAIL", style="bold red")
        line = Text.assemble(mark, " ", plain(f"{outcome.id}: {outcome.statement}"))
        if outcome.error:
            line.append(plain(f" (the check could not run: {outcome.error})"))
        out.print(line)

    with user_errors():
        try:
            pack = load_pack(data or _default_data())
        except PackError as exc:
            fail(Exit.USAGE, str(exc))
        run = run_pack(pack, data or _default_data(), progress)
        json_path, pdf_path, body = write_report(run, out_dir)
        record_run(run, body)
        out.print(plain(f"report: {pdf_path} and {json_path}; recorded as this installation's last validation run"))
        if not run.passed:
            fail(Exit.VERIFY_FAILED, f"method validation failed: {', '.join(run.failed)}")
        out.print(plain(f"method validation passed: {len(run.outcomes)} requirements"))
