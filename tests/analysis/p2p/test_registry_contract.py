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


def _heads() -> list[bytes]:
    """First bytes each parser claims (from its own tests' builders' signatures) and bytes none claims."""
    rng = random.Random(20261206)
    return [
        b"",
        b"\x0e\x01\x00\x00\x00",  # eMule .met header (known.met, cancelled.met)
        b"\x0f\x01\x00\x00\x00",  # eMule i64-tags header (StoredSearches.met)
        b"\xe0\x00",  # part.met version byte
        bytes(8) + (5).to_bytes(4, "little") + bytes(52),  # Shareaza Library: a plausible version
        b"__ARESDB1.04H_" + bytes(50),  # Ares share database
        b"d8:announce",  # a bencoded dictionary (torrents and resume data)
        *(rng.randbytes(64) for _ in range(20)),
    ]


def _names() -> list[str]:
    """Every name and ending a parser declares, in other cases and with other stems, and names none declares."""
    names = ["", "known", "met", ".met", "known.met.txt", "photo.jpg", "resume", "x.resume.dat", "a.part", "NOEXT"]
    for parser in PARSERS:
        for entry in parser.NAMES:
            bare = entry.removeprefix("*")
            names += [bare, bare.upper(), bare.title(), f"stem{bare}", f"Stem{bare.upper()}", f"{bare}.bak", bare[1:]]
    return names


def test_the_table_by_extension_answers_as_asking_every_parser_in_order() -> None:
    """``registry.claim`` asks only the parsers whose NAMES share the file's extension: the same parser as asking
    every parser in ``PARSERS`` order, for every declared name and ending, in any case, and for other names."""
    claimed: set[str] = set()
    for name in _names():
        for head in _heads():
            every = next((p for p in PARSERS if p.claims(name, head)), None)
            assert registry.claim(name, head) is every, (name, head[:16])
            claimed |= {every.NAME} if every is not None else set()
    assert claimed == {p.NAME for p in PARSERS}  # the names and heads above make every parser claim something


@pytest.mark.parametrize("parser", PARSERS, ids=[p.NAME for p in PARSERS])
def test_every_parser_declares_the_names_it_claims(parser: P2PParser) -> None:
    assert parser.NAMES and all(entry == entry.lower() for entry in parser.NAMES)
    assert all(entry[1:2] == "." for entry in parser.NAMES if entry.startswith("*"))
    rng = random.Random(parser.NAME)
    junk_names = ["photo.jpg", "notes.txt", "met", "dat", "", "torrent", "fastresume.bin"]
    for _ in range(200):
        head = rng.randbytes(64)
        assert not any(parser.claims(name, head) for name in junk_names)
