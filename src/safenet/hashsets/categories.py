"""Category schemes as data: the codes a hash set uses and how each maps onto the UK A/B/C categories.

The schemes live in YAML files (``hashsets/schemes/*.yaml``) rather than in code because the real codes of
some profiles (VICS UK) are not public: a force must be able to confirm or correct them without a release.
An unmapped code is never guessed into A/B/C; it is reported as ``unknown:<code>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from safenet.hashsets.model import HashSetError

UK = "uk"
UNCATEGORISED = "uncategorised"
NON_INDECENT = "non-indecent"
UNKNOWN_PREFIX = "unknown:"
# Where an unmapped code ranks: below C (a set said *something*, it may be severe) but above "not graded"
# and "not indecent". Severities of the real codes are data in uk.yaml (A 40, B 30, C 20, ...).
UNKNOWN_SEVERITY = 15

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Category:
    """One code of a scheme."""

    code: str
    label: str
    severity: int
    illicit: bool


@dataclass(frozen=True)
class Scheme:
    """A set of category codes plus the mapping from each raw code to a UK code."""

    name: str
    label: str
    categories: tuple[Category, ...]
    to_uk: Mapping[str, str]
    confirmed: bool = True
    note: str = ""

    def lookup(self, raw: str | None) -> Category | None:
        """The category with this raw code, or None when the code is absent or not in the scheme."""
        if raw is None:
            return None
        code = raw.strip()
        for category in self.categories:
            if category.code == code:
                return category
        return None

    def uk_code(self, raw: str | None) -> str:
        """UK code for a raw code: None means uncategorised; an unmapped code becomes ``unknown:<raw>``."""
        if raw is None:
            return UNCATEGORISED
        code = raw.strip()
        if code == "":
            return UNCATEGORISED
        mapped = self.to_uk.get(code)
        return mapped if mapped is not None else f"{UNKNOWN_PREFIX}{code}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for the snapshot the store keeps next to each imported set."""
        return {
            "name": self.name,
            "label": self.label,
            "confirmed": self.confirmed,
            "note": self.note,
            "categories": [
                {"code": c.code, "label": c.label, "severity": c.severity, "illicit": c.illicit}
                for c in self.categories
            ],
            "to_uk": dict(self.to_uk),
        }


def load_schemes() -> dict[str, Scheme]:
    """The schemes shipped with Safenet, by name (a fresh dict: callers may add their own)."""
    return dict(_builtin_schemes())


def uk_scheme() -> Scheme:
    """The UK scheme that every other scheme maps onto."""
    return _builtin_schemes()[UK]


def get_scheme(name: str) -> Scheme:
    """A shipped scheme by name, or a HashSetError listing the names there are."""
    schemes = _builtin_schemes()
    try:
        return schemes[name]
    except KeyError:
        known = ", ".join(sorted(schemes))
        raise HashSetError(
            f"unknown category scheme '{name}'; use one of {known} or give your own with --scheme-file"
        ) from None


def load_scheme_file(path: Path) -> Scheme:
    """Read a user-supplied scheme YAML (same layout as the shipped ones) and check it fully."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HashSetError(f"cannot read scheme file {path}: {exc}; check the path and that it is UTF-8") from exc
    return _parse_scheme(text, str(path), uk_codes=frozenset(uk_scheme().to_uk.values()))


def severity(code: str) -> int:
    """Severity of a UK code; ``unknown:*`` and anything unrecognised rank at UNKNOWN_SEVERITY."""
    category = uk_scheme().lookup(code)
    return category.severity if category is not None else UNKNOWN_SEVERITY


def most_severe(codes: Iterable[str]) -> str:
    """The most severe UK code among ``codes`` (A > B > C > unknown:* > uncategorised > non-indecent).

    Raises ValueError on an empty iterable, like ``max``: "no category" must be decided by the caller.
    """
    best: str | None = None
    best_rank = -1
    for code in codes:
        rank = severity(code)
        if rank > best_rank or (rank == best_rank and best is not None and code < best):
            best, best_rank = code, rank
    if best is None:
        raise ValueError("most_severe() needs at least one category code")
    return best


@functools.cache
def _builtin_schemes() -> dict[str, Scheme]:
    folder = resources.files("safenet.hashsets").joinpath("schemes")
    texts = {
        entry.name: entry.read_text(encoding="utf-8") for entry in folder.iterdir() if entry.name.endswith(".yaml")
    }
    uk = _parse_scheme(texts.pop(f"{UK}.yaml"), f"{UK}.yaml", uk_codes=None)
    uk_codes = frozenset(c.code for c in uk.categories)
    schemes = {uk.name: uk}
    for file_name, text in sorted(texts.items()):
        scheme = _parse_scheme(text, file_name, uk_codes=uk_codes)
        if scheme.name in schemes:
            raise HashSetError(f"two shipped scheme files are named '{scheme.name}'; rename one")
        schemes[scheme.name] = scheme
    return schemes


def scheme_from_dict(data: Mapping[str, Any], origin: str) -> Scheme:
    """Rebuild a Scheme from ``Scheme.as_dict()`` output (the snapshot a store keeps), checking it fully."""
    return _scheme_from_data(dict(data), origin, uk_codes=frozenset(uk_scheme().to_uk.values()))


def _parse_scheme(text: str, origin: str, uk_codes: frozenset[str] | None) -> Scheme:
    """Build a Scheme from YAML text; ``uk_codes`` None means this is the UK scheme itself."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HashSetError(f"scheme file {origin} is not valid YAML ({exc}); fix the file") from exc
    return _scheme_from_data(data, origin, uk_codes)


def _scheme_from_data(data: object, origin: str, uk_codes: frozenset[str] | None) -> Scheme:
    if not isinstance(data, dict):
        raise HashSetError(f"scheme file {origin} must be a YAML mapping with name, label, categories, to_uk")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HashSetError(f"scheme file {origin} needs a 'name' of lower-case letters, digits and '-', not {name!r}")
    label = data.get("label", name)
    categories = tuple(_parse_category(item, origin) for item in _as_list(data.get("categories"), origin))
    codes = [c.code for c in categories]
    if len(set(codes)) != len(codes):
        raise HashSetError(f"scheme file {origin} lists a category code twice; each code must appear once")
    to_uk = _parse_mapping(data.get("to_uk"), origin)
    allowed = frozenset(codes) if uk_codes is None else uk_codes
    for raw, uk in to_uk.items():
        if uk not in allowed:
            raise HashSetError(
                f"scheme file {origin} maps code '{raw}' to '{uk}', which is not a UK code; "
                f"use one of {', '.join(sorted(allowed))}"
            )
    confirmed = data.get("confirmed", True)
    if not isinstance(confirmed, bool):
        raise HashSetError(f"scheme file {origin}: 'confirmed' must be true or false")
    return Scheme(
        name=name,
        label=str(label),
        categories=categories,
        to_uk=to_uk,
        confirmed=confirmed,
        note=str(data.get("note") or ""),
    )


def _as_list(value: object, origin: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise HashSetError(f"scheme file {origin}: 'categories' must be a list")
    return value


def _code(value: object, origin: str) -> str:
    # bool is an int subclass: YAML 1.1 reads a bare `no` as False, which must not become the code "False".
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise HashSetError(f"scheme file {origin}: category code {value!r} must be text or a whole number")
    code = str(value).strip()
    if not code:
        raise HashSetError(f"scheme file {origin}: a category code is empty")
    return code


def _parse_category(item: object, origin: str) -> Category:
    if not isinstance(item, dict):
        raise HashSetError(f"scheme file {origin}: each category needs code, label, severity and illicit")
    severity_value = item.get("severity", 0)
    illicit = item.get("illicit", False)
    if isinstance(severity_value, bool) or not isinstance(severity_value, int):
        raise HashSetError(f"scheme file {origin}: severity {severity_value!r} must be a whole number")
    if not isinstance(illicit, bool):
        raise HashSetError(f"scheme file {origin}: illicit {illicit!r} must be true or false")
    code = _code(item.get("code"), origin)
    return Category(code=code, label=str(item.get("label", code)), severity=severity_value, illicit=illicit)


def _parse_mapping(value: object, origin: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HashSetError(f"scheme file {origin}: 'to_uk' must be a mapping of raw code to UK code")
    return {_code(raw, origin): _code(uk, origin) for raw, uk in value.items()}
