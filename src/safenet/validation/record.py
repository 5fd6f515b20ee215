"""The installation's record of method validation runs, so that an SFR1 can cite the last one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from safenet.installation import data_dir
from safenet.owner_only import write_owner_only
from safenet.validation.runner import ValidationRun

RECORD_NAME = "last-validation.json"


@dataclass(frozen=True, slots=True)
class ValidationSummary:
    at: datetime
    tool_version: str
    build_digest: str
    passed: bool
    requirements: int
    failed: tuple[str, ...]
    report_sha256: str  # SHA-256 of the run's JSON report


def record_path() -> Path:
    return data_dir() / "validation" / RECORD_NAME


def record_run(run: ValidationRun, report_json: bytes) -> ValidationSummary:
    """Keep the run's summary (and its whole JSON report beside it) in the installation's data folder."""
    summary = ValidationSummary(
        at=run.at,
        tool_version=run.tool_version,
        build_digest=run.build_digest,
        passed=run.passed,
        requirements=len(run.outcomes),
        failed=run.failed,
        report_sha256=hashlib.sha256(report_json).hexdigest(),
    )
    folder = record_path().parent
    folder.mkdir(parents=True, exist_ok=True)
    write_owner_only(folder / f"validation-{run.at.strftime('%Y%m%dT%H%M%SZ')}.json", report_json)
    body = {
        "at": summary.at.isoformat(),
        "tool_version": summary.tool_version,
        "build_digest": summary.build_digest,
        "passed": summary.passed,
        "requirements": summary.requirements,
        "failed": list(summary.failed),
        "report_sha256": summary.report_sha256,
    }
    write_owner_only(record_path(), json.dumps(body, indent=2).encode())
    return summary


def last_validation() -> ValidationSummary | None:
    """The last validation run recorded in this installation, or None (none recorded, or the record unreadable)."""
    try:
        raw = json.loads(record_path().read_text(encoding="utf-8"))
        return ValidationSummary(
            at=datetime.fromisoformat(raw["at"]),
            tool_version=str(raw["tool_version"]),
            build_digest=str(raw["build_digest"]),
            passed=bool(raw["passed"]),
            requirements=int(raw["requirements"]),
            failed=tuple(str(f) for f in raw["failed"]),
            report_sha256=str(raw["report_sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
