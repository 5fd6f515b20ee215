"""What every P2P parser yields: records of files and search terms, as plain immutable data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from safenet.wire import by_position

#: How people name the clients (parser CLIENT values are stored lower-case).
CLIENT_LABELS = {
    "emule": "eMule",
    "shareaza": "Shareaza",
    "ares": "Ares Galaxy",
    "utorrent": "µTorrent/BitTorrent",
    "transmission": "Transmission",
    "qbittorrent": "qBittorrent",
    "torrent": "BitTorrent (.torrent file)",
}


def client_label(client: str) -> str:
    """A client's name for people: "eMule" for "emule"; an unknown client as stored."""
    return CLIENT_LABELS.get(client, client)


@by_position
@dataclass(frozen=True, slots=True)
class P2PRecord:
    """One client's record of one file (or one torrent), as the client stored it.

    ``hashes`` maps a hash kind to its raw bytes: "ed2k" (16), "md5" (16), "sha1" (20), "btih" (20, a torrent's
    info-hash), "tth" (24), "sha256" (32). Times are UTC-aware; ``zone_known`` is False where the client stored
    local time of an unknown zone. Counters are None when the client does not keep them, never 0 by default.
    """

    client: str  # parser CLIENT: "emule", "shareaza", "ares", "utorrent", "transmission", "qbittorrent", "torrent"
    artefact: str  # which of the client's files: "known.met", "part.met", "resume.dat", ...
    index: int  # the record's position in that file (0-based), so the locator + index names it
    name: str
    size: int | None = None
    hashes: dict[str, bytes] = field(default_factory=dict)
    shared: bool | None = None  # offered to other peers (eMule known.met: in a shared folder; torrents: seeding)
    completed: bool | None = None  # downloaded whole
    uploaded_bytes: int | None = None
    upload_requests: int | None = None  # requests from other peers
    accepted_requests: int | None = None  # uploads accepted/started
    added: datetime | None = None
    completed_at: datetime | None = None
    last_shared: datetime | None = None  # last time shared/seen/posted, whichever the client keeps
    zone_known: bool = True
    save_path: str = ""  # where the client kept (or keeps) the file, as the client wrote it
    extra: dict[str, str] = field(default_factory=dict)  # other client fields worth printing (as text)


@by_position
@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A search the user typed into a client (restricted output: never printed in the SFR1, only counted)."""

    client: str
    artefact: str
    index: int
    term: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class P2PWarning:
    """A record or file the parser could not read whole; the parser goes on (hostile input is normal input)."""

    code: str  # "p2p-truncated", "p2p-corrupt" (docs/warnings.md)
    message: str


P2PEntry = P2PRecord | SearchTerm | P2PWarning


class P2PParser(Protocol):
    """One client file format. ``claims`` looks at the file's name and first bytes only; ``parse`` never raises
    on bad input: it yields what it could read and a P2PWarning for the rest. ``parse`` is given the artefact's
    file name too: some clients keep a fact only there (Transmission names ``<info-hash>.resume``)."""

    NAME: ClassVar[str]  # stable: "emule-known-met", "utorrent-resume", ... (stored in case files)
    CLIENT: ClassVar[str]
    #: The file names it may claim, in lower case: a name ("known.met") or, after "*", an ending ("*.torrent").
    #: The registry asks a parser about a file only when the file's extension is one of these names' (``named``).
    NAMES: ClassVar[tuple[str, ...]]

    def claims(self, name: str, head: bytes) -> bool: ...

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]: ...


ParserFactory = Callable[[], P2PParser]


def named(name: str, names: tuple[str, ...]) -> bool:
    """Whether a file name, in any case, is one of a parser's ``NAMES`` (an entry "*.x": any name ending ".x")."""
    lower = name.lower()
    return any(lower.endswith(entry[1:]) if entry[:1] == "*" else lower == entry for entry in names)
