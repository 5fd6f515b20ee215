"""Run the validation pack and write its report: each requirement, expected vs observed, pass or fail."""

from __future__ import annotations

import hashlib
import json
import platform
import tempfile
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safenet import __version__
from safenet.installation import build_digest
from safenet.reasons import reason_of
from safenet.validation.checks import CHECKS
from safenet.validation.pack import Pack, Requirement


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    statement: str
    dataset: str
    source: str
    check: str
    expected: Any
    observed: Any
    passed: bool
    error: str | None = None  # the check could not run: a failure, with the reason


@dataclass(frozen=True, slots=True)
class ValidationRun:
    pack: str
    pack_version: str
    pack_sha256: str
    at: datetime
    tool_version: str
    build_digest: str
    machine: str
    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.outcomes if not o.passed)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        out["passed"] = self.passed
        out["failed"] = list(self.failed)
        return out


def run_one(data: Path, requirement: Requirement, scratch: Path) -> Outcome:
    """Run one requirement's check in its own scratch folder. A check that raises is a failure with its reason:
    a validation run always finishes and reports every requirement."""
    check = CHECKS.get(requirement.check)
    fields = (requirement.id, requirement.statement, requirement.dataset, requirement.source, requirement.check)
    if check is None:
        return Outcome(*fields, requirement.expected, None, False, f"no check named {requirement.check!r}")
    folder = scratch / requirement.id
    folder.mkdir(parents=True, exist_ok=True)
    try:
        observed = json.loads(json.dumps(check(data, requirement, folder)))  # the JSON form is what is compared
    except Exception as exc:  # any failure of a check is that requirement failing, never a crash
        tail = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(*fields, requirement.expected, None, False, f"{reason_of(exc)} (at {tail.name})")
    return Outcome(*fields, requirement.expected, observed, observed == requirement.expected)


def run_pack(pack: Pack, data: Path, progress: Any = None) -> ValidationRun:
    """Run every requirement of the pack on the data folder, in a scratch folder removed afterwards."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="safenet-validate-") as scratch:
        for requirement in pack.requirements:
            outcome = run_one(data, requirement, Path(scratch))
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    return ValidationRun(
        pack=pack.name,
        pack_version=pack.version,
        pack_sha256=hashlib.sha256(pack.path.read_bytes()).hexdigest(),
        at=datetime.now(UTC),
        tool_version=__version__,
        build_digest=build_digest(),
        machine=f"{platform.node()} ({platform.platform()}, Python {platform.python_version()})",
        outcomes=tuple(outcomes),
    )


def write_report(run: ValidationRun, out: Path) -> tuple[Path, Path, bytes]:
    """Write ``validation.json`` and ``validation.pdf`` into ``out`` (owner-only); returns both paths and the JSON."""
    from safenet.owner_only import write_owner_only
    from safenet.report.pdf import html_to_pdf
    from safenet.report.templating import render

    out.mkdir(parents=True, exist_ok=True)
    body = json.dumps(run.to_json(), indent=2, sort_keys=True).encode()
    json_path, pdf_path = out / "validation.json", out / "validation.pdf"
    write_owner_only(json_path, body)
    page = {  # what the shared page style prints in the running header and footer
        "case_reference": "method validation",
        "tool": {"version": run.tool_version},
        "generated_at": run.at.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_owner_only(pdf_path, html_to_pdf(render("validation.html", run=run, doc=page)))
    return json_path, pdf_path, body
