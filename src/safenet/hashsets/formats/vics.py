"""Project VIC / CAID hash sets in the VICS JSON data model (1.x ``odata.metadata``, 2.0 ``@odata.context``).

National sets hold hundreds of thousands of records, so the file is streamed with ijson, never loaded whole.
Exporters disagree on types (booleans as strings, sizes as strings, BOMs, omitted categories), so every field
is read leniently and unknown keys are ignored; see docs/formats.md, VICS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import ijson

from safenet.hashsets.formats.base import HEAD_SIZE, HashSetFormat, clip, parse_count, parse_hex, strip_bom
from safenet.hashsets.formats.jsonstream import JsonLimitError, iter_values
from safenet.hashsets.model import PDQ_SIZE, HashKind, HashRecord, HashSetError, SetKind, WarnFn

_CONTEXT_RE = re.compile(
    rb'"(?:@odata\.context|odata\.metadata)"\s*:\s*"[^"]*?'
    rb"DataModels/(?P<version>\d\.\d)\.xml(?:/(?P<profile>\w+)/\$metadata)?#(?P<kind>Cases|Media)"
)
_BOM = b"\xef\xbb\xbf"
# What a VICS file without a usable context string still shows: its context key, and media keys.
_ANY_CONTEXT_RE = re.compile(rb'"(?:@odata\.context|odata\.metadata)"\s*:')
_EXAMPLE_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
_MEDIA_KEY_RE = re.compile(rb'"(?:MediaID|MD5|SHA1|Category)"\s*:')

# Media keys kept verbatim (booleans normalised to "true"/"false") as per-entry extras.
_EXTRA_KEYS = frozenset(
    {
        "Series",
        "Tags",
        "VictimIdentified",
        "OffenderIdentified",
        "IsDistributed",
        "IsPrecategorized",
        "IsSuspected",
        "PrecategorizationSource",
        "DateUpdated",
        "Comments",
    }
)
_DIGEST_KEYS = ((HashKind.MD5, "MD5"), (HashKind.SHA1, "SHA1"), (HashKind.SHA256, "SHA256"))
# P2P investigations' exports name eDonkey hashes and torrent info-hashes here too.
_ALT_HASH_FIELDS = {
    "SHA1": HashKind.SHA1,
    "SHA256": HashKind.SHA256,
    "MD5": HashKind.MD5,
    "ED2K": HashKind.ED2K,
    "BTIH": HashKind.BTIH,
}


@dataclass(frozen=True, slots=True)
class VicsHeader:
    """What the root context string says: data-model version, profile and whether it is a case export."""

    version: str
    profile: str | None
    cases: bool


def parse_header(head: bytes) -> VicsHeader | None:
    """Read the context string from the start of a VICS file, or None when there is none."""
    body = strip_bom(head).lstrip()
    if not body.startswith(b"{"):
        return None
    match = _CONTEXT_RE.search(body, 0, 8192)
    if match is None:
        return None
    profile = match.group("profile")
    return VicsHeader(
        version=match.group("version").decode("ascii"),
        profile=profile.decode("ascii") if profile else None,
        cases=match.group("kind") == b"Cases",
    )


class VicsFormat(HashSetFormat):
    """VICS 1.x / 2.0 ``#Media`` hash sets and ``#Cases`` exports."""

    NAME: ClassVar[str] = "vics"
    DEFAULT_KIND: ClassVar[SetKind | None] = SetKind.ILLICIT
    DESCRIPTION: ClassVar[str] = "Project VIC / CAID VICS JSON (1.x and 2.0, #Media or #Cases)"

    def __init__(self) -> None:
        self._header: VicsHeader | None = None

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return parse_header(head) is not None

    @classmethod
    def near_miss(cls, head: bytes) -> str | None:
        body = strip_bom(head).lstrip()[:8192]
        if not body.startswith(b"{") or b'"value"' not in body or _MEDIA_KEY_RE.search(body) is None:
            return None
        if _ANY_CONTEXT_RE.search(body):
            return (
                "looks like VICS JSON but its @odata.context / odata.metadata string names no VICS data "
                "model (it must end in DataModels/<version>.xml/<profile>/$metadata#Media or #Cases); "
                "export the set again from the VICS tool"
            )
        return (
            "looks like VICS JSON but has no @odata.context (VICS 2.0) or odata.metadata (1.x) line at its "
            "start, which says the data model version and profile; export the set again from the VICS tool, "
            f'or add the line, e.g. "@odata.context": "{_EXAMPLE_CONTEXT}"'
        )

    def profile(self) -> str | None:
        return self._header.profile if self._header else None

    def default_scheme(self) -> str:
        profile = (self.profile() or "").upper()
        return "vics-uk" if profile == "UK" else "projectvic"

    def scheme_caveat(self) -> str | None:
        profile = self.profile()
        if profile is None or profile.upper() in {"UK", "DEFAULT", "US"}:
            return None
        return (
            f"VICS profile '{profile}' has no published category codes; categories were read with the "
            "Project VIC scheme: give --scheme-file with this source's codes"
        )

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        with path.open("rb") as handle:
            head = handle.read(HEAD_SIZE)
            header = parse_header(head)
            if header is None:
                raise HashSetError(
                    f"{path} has no VICS context string (odata.metadata or @odata.context) at the start; "
                    "check it is a Project VIC / CAID JSON file"
                )
            self._header = header
            handle.seek(len(_BOM) if head.startswith(_BOM) else 0)
            where = ("value", "item", "Media", "item") if header.cases else ("value", "item")
            count = 0
            try:
                for count, (media, conflicts) in enumerate(iter_values(handle, where), 1):
                    if conflicts:
                        _skip_ambiguous(media, count, conflicts, warn)
                        continue
                    record = _record(media, count, warn)
                    if record is not None:
                        yield record
            except ijson.JSONError as exc:
                raise HashSetError(
                    f"{path} is damaged or cut short after {count} media entries ({clip(str(exc))}); "
                    "obtain a fresh copy of the hash set"
                ) from exc
            except JsonLimitError as exc:
                raise HashSetError(
                    f"{path} is not a usable VICS file: {exc} after {count} media entries, which no VICS "
                    "export does; obtain a fresh copy of the hash set"
                ) from exc


def _skip_ambiguous(media: Any, number: int, conflicts: list[str], warn: WarnFn) -> None:
    """An entry that gives a key twice with different values: JSON readers disagree on which one counts."""
    media_id = _text(media.get("MediaID")) if isinstance(media, dict) and "MediaID" not in conflicts else None
    keys = ", ".join(sorted({clip(key, 40) for key in conflicts}))
    warn(
        f"MediaID {media_id}" if media_id else f"Media {number}",
        f"key given twice with different values ({keys}); entry skipped",
    )


def _record(media: Any, number: int, warn: WarnFn) -> HashRecord | None:
    if not isinstance(media, dict):
        warn(f"Media {number}", "media entry is not a JSON object; skipped")
        return None
    media_id = _text(media.get("MediaID"))
    ref = f"MediaID {media_id}" if media_id else f"Media {number}"
    digests: dict[HashKind, bytes] = {}
    problems: list[str] = []
    for kind, key in _DIGEST_KEYS:
        value = media.get(key)
        if value:
            _take_digest(digests, problems, kind, key, value)
    extra: dict[str, str] = {}
    if media_id:
        extra["MediaID"] = media_id
    if "AlternativeHashes" in media:
        _alternative_hashes(media["AlternativeHashes"], digests, problems, extra)
    pdq = _pdq(media, problems)
    if "PhotoDNA" in media:
        photodna = _text(media["PhotoDNA"])
        if photodna:
            extra["PhotoDNA"] = photodna  # kept verbatim, never interpreted
    if pdq is None and "AlternativeHashes" in media:
        pdq = _alternative_pdq(media["AlternativeHashes"], problems)
    if not digests and pdq is None:
        detail = "; ".join(problems) if problems else "no MD5, SHA1, SHA256 or PDQ"
        warn(ref, f"no usable digest ({detail}); entry skipped")
        return None
    if problems:
        warn(ref, "; ".join(problems))
    for key, raw in media.items():
        if key in _EXTRA_KEYS:
            value = _flag_or_text(raw)
            if value:
                extra[key] = value
    size, size_problem = _size(media.get("MediaSize"))
    if size_problem:
        warn(ref, size_problem)
    files = media.get("MediaFiles")
    return HashRecord(
        md5=digests.get(HashKind.MD5),
        sha1=digests.get(HashKind.SHA1),
        sha256=digests.get(HashKind.SHA256),
        ed2k=digests.get(HashKind.ED2K),
        btih=digests.get(HashKind.BTIH),
        category=_text(media.get("Category")),  # absent, null and "" all mean uncategorised
        size=size,
        name=_first_file_name(files) if files else None,
        ref=ref,
        extra=extra or None,
        pdq=pdq,
    )


def _pdq(media: dict[str, Any], problems: list[str]) -> bytes | None:
    """A ``PDQ`` Media field (hex, 64 digits), where an exporter writes one; no quality is carried."""
    return _parse_pdq(media.get("PDQ"), "PDQ", problems)


def _alternative_pdq(value: Any, problems: list[str]) -> bytes | None:
    """AlternativeHashes entries with HashName "PDQ" (the 1.3 home of non-MD5 hashes)."""
    if not isinstance(value, list):
        return None
    for item in value:
        if isinstance(item, dict) and str(item.get("HashName") or "").strip().upper() == "PDQ":
            found = _parse_pdq(item.get("HashValue"), "AlternativeHashes PDQ", problems)
            if found is not None:
                return found
    return None


def _parse_pdq(value: Any, key: str, problems: list[str]) -> bytes | None:
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) != 2 * PDQ_SIZE:
        problems.append(f"{key} {clip(repr(value))} is not a 64-digit hex PDQ hash; ignored")
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        problems.append(f"{key} '{clip(text)}' is not hexadecimal; ignored")
        return None


def _take_digest(digests: dict[HashKind, bytes], problems: list[str], kind: HashKind, key: str, value: Any) -> None:
    if value is None or value == "":
        return
    if not isinstance(value, str):
        problems.append(f"{key} {clip(repr(value))} is not text; ignored")
        return
    parsed = parse_hex(value, kind)
    if isinstance(parsed, str):
        problems.append(f"{key}: {parsed}; ignored")
        return
    previous = digests.get(kind)
    if previous is not None and previous != parsed[1]:
        problems.append(f"{key} {clip(value)} disagrees with the entry's {key}; the entry's value kept")
        return
    digests[kind] = parsed[1]


def _alternative_hashes(value: Any, digests: dict[HashKind, bytes], problems: list[str], extra: dict[str, str]) -> None:
    """Honour SHA1/SHA256 (and the P2P ED2K/BTIH) in AlternativeHashes (VICS 1.x); keep a 1.3-style PhotoDNA
    verbatim."""
    if not isinstance(value, list):
        return
    for item in value:
        if not isinstance(item, dict):
            continue
        name = str(item.get("HashName") or "").upper().replace("-", "").strip()
        hash_value = item.get("HashValue")
        if name == "PHOTODNA":
            text = _text(hash_value)
            if text and "PhotoDNA" not in extra:
                extra["PhotoDNA"] = text
        elif name in _ALT_HASH_FIELDS:
            kind = _ALT_HASH_FIELDS[name]
            _take_digest(digests, problems, kind, f"AlternativeHashes {name}", hash_value)


def _text(value: Any) -> str | None:
    """A scalar as text (ints stay exact), or None for null/empty; objects are kept as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(",", ":"), sort_keys=True)
    text = str(value).strip()
    return text or None


def _flag_or_text(value: Any) -> str | None:
    """Booleans arrive as JSON true/false or as "true"/"false" strings; both become "true"/"false"."""
    text = _text(value)
    if text is not None and text.lower() in {"true", "false"}:
        return text.lower()
    return text


def _size(value: Any) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):  # 2835.0 is a count too
        if value >= 0 and value == int(value):
            return int(value), None
    elif isinstance(value, str) and (count := parse_count(value)) is not None:
        return count, None
    return None, f"MediaSize {clip(repr(value))} is not a byte count; ignored"


def _first_file_name(value: Any) -> str | None:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                name = _text(item.get("FileName"))
                if name:
                    return name
    return None
