"""PDQ hash lists: a 64-digit hex PDQ hash per line with an optional quality, or a CSV with a header.

What is accepted (first match wins, decided from the first non-blank, non-comment line):

- a CSV header naming a ``pdq`` (or ``pdq_hash``/``pdqhash``) column, optionally ``quality``, ``category``,
  ``name``/``filename``/``path`` and ``md5``/``sha1``/``sha256`` columns;
- ``hash,quality[,name]`` lines, as Meta's ``pdq-photo-hasher`` prints them;
- a first line ``PDQ`` followed by bare hashes (the X-Ways convention of an algorithm line);
- bare ``<hex>`` lines only with ``--format pdq``: a 64-digit hex line is otherwise a SHA-256 list, and
  Safenet never guesses between two meanings of the same text.

A quality outside 0..100 makes the entry unusable (skipped with a warning): a wrong quality could let a
featureless hash claim matches. No quality means "unknown", and such hashes are used for matching.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from safenet.hashsets.formats.base import HashSetFormat, clip, iter_lines, parse_count, parse_hex, strip_bom
from safenet.hashsets.model import HashKind, HashRecord, SetKind, WarnFn

_LINE_RE = re.compile(r"^(?P<hex>[0-9A-Fa-f]{64})(?:\s*[,;\t]\s*(?P<quality>[^,;\t]*)(?:\s*[,;\t]\s*(?P<name>.*))?)?$")
_BARE_RE = re.compile(r"^(?P<hex>[0-9A-Fa-f]{64})(?:\s+(?P<quality>\d{1,3}))?$")
_HASH_COLUMNS = ("pdq", "pdq_hash", "pdqhash")
_QUALITY_COLUMNS = ("quality", "pdq_quality")
_NAME_COLUMNS = ("name", "filename", "file", "path")
_SNIFF_LINES = 20


def _first_line(head: bytes) -> tuple[int, str] | None:
    for number, raw in enumerate(strip_bom(head).split(b"\n"), 1):
        text = raw.decode("utf-8", errors="replace").strip()
        if text and not text.startswith("#"):
            return number, text
    return None


def _csv_row(text: str) -> list[str] | None:
    """One line's CSV fields, or None where the csv module refuses it (a bare CR, a field over its limit)."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return None


def _header(text: str) -> list[str] | None:
    """Column names when ``text`` is a CSV header with a PDQ column, else None."""
    names = [n.strip().lower().replace(" ", "_") for n in _csv_row(text) or ()]
    return names if any(n in _HASH_COLUMNS for n in names) else None


class PdqListFormat(HashSetFormat):
    """PDQ hashes: ``hash,quality[,name]`` lines, a ``PDQ`` algorithm line, or a CSV with a header."""

    NAME: ClassVar[str] = "pdq"
    DEFAULT_KIND: ClassVar[SetKind | None] = None
    DESCRIPTION: ClassVar[str] = "PDQ hash lists: hex hash with optional quality per line, or CSV with a header"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        if b"\x00" in head:
            return False
        first = _first_line(head)
        if first is None:
            return False
        text = first[1]
        if text.upper() == "PDQ" or _header(text) is not None:
            return True
        lines = [ln.strip() for ln in strip_bom(head).decode("utf-8", "replace").splitlines()[:_SNIFF_LINES]]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        quality_lines = [m for m in map(_LINE_RE.match, lines) if m and m.group("quality") is not None]
        return bool(quality_lines) and len(quality_lines) * 2 > len(lines)

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        columns: list[str] | None = None
        header_line = 0
        for number, raw in iter_lines(path, warn):
            text = raw.decode("utf-8", errors="backslashreplace")
            if number == 1:
                text = text.removeprefix("\ufeff")
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not header_line:
                header_line = number
                if stripped.upper() == "PDQ":
                    continue
                columns = _header(stripped)
                if columns is not None:
                    continue
            ref = f"line {number}"
            result = _csv_record(columns, stripped, ref) if columns else _line_record(stripped, ref)
            if isinstance(result, str):
                warn(ref, result)
            else:
                yield result


def _quality(text: str | None) -> int | str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    quality = parse_count(value)
    if quality is None or quality > 100:
        return f"PDQ quality '{clip(value)}' is not a number from 0 to 100; entry skipped"
    return quality


def _pdq(text: str) -> bytes | str:
    parsed = parse_hex(text, HashKind.SHA256)  # same width (64 hex digits); only the bytes are used
    if isinstance(parsed, str):
        return f"PDQ hash: {parsed.replace('SHA256', 'PDQ')}; entry skipped"
    return parsed[1]


def _line_record(text: str, ref: str) -> HashRecord | str:
    match = _LINE_RE.match(text) or _BARE_RE.match(text)
    if match is None:
        return f"not a PDQ line (64 hex digits, then optionally a quality): '{clip(text)}'; skipped"
    quality = _quality(match.group("quality"))
    if isinstance(quality, str):
        return quality
    name = match.groupdict().get("name")
    return HashRecord(
        None, None, None, None, name=name or None, ref=ref, pdq=bytes.fromhex(match.group("hex")), pdq_quality=quality
    )


def _csv_record(columns: list[str], text: str, ref: str) -> HashRecord | str:
    values = _csv_row(text)
    if values is None:
        return f"not a CSV row: '{clip(text)}'; skipped"
    row = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(columns)}
    hash_text = next((row[c] for c in _HASH_COLUMNS if row.get(c)), "")
    if not hash_text:
        return "no PDQ hash in this row; skipped"
    pdq = _pdq(hash_text)
    if isinstance(pdq, str):
        return pdq
    quality = _quality(next((row[c] for c in _QUALITY_COLUMNS if row.get(c)), None))
    if isinstance(quality, str):
        return quality
    digests: dict[HashKind, bytes] = {}
    for kind in (HashKind.MD5, HashKind.SHA1, HashKind.SHA256):
        value = row.get(kind.value)
        if value:
            parsed = parse_hex(value, kind)
            if isinstance(parsed, str):
                return f"{kind.name}: {parsed}; entry skipped"
            digests[kind] = parsed[1]
    return HashRecord(
        md5=digests.get(HashKind.MD5),
        sha1=digests.get(HashKind.SHA1),
        sha256=digests.get(HashKind.SHA256),
        category=row.get("category") or None,
        name=next((row[c] for c in _NAME_COLUMNS if row.get(c)), None),
        ref=ref,
        pdq=pdq,
        pdq_quality=quality,
    )
