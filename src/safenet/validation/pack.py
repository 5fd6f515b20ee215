"""The validation pack: requirements, each with its data set, its check and its expected value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PACK_NAME = "pack.yaml"


class PackError(Exception):
    """The pack or its data cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str  # stable, e.g. "R-FS-03"
    statement: str  # what Safenet must do, in one sentence
    dataset: str  # path under the data folder; "archive.zip!member" names a member of a zip
    source: str  # where the expected value comes from (the answer key)
    check: str  # checks.CHECKS key
    expected: Any  # JSON-like; the check's observed value must equal it
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    version: str
    path: Path
    requirements: tuple[Requirement, ...]


_FIELDS = ("id", "statement", "dataset", "source", "check", "expected")


def load_pack(data: Path) -> Pack:
    """Read ``pack.yaml`` from the data folder, checking its shape (a malformed pack is one sentence, not a crash)."""
    path = data / "validation" / PACK_NAME
    if not path.is_file():
        raise PackError(
            f"no validation pack at {path}; run from a clone of the Safenet repository or give --data with the "
            "folder that holds validation/pack.yaml"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PackError(f"the validation pack {path} cannot be read ({exc}); restore it from the repository") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("requirements"), list):
        raise PackError(f"the validation pack {path} has no list of requirements; restore it from the repository")
    requirements: list[Requirement] = []
    for number, entry in enumerate(raw["requirements"], 1):
        if not isinstance(entry, dict) or any(name not in entry for name in _FIELDS):
            raise PackError(
                f"requirement {number} of {path} lacks one of {', '.join(_FIELDS)}; restore it from the repository"
            )
        requirements.append(
            Requirement(
                id=str(entry["id"]),
                statement=str(entry["statement"]),
                dataset=str(entry["dataset"]),
                source=str(entry["source"]),
                check=str(entry["check"]),
                expected=entry["expected"],
                params=dict(entry.get("params") or {}),
            )
        )
    ids = [r.id for r in requirements]
    if len(set(ids)) != len(ids):
        raise PackError(f"the validation pack {path} names a requirement twice; restore it from the repository")
    return Pack(str(raw.get("pack", "")), str(raw.get("version", "")), path, tuple(requirements))
