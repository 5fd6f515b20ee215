"""The one table of P2P parsers, in the order they are asked (first claim wins)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from safenet.analysis.p2p import ares, bittorrent, emule, shareaza
from safenet.analysis.p2p.model import P2PParser

#: Each parser module adds its parser classes here (one line each).
PARSERS: tuple[P2PParser, ...] = (
    *emule.PARSERS,
    *shareaza.PARSERS,
    *ares.PARSERS,
    *bittorrent.PARSERS,
)

_names = [p.NAME for p in PARSERS]
if len(set(_names)) != len(_names):  # pragma: no cover - a programming error caught at import
    raise RuntimeError(f"duplicate P2P parser names: {_names}")

#: A P2P artefact is read whole into memory to parse; bigger files are refused with a warning.
MAX_ARTEFACT_BYTES = 256 * 1024 * 1024


def _extension(name: str) -> str:
    """What follows a file name's last dot, in lower case (a name without a dot: all of it)."""
    return name[name.rfind(".") + 1 :].lower()


def _by_extension(parsers: tuple[P2PParser, ...]) -> Mapping[str, tuple[P2PParser, ...]]:
    table: dict[str, list[P2PParser]] = {}
    for parser in parsers:
        if not parser.NAMES:  # pragma: no cover - a programming error caught at import
            raise RuntimeError(f"P2P parser {parser.NAME} declares no NAMES")
        for entry in parser.NAMES:
            if entry != entry.lower() or (entry[:1] == "*" and entry[1:2] != "."):  # pragma: no cover - as above
                raise RuntimeError(f"P2P parser {parser.NAME}: '{entry}' is not a lower-case name or '*.' ending")
            candidates = table.setdefault(_extension(entry), [])
            if parser not in candidates:
                candidates.append(parser)
    return MappingProxyType({extension: tuple(found) for extension, found in table.items()})


#: The parsers that may claim a file, by its extension, in the order of ``PARSERS``: every file is asked about
#: (every profile parses P2P artefacts), and a file no parser names costs one look-up, not a question to each.
BY_EXTENSION = _by_extension(PARSERS)


def claim(name: str, head: bytes) -> P2PParser | None:
    """The parser that takes a file of this name and first bytes, or None."""
    for parser in BY_EXTENSION.get(_extension(name), ()):
        if parser.claims(name, head):
            return parser
    return None
