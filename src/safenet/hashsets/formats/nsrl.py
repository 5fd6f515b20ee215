"""NIST NSRL Reference Data Set: RDS 2.x ``NSRLFile.txt`` (quoted CSV) and RDS v3 (SQLite).

The NSRL is the known-software filter. It lists files that are *known*, which is not the same as harmless:
it lets a triage skip work, never clear an item. Releases hold 10^8 rows, so both readers stream, and the
text reader has a vectorised fast path for the usual ``"SHA-1","MD5",...`` row layout (docs/formats.md, NSRL).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from safenet.hashsets.formats.base import (
    LONG_LINE,
    BulkDigests,
    HashSetFormat,
    LineBlock,
    clip,
    decode_hex_rows,
    iter_line_blocks,
    parse_count,
    parse_hex,
    strip_bom,
)
from safenet.hashsets.model import HashKind, HashRecord, HashSetError, SetKind, WarnFn

_V2_PREFIXES = (b'"sha-1","md5"', b'"sha-1","filename"')
_COLUMNS = {"SHA-1": HashKind.SHA1, "SHA1": HashKind.SHA1, "MD5": HashKind.MD5, "SHA-256": HashKind.SHA256}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_FETCH = 65536


class NsrlV2Format(HashSetFormat):
    """RDS 1.x/2.x ``NSRLFile.txt``: columns found by name, so both historic column orders work."""

    NAME: ClassVar[str] = "nsrl-v2"
    DEFAULT_KIND: ClassVar[SetKind | None] = SetKind.KNOWN_GOOD
    DESCRIPTION: ClassVar[str] = 'NSRL RDS 2.x NSRLFile.txt ("SHA-1","MD5",... CSV)'

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return strip_bom(head).lower().startswith(_V2_PREFIXES)

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            layout = _Layout.from_header(next(_rows_of(reader, warn), None), path)
            for row in _rows_of(reader, warn):
                record = layout.record(row, f"line {reader.line_num}", warn)
                if record is not None:
                    yield record

    def read_bulk(self, path: Path, warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
        """Rows laid out exactly as RDS 2.x writes them are decoded in numpy; others go through csv."""
        with path.open("rb") as handle:
            header_line = handle.readline()
        text = header_line.decode("utf-8-sig", errors="replace")
        layout = _Layout.from_header(next(_rows_of(csv.reader([text]), warn, "line 1"), None), path)
        if not layout.standard:
            yield from self.read(path, warn)
            return
        for block in iter_line_blocks(path, warn, skip=len(header_line), first_line=2):
            yield from _standard_block(block, layout, warn)


class _Layout:
    """Where the digest, name and size columns are in this file's header."""

    def __init__(self, header: Sequence[str], path: Path) -> None:
        names = [name.strip().upper() for name in header]
        self.digests = {kind: names.index(col) for col, kind in _COLUMNS.items() if col in names}
        if not self.digests:
            raise HashSetError(f"{path} has no SHA-1 or MD5 column in its header; check it is an NSRL file")
        self.name = names.index("FILENAME") if "FILENAME" in names else None
        self.size = names.index("FILESIZE") if "FILESIZE" in names else None
        self.width = max([*self.digests.values(), self.name or 0, self.size or 0]) + 1
        self.standard = names[:2] == ["SHA-1", "MD5"]

    @classmethod
    def from_header(cls, header: Sequence[str] | None, path: Path) -> _Layout:
        if not header:
            raise HashSetError(f'{path} is empty; an NSRL file starts with a "SHA-1",... header line')
        return cls(header, path)

    def record(self, row: Sequence[str], ref: str, warn: WarnFn) -> HashRecord | None:
        if not row or (len(row) == 1 and not row[0].strip()):
            return None
        if row[0].strip().upper() in _COLUMNS:
            return None  # the header again: releases split over several discs are concatenated
        if len(row) < self.width:
            warn(ref, f"row has {len(row)} fields, the header needs {self.width}; skipped")
            return None
        found: dict[HashKind, bytes] = {}
        problems = []
        for kind, column in self.digests.items():
            parsed = parse_hex(row[column], kind)
            if isinstance(parsed, str):
                problems.append(f"{kind.name}: {parsed}")
            else:
                found[kind] = parsed[1]
        if problems:
            warn(ref, "; ".join(problems) + ("; entry skipped" if not found else "; ignored"))
        if not found:
            return None
        size_text = row[self.size].strip() if self.size is not None else ""
        return HashRecord(
            md5=found.get(HashKind.MD5),
            sha1=found.get(HashKind.SHA1),
            sha256=found.get(HashKind.SHA256),
            category=None,
            size=parse_count(size_text),
            name=row[self.name] if self.name is not None else None,
            ref=ref,
        )


def _standard_block(block: LineBlock, layout: _Layout, warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
    """``"<40 hex>","<32 hex>",...`` rows in numpy; anything else (or bad hex) one by one through csv."""
    lengths = block.ends - block.starts
    fixed = block.columns(0, 77)
    shape_ok = (
        (lengths >= 77)
        & (fixed[:, 0] == ord('"'))
        & (fixed[:, 41] == ord('"'))
        & (fixed[:, 42] == ord(","))
        & (fixed[:, 43] == ord('"'))
        & (fixed[:, 76] == ord('"'))
    )
    sha1, sha1_ok = decode_hex_rows(fixed[:, 1:41])
    md5, md5_ok = decode_hex_rows(fixed[:, 44:76])
    fast = shape_ok & sha1_ok & md5_ok
    if fast.any():
        yield BulkDigests({HashKind.SHA1: sha1[fast], HashKind.MD5: md5[fast]})
    for index in np.flatnonzero(~fast):
        ref = f"line {block.first_line + int(index)}"
        line = block.line(int(index))
        if line is None:
            warn(ref, LONG_LINE)
            continue
        for row in _rows_of(csv.reader(io.StringIO(line.decode("utf-8", errors="replace"))), warn, ref):
            record = layout.record(row, ref, warn)
            if record is not None:
                yield record


def _rows_of(reader: Any, warn: WarnFn, ref: str | None = None) -> Iterator[list[str]]:
    """csv rows; a row the csv module rejects (a huge field, say) is reported and passed over."""
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            warn(ref or f"line {reader.line_num}", f"not a CSV row ({exc}); skipped")
            continue
        yield row


class NsrlV3Format(HashSetFormat):
    """RDS v3 SQLite (minimal or full edition): ``SELECT DISTINCT sha256, sha1, md5 FROM FILE``."""

    NAME: ClassVar[str] = "nsrl-v3"
    DEFAULT_KIND: ClassVar[SetKind | None] = SetKind.KNOWN_GOOD
    DESCRIPTION: ClassVar[str] = "NSRL RDS v3 SQLite database (FILE/PKG tables or views)"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        if not head.startswith(_SQLITE_MAGIC):
            return False
        try:
            with closing(_connect(path)) as db:
                names = {str(row[0]).upper() for row in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error:
            return False
        return ("FILE" in names and "PKG" in names) or "METADATA" in names

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        for row_number, row in _rows(path):
            record = _v3_record(row, row_number, warn)
            if record is not None:
                yield record

    def read_bulk(self, path: Path, warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
        """Fetch many rows at a time and decode the hex columns in numpy; odd rows go one by one."""
        batch: list[tuple[int, tuple[object, ...]]] = []
        for item in _rows(path):
            batch.append(item)
            if len(batch) >= _FETCH:
                yield from _v3_batch(batch, warn)
                batch = []
        yield from _v3_batch(batch, warn)


def _connect(path: Path) -> sqlite3.Connection:
    """Open read-only and immutable: the user's database must never be modified, not even its journal."""
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def _rows(path: Path) -> Iterator[tuple[int, tuple[object, ...]]]:
    try:
        with closing(_connect(path)) as db:
            cursor = db.execute("SELECT DISTINCT sha256, sha1, md5 FROM FILE")
            number = 0
            while rows := cursor.fetchmany(_FETCH):
                for row in rows:
                    number += 1
                    yield number, tuple(row)
    except sqlite3.Error as exc:
        raise HashSetError(
            f"{path} cannot be read as an NSRL RDS v3 database ({exc}); check it is a complete RDS v3 release"
        ) from exc


def _v3_record(row: tuple[object, ...], row_number: int, warn: WarnFn) -> HashRecord | None:
    ref = f"FILE row {row_number}"
    found: dict[HashKind, bytes] = {}
    problems = []
    for kind, value in zip((HashKind.SHA256, HashKind.SHA1, HashKind.MD5), row, strict=True):
        if value is None or value == "":
            continue
        parsed = parse_hex(value, kind) if isinstance(value, str) else f"{clip(repr(value))} is not text"
        if isinstance(parsed, str):
            problems.append(f"{kind.name}: {parsed}")
        else:
            found[kind] = parsed[1]
    if problems:
        warn(ref, "; ".join(problems) + ("; entry skipped" if not found else "; ignored"))
    if not found:
        if not problems:
            warn(ref, "row has no digest; skipped")
        return None
    return HashRecord(
        md5=found.get(HashKind.MD5),
        sha1=found.get(HashKind.SHA1),
        sha256=found.get(HashKind.SHA256),
        category=None,
        ref=ref,
    )


def _v3_batch(batch: list[tuple[int, tuple[object, ...]]], warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
    if not batch:
        return
    count = len(batch)
    columns = {}
    ok = np.ones(count, dtype=np.bool_)
    for position, kind in enumerate((HashKind.SHA256, HashKind.SHA1, HashKind.MD5)):
        width = 2 * kind.size
        strings = [
            value if isinstance(value, str) and len(value) == width else "" for value in (r[position] for _, r in batch)
        ]
        ok &= np.fromiter((len(value) == width for value in strings), dtype=np.bool_, count=count)
        if not ok.any():
            break
        filler = "0" * width  # keeps rows aligned; rows given a filler are already marked not ok
        text = "".join(value or filler for value in strings)
        try:
            chars = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(count, width)
        except UnicodeEncodeError:
            ok[:] = False
            break
        digests, valid = decode_hex_rows(chars)
        ok &= valid
        columns[kind] = digests
    if ok.any():
        yield BulkDigests({kind: digests[ok] for kind, digests in columns.items()})
    for index in np.flatnonzero(~ok):
        row_number, row = batch[int(index)]
        record = _v3_record(row, row_number, warn)
        if record is not None:
            yield record
