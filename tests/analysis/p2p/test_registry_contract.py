"""The contract every registered P2P parser keeps, whatever its client: a stable NAME, a claim that looks at the
name and first bytes without raising, and a parse that never raises on junk and yields only records, search
terms and warnings with documented codes."""

from __future__ import annotations

import random
import re

import pytest

from safenet.analysis.p2p import registry
from safenet.analysis.p2p.model import P2PParser, P2PRecord, P2PWarning, SearchTerm

pytestmark = pytest.mark.timeout(120)

CLIENTS = {"emule", "shareaza", "ares", "utorrent", "transmission", "qbittorrent", "torrent"}
CODES = {"p2p-truncated", "p2p-corrupt", "p2p-unsupported-version"}
PARSERS = registry.PARSERS


def test_names_are_stable_and_unique() -> None:
    names = [p.NAME for p in PARSERS]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    assert {"emule-known-met", "shareaza-library", "ares-shareh", "ares-sharel"} <= set(names)


@pytest.mark.parametrize("parser", PARSERS, ids=[p.NAME for p in PARSERS])
def test_claim_and_parse_never_raise_on_junk(parser: P2PParser) -> None:
    assert parser.CLIENT in CLIENTS
    rng = random.Random(parser.NAME)
    junk = [b"", b"\x00", b"\x00" * 64, b"\xff" * 64, *(rng.randbytes(rng.randrange(1, 2000)) for _ in range(50))]
    for data in junk:
        for name in ("", "known.met", "Library1.dat", "ShareL.dat", "resume.dat", "x.torrent", "a.fastresume"):
            assert parser.claims(name, data[:64]) in (True, False)
        for entry in parser.parse(data, "junk.bin"):
            assert isinstance(entry, (P2PRecord, SearchTerm, P2PWarning))
            if isinstance(entry, P2PWarning):
                assert entry.code in CODES
