"""hashdeep / md5deep audit files (``%%%% HASHDEEP-1.0``).

The column list is read from the second header line rather than assumed, because hashdeep writes only the
algorithms it was asked for, in its own order. The file name is the last column and may contain commas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from safenet.hashsets.formats.base import HashSetFormat, clip, iter_lines, parse_count, parse_hex, strip_bom
from safenet.hashsets.model import HashKind, HashRecord, HashSetError, SetKind, WarnFn

_MAGIC = b"%%%% HASHDEEP-1.0"
_KINDS = {"md5": HashKind.MD5, "sha1": HashKind.SHA1, "sha256": HashKind.SHA256}


class HashdeepFormat(HashSetFormat):
    """hashdeep 1.0 output: ``size,<algorithms...>,filename`` rows after two ``%%%%`` header lines."""

    NAME: ClassVar[str] = "hashdeep"
    DEFAULT_KIND: ClassVar[SetKind | None] = None
    DESCRIPTION: ClassVar[str] = "hashdeep / md5deep audit file (%%%% HASHDEEP-1.0)"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return strip_bom(head).startswith(_MAGIC)

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        columns: list[str] | None = None
        for number, raw in iter_lines(path, warn):
            line = raw.decode("utf-8", errors="backslashreplace").removeprefix("\ufeff")
            if line.startswith("%%%% HASHDEEP"):
                columns = None  # concatenated runs each start with their own header
            elif line.startswith("%%%%"):
                columns = [name.strip().lower() for name in line[4:].split(",")]
                _check_columns(columns, path, number)
            elif line.startswith("##") or not line.strip():
                continue
            elif columns is None:
                raise HashSetError(
                    f"{path} line {number} has data before the '%%%% size,...' column line; check it is hashdeep output"
                )
            else:
                record = _record(line, columns, f"line {number}", warn)
                if record is not None:
                    yield record


def _check_columns(columns: list[str], path: Path, number: int) -> None:
    if not columns or columns[-1] != "filename" or not any(name in _KINDS for name in columns):
        raise HashSetError(
            f"{path} line {number}: hashdeep column line {clip(','.join(columns))!r} needs at least one of "
            "md5, sha1, sha256 and filename last; check the file"
        )


def _record(line: str, columns: list[str], ref: str, warn: WarnFn) -> HashRecord | None:
    fields = line.split(",", len(columns) - 1)
    if len(fields) != len(columns):
        warn(ref, f"row has {len(fields)} fields, the header names {len(columns)}; skipped")
        return None
    values = dict(zip(columns, fields, strict=True))
    found: dict[HashKind, bytes] = {}
    problems = []
    for name, kind in _KINDS.items():
        if name in values:
            parsed = parse_hex(values[name], kind)
            if isinstance(parsed, str):
                problems.append(f"{kind.name}: {parsed}")
            else:
                found[kind] = parsed[1]
    if problems:
        warn(ref, "; ".join(problems) + ("; entry skipped" if not found else "; ignored"))
    if not found:
        return None
    size = values.get("size", "").strip()
    return HashRecord(
        md5=found.get(HashKind.MD5),
        sha1=found.get(HashKind.SHA1),
        sha256=found.get(HashKind.SHA256),
        category=None,
        size=parse_count(size),
        name=values["filename"],
        ref=ref,
    )
