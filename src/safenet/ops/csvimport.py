"""Reading leads from CSV (P2P monitoring exports, NCA packages) through a YAML column mapping.

The mapping (documented with an example in docs/operation.md)::

    columns:               # lead field: the CSV column header that holds it
      source_ref: reference
      observed: seen
      ip: ip
      port: port
      hash: hash
      hash_kind: hash_type # or give it once under `fixed`
      file_name: file
      client_id: guid
      isp: isp
      observations: hits
    fixed:
      hash_kind: ed2k      # a value for every row, where the file has no such column
    time_zone: Europe/London  # only for times written without an offset
    time_format: "%d/%m/%Y %H:%M:%S"  # default ISO 8601
    delimiter: ","

``observed``, ``ip``, ``hash`` and a ``hash_kind`` (column or fixed) are required. A row without a
``source_ref`` is merged with another only by the same hash, IP address and time. The whole file is checked
before anything is stored: any mistake is one sentence naming the file and line, and nothing is imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safenet.ops.errors import ImportFailed
from safenet.ops.leads import LeadIn
from safenet.ops.leadvalues import hash_hex, hash_kind, ip_text, observed, port_number

FIELDS = ("source_ref", "observed", "ip", "port", "hash", "hash_kind", "file_name", "client_id", "isp", "observations")
REQUIRED = ("observed", "ip", "hash")
TOP_KEYS = ("columns", "fixed", "time_zone", "time_format", "delimiter")
MAX_FIELD = 64 * 1024


class Mapping:
    def __init__(self, path: Path) -> None:
        import yaml

        name = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFailed(f"cannot read the mapping {path}: {exc}") from exc
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            raw: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ImportFailed(f"{name}{line} is not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
        lines = _key_lines(node)
        if not isinstance(raw, dict):
            raise ImportFailed(f"{name} line 1: the mapping must be YAML keys (columns:, fixed:, time_zone: ...)")

        def bad(key: str, message: str) -> ImportFailed:
            return ImportFailed(f"{name} line {lines.get(key, 1)}: {message}")

        for key in raw:
            if key not in TOP_KEYS:
                raise bad(str(key), f"unknown key {key!r}; the keys are {', '.join(TOP_KEYS)}")
        self.columns: dict[str, str] = {}
        self.fixed: dict[str, str] = {}
        for section, target in (("columns", self.columns), ("fixed", self.fixed)):
            entries = raw.get(section) or {}
            if not isinstance(entries, dict):
                raise bad(section, f"{section} must be lead fields with a value each")
            for field, value in entries.items():
                if field not in FIELDS:
                    raise bad(f"{section}.{field}", f"unknown lead field {field!r}; the fields are {', '.join(FIELDS)}")
                if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
                    raise bad(f"{section}.{field}", f"{section}.{field} needs a text value")
                target[field] = str(value)
        both = sorted(set(self.columns) & set(self.fixed))
        if both:
            raise bad(f"fixed.{both[0]}", f"{both[0]} is given both as a column and as a fixed value; keep one")
        for field in (*REQUIRED, "hash_kind"):
            if field not in self.columns and field not in self.fixed:
                raise bad("columns", f"the mapping gives no {field} (under columns, or under fixed)")
        if "hash_kind" in self.fixed:
            try:
                hash_kind(self.fixed["hash_kind"])
            except ValueError as exc:
                raise bad("fixed.hash_kind", str(exc)) from exc
        self.time_zone = _text(raw, "time_zone", bad)
        self.time_format = _text(raw, "time_format", bad)
        self.delimiter = _text(raw, "delimiter", bad) or ","
        if len(self.delimiter) != 1:
            raise bad("delimiter", "the delimiter must be one character")


def read_csv(path: Path, mapping_path: Path, source: str) -> list[LeadIn]:
    mapping = Mapping(mapping_path)
    name = path.name
    leads = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=mapping.delimiter)
            with _at(name, 1):
                header = next(reader, None)
            if header is None:
                raise ImportFailed(f"{name} line 1: the file is empty; it needs a header row")
            index = {column.strip(): number for number, column in enumerate(header)}
            for field, column in mapping.columns.items():
                if column not in index:
                    raise ImportFailed(
                        f"{name} line 1: the mapping's column {column!r} (for {field}) is not in the header "
                        f"({', '.join(index)})"
                    )
            while True:
                with _at(name, reader.line_num + 1):
                    row = next(reader, None)
                if row is None:
                    break
                if not any(cell.strip() for cell in row):
                    continue
                with _at(name, reader.line_num):
                    # checked per row, not by csv.field_size_limit: that limit is the whole process's (the csv
                    # module's own, 128 KiB, still stops a longer field before it is held)
                    if any(len(cell) > MAX_FIELD for cell in row):
                        raise ValueError(f"a value is longer than {MAX_FIELD:,} characters")
                    leads.append(_lead(row, index, mapping, source, f"{name} line {reader.line_num}"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"cannot read {path} as UTF-8 text: {exc}") from exc
    return leads


def _lead(row: list[str], index: dict[str, int], mapping: Mapping, source: str, origin: str) -> LeadIn:
    def value(field: str) -> str:
        if field in mapping.fixed:
            return mapping.fixed[field]
        column = mapping.columns.get(field)
        if column is None:
            return ""
        number = index[column]
        if number >= len(row):
            raise ValueError(f"the row has no {column!r} column ({len(row)} values, the header has {len(index)})")
        return row[number].strip()

    def required(field: str) -> str:
        text = value(field)
        if not text:
            raise ValueError(f"{field} (column {mapping.columns.get(field)!r}) is empty")
        return text

    kind = hash_kind(required("hash_kind"))
    when_text = required("observed")
    when, zone = observed(when_text, zone=mapping.time_zone, time_format=mapping.time_format)
    count_text = value("observations") or "1"
    # at most 9 digits: merged counts are summed into a 64-bit database integer
    if not (count_text.isascii() and count_text.isdigit() and len(count_text) <= 9) or int(count_text) < 1:
        raise ValueError(f"observations {count_text!r} is not a whole number of 1 or more")
    return LeadIn(
        source=source,
        source_ref=value("source_ref"),
        observed_utc=when,
        observed_text=when_text,
        observed_zone=zone,
        ip=ip_text(required("ip")),
        port=port_number(value("port")),
        hash_hex=hash_hex(kind, required("hash")),
        hash_kind=kind,
        origin=origin,
        isp=value("isp"),
        file_name=value("file_name"),
        client_id=value("client_id"),
        observations=int(count_text),
    )


@contextmanager
def _at(name: str, line: int) -> Iterator[None]:
    try:
        yield
    except (ValueError, csv.Error) as exc:
        raise ImportFailed(f"{name} line {line}: {exc}") from exc


def _text(raw: dict[str, Any], key: str, bad: Any) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(key, f"{key} must be text")
    return value


def _key_lines(node: Any) -> dict[str, int]:
    """Line of each key (``columns``, ``columns.ip`` ...) in the mapping file, for messages."""
    import yaml

    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        lines[str(key.value)] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for sub, _ in value.value:
                lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return lines
