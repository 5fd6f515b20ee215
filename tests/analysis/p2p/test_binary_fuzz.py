"""Every binary P2P parser on damaged copies of the files its tests build: cut at every offset, bytes flipped at
random (seeded), runs of 0xFF: each must finish without raising and yield only records, search terms and
warnings; a damaged file's records before the damage come first and the warning is the last entry."""

from __future__ import annotations

import random

import pytest

from safenet.analysis.p2p.ares import ShareH, ShareL
from safenet.analysis.p2p.emule import CancelledMet, KnownMet, PartMet, SearchStrings, StoredSearches
from safenet.analysis.p2p.model import P2PParser, P2PRecord, P2PWarning, SearchTerm
from safenet.analysis.p2p.shareaza import Library
from tests.analysis.p2p import builders_binary as b
from tests.analysis.p2p import test_ares, test_emule, test_shareaza

pytestmark = pytest.mark.timeout(120)

CASES: list[tuple[str, P2PParser, bytes]] = [
    ("known.met", KnownMet(), b.known_met(test_emule.FILES)),
    ("001.part.met", PartMet(), b.part_met(test_emule.PART)),
    ("cancelled.met", CancelledMet(), b.cancelled_met(test_emule.HASHES, names={0: "x.jpg"})),
    ("StoredSearches.met", StoredSearches(), b.stored_searches(test_emule.SEARCHES)),
    ("AC_SearchStrings.dat", SearchStrings(), b.search_strings(["lake", "hill"])),
    ("ShareH.dat", ShareH(), b.share_h(test_ares.FILES)),
    ("ShareL.dat", ShareL(), b.share_l(test_ares.FILES)),
    ("Library1.dat", Library(), b.library_dat(test_shareaza.LIBRARY)),
]


def run(parser: P2PParser, data: bytes, name: str) -> None:
    entries = list(parser.parse(data, name))
    assert all(isinstance(e, (P2PRecord, SearchTerm, P2PWarning)) for e in entries)
    warnings = [i for i, e in enumerate(entries) if isinstance(e, P2PWarning)]
    # At most one warning from the binary walks, and nothing read after it (the search-strings text file may
    # warn first about half a character and still list its lines).
    if not isinstance(parser, SearchStrings):
        assert len(warnings) <= 1
        assert not warnings or warnings[0] == len(entries) - 1


@pytest.mark.parametrize(("name", "parser", "data"), CASES, ids=[c[0] for c in CASES])
def test_every_cut(name: str, parser: P2PParser, data: bytes) -> None:
    assert parser.claims(name, data[:64])
    for cut in range(len(data)):
        run(parser, data[:cut], name)


@pytest.mark.parametrize(("name", "parser", "data"), CASES, ids=[c[0] for c in CASES])
def test_random_damage(name: str, parser: P2PParser, data: bytes) -> None:
    rng = random.Random(f"p2p-fuzz:{name}")
    for _ in range(400):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(damaged))
            if rng.random() < 0.3:
                damaged[at : at + 4] = b"\xff\xff\xff\xff"
            else:
                damaged[at] = rng.randrange(256)
        run(parser, bytes(damaged), name)
