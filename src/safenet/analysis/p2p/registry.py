"""The one table of P2P parsers, in the order they are asked (first claim wins)."""

from __future__ import annotations

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


def claim(name: str, head: bytes) -> P2PParser | None:
    """The parser that takes a file of this name and first bytes, or None."""
    return next((p for p in PARSERS if p.claims(name, head)), None)
