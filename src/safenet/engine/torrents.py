"""Piece verification of the ``.torrent`` files found on an exhibit: are the files a torrent names on the exhibit?

Run once at the end of a completed run (``check_torrents``, called by ``engine.triage``), on the main thread:
the files a torrent names may be examined by any worker, before or after the torrent itself, so only the end
of the run knows every item and the torrent's recorded record; the evidence is open there for every executor
(worker processes and Dask workers have their own), and the checks go into the case through its one writer.
The cost is one more read of the files a torrent names (only of those), after the run's own reading.

Which item is a torrent's file, in this order (the rule used is recorded per file):

1. ``save-path``: a client's resume data on the same exhibit (µTorrent ``resume.dat``, Transmission
   ``.resume``, qBittorrent ``.fastresume``) names the torrent by its info-hash and gives the folder it saved
   into. The file is then the item whose path ends with that folder's path and the torrent's own path under
   it (``name`` for one file, ``name/dir/file`` for several), compared by component, ignoring case and the
   drive letter, and allowing the exhibit's root to cut the folder's start (a user's folder examined alone):
   one path must be a trailing part of the other, and they must agree on at least the folder's last
   component and the whole torrent path.
2. ``name-size``: else, the item of the exhibit with the file's exact name and exact size.

Never a guess: two or more candidates under one rule make the file "ambiguous"; it is not read and the
check's status says so. Carved items are not candidates (their names are made up). A file found is read
through the evidence (``open_locator``) up to its length in the torrent, and ``verify_pieces`` counts the
pieces it holds: matched, mismatched, or unavailable (touching a file missing, ambiguous or short).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, cast

from sqlalchemy import select

from safenet.analysis.p2p import registry as p2p_registry
from safenet.analysis.p2p.bittorrent import (
    PieceCheck,
    TorrentFile,
    TorrentFileParser,
    TorrentInfo,
    read_torrent,
    verify_pieces,
)
from safenet.case.recorder import record_torrent_checks
from safenet.case.schema import ItemRow, P2PRecordRow, TorrentCheckRow
from safenet.case.store import Case
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Evidence, EvidenceError, EvidenceWarning, SourceLost
from safenet.evidence.registry import open_locator
from safenet.reasons import reason_of

#: The P2P parsers whose records give a torrent's save folder (and name it by its info-hash).
RESUME_PARSERS = ("utorrent-resume", "transmission-resume", "qbittorrent-fastresume")
#: Stored in case files (``torrent_checks.status``); never rename.
COMPLETE, PARTIAL, NOT_PRESENT, AMBIGUOUS, NOT_VERIFIABLE = (
    "complete",
    "partial",
    "not-present",
    "ambiguous",
    "not-verifiable",
)
_CHUNK = 500  # names per IN (...) query: under SQLite's parameter limit
_SPLIT = re.compile(r"[\\/]+")
_DRIVE = re.compile(r"^[A-Za-z]:$")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recorded item that may be one of a torrent's files."""

    item_id: int
    locator: str  # JSON
    name: str
    size: int | None
    path: tuple[str, ...]  # the item's path components (file-system path, then archive member path), lower-case


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one of a torrent's files was found (or why not)."""

    file: TorrentFile
    state: str  # found | missing | ambiguous
    rule: str | None = None  # save-path | name-size (for found and ambiguous)
    item: Candidate | None = None
    candidates: tuple[int, ...] = ()  # the item ids of an ambiguous file
    read: str | None = None  # the item read: whole, short (ended before the file's length) or failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.file.path,
            "length": self.file.length,
            "state": self.state,
            "rule": self.rule,
            "item_id": self.item.item_id if self.item else None,
            "candidates": list(self.candidates),
            "read": self.read,
        }


def components(path: str) -> tuple[str, ...]:
    """A path's components, lower-case, with either separator, less a leading drive letter ("C:")."""
    parts = [p for p in _SPLIT.split(path.strip()) if p and p != "."]
    if parts and _DRIVE.match(parts[0]):
        parts = parts[1:]
    return tuple(p.lower() for p in parts)


def _agree(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many trailing components two paths share."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _by_save_path(file: TorrentFile, saves: Sequence[str], found: Sequence[Candidate]) -> list[Candidate]:
    inner = components(file.path)
    out: list[Candidate] = []
    for candidate in found:
        for save in saves:
            expected = components(save) + inner
            agree = _agree(expected, candidate.path)
            if agree == min(len(expected), len(candidate.path)) and agree > len(inner):
                out.append(candidate)
                break
    return out


def place(file: TorrentFile, saves: Sequence[str], named: Sequence[Candidate]) -> Placed:
    """Find one torrent file among the exhibit's items of the same name (see the module docstring)."""
    if saves:
        by_path = _by_save_path(file, saves, named)
        if len(by_path) == 1:
            return Placed(file, "found", "save-path", by_path[0])
        if by_path:
            return Placed(file, "ambiguous", "save-path", candidates=tuple(c.item_id for c in by_path))
    sized = [c for c in named if c.size == file.length]
    if len(sized) == 1:
        return Placed(file, "found", "name-size", sized[0])
    if sized:
        return Placed(file, "ambiguous", "name-size", candidates=tuple(c.item_id for c in sized))
    return Placed(file, "missing")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One torrent's check: where its files are and what their pieces say."""

    torrent: TorrentInfo
    placed: tuple[Placed, ...]
    pieces: PieceCheck

    @property
    def status(self) -> str:
        if self.pieces.problem:
            return NOT_VERIFIABLE
        if any(p.state == "ambiguous" for p in self.placed):
            return AMBIGUOUS
        if self.pieces.complete:
            return COMPLETE
        return NOT_PRESENT if not any(p.state == "found" for p in self.placed) else PARTIAL


def check(
    torrent: TorrentInfo,
    saves: Sequence[str],
    named: dict[str, list[Candidate]],
    open_item: Callable[[Candidate], BinaryIO],
) -> Outcome:
    """Place the torrent's files among the candidates (by file name) and verify its pieces against them.

    A file placed that cannot be opened or read (OSError, EvidenceError) counts as found with its pieces
    unavailable, as a file shorter than the torrent says would; its ``read`` says "failed". SourceLost (the
    whole source gone) is raised."""
    placed = {f.path: place(f, saves, named.get(_leaf(f.path), ())) for f in torrent.files if not f.padding}
    readers: dict[str, _Reader] = {}

    def read_file(path: str) -> BinaryIO | None:
        where = placed.get(path)
        if where is None or where.item is None:
            return None
        try:
            stream: BinaryIO | None = open_item(where.item)
        except SourceLost:
            raise
        except (OSError, EvidenceError):
            stream = None
        readers[path] = _Reader(stream)
        return cast(BinaryIO, readers[path])

    pieces = verify_pieces(torrent, read_file)
    done = tuple(
        replace(p, read=readers[path].state(p.file.length)) if path in readers else p for path, p in placed.items()
    )
    return Outcome(torrent, done, pieces)


class _Reader:
    """A file placed, as ``verify_pieces`` reads it: a read error ends it early (its pieces are unavailable)
    instead of ending the run; what was read is counted."""

    def __init__(self, stream: BinaryIO | None) -> None:
        self.stream = stream
        self.failed = stream is None
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        if self.stream is None or self.failed:
            return b""
        try:
            data = self.stream.read(size)
        except SourceLost:
            raise
        except (OSError, EvidenceError):
            self.failed = True
            return b""
        self.bytes += len(data)
        return data

    def state(self, length: int) -> str:
        if self.failed:
            return "failed"
        return "whole" if self.bytes >= length else "short"

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None:
            self.stream.close()


def _leaf(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def row(outcome: Outcome, record_id: int, item_id: int) -> dict[str, Any]:
    """The ``torrent_checks`` row of one check (less exhibit, run and id, which the recorder adds)."""
    pieces = outcome.pieces
    ambiguous = sum(1 for p in outcome.placed if p.state == "ambiguous")
    info_hash = outcome.torrent.info_hash
    return {
        "record_id": record_id,
        "item_id": item_id,
        "info_hash": info_hash.hex() if info_hash is not None else "",
        "status": outcome.status,
        "pieces": pieces.pieces,
        "matched": pieces.matched,
        "mismatched": pieces.mismatched,
        "unavailable": pieces.unavailable,
        "files_found": sum(1 for p in outcome.placed if p.state == "found"),
        "files_missing": sum(1 for p in outcome.placed if p.state == "missing"),
        "files_ambiguous": ambiguous,
        "problem": pieces.problem,
        "files": json.dumps([p.as_dict() for p in outcome.placed], ensure_ascii=True, separators=(",", ":")),
    }


def _item_path(locator: Locator) -> tuple[str, ...]:
    parts: list[str] = []
    for layer in locator.layers:
        if layer.kind in (LayerKind.PATH, LayerKind.ARCHIVE_MEMBER):
            parts.extend(components(layer.value))
    return tuple(parts)


def _candidates(case: Case, exhibit_id: int, names: Iterable[str]) -> dict[str, list[Candidate]]:
    """The exhibit's recorded items with these exact names (carved ones aside), by name, in item order."""
    wanted = sorted(set(names))
    out: dict[str, list[Candidate]] = defaultdict(list)
    with case.sessions() as s:
        for start in range(0, len(wanted), _CHUNK):
            query = (
                select(ItemRow.id, ItemRow.locator, ItemRow.name, ItemRow.size)
                .where(
                    ItemRow.exhibit_id == exhibit_id,
                    ItemRow.carved.is_(False),
                    ItemRow.name.in_(wanted[start : start + _CHUNK]),
                )
                .order_by(ItemRow.id)
            )
            for item_id, locator, name, size in s.execute(query):
                path = _item_path(Locator.from_json(locator))
                out[name].append(Candidate(item_id, locator, name, size, path))
    return out


def _save_paths(case: Case, exhibit_id: int) -> dict[str, list[str]]:
    """Info-hash (hex) -> the save folders the exhibit's resume data gives for it."""
    out: dict[str, list[str]] = defaultdict(list)
    query = select(P2PRecordRow.hashes, P2PRecordRow.save_path).where(
        P2PRecordRow.exhibit_id == exhibit_id, P2PRecordRow.parser.in_(RESUME_PARSERS), P2PRecordRow.save_path != ""
    )
    with case.sessions() as s:
        for hashes, save_path in s.execute(query):
            btih = json.loads(hashes).get("btih")
            if isinstance(btih, str) and save_path not in out[btih]:
                out[btih].append(save_path)
    return out


def _unchecked(case: Case, exhibit_id: int) -> list[tuple[int, int, str, str]]:
    """(record id, item id, item locator, item display) of the exhibit's torrents not checked yet."""
    checked = select(TorrentCheckRow.record_id).where(TorrentCheckRow.exhibit_id == exhibit_id)
    query = (
        select(P2PRecordRow.id, ItemRow.id, ItemRow.locator, ItemRow.display)
        .join(ItemRow, ItemRow.id == P2PRecordRow.item_id)
        .where(
            P2PRecordRow.exhibit_id == exhibit_id,
            P2PRecordRow.parser == TorrentFileParser.NAME,
            P2PRecordRow.entry_index == 0,
            P2PRecordRow.id.not_in(checked),
        )
        .order_by(P2PRecordRow.id)
    )
    with case.sessions() as s:
        return [(r, i, loc, display) for r, i, loc, display in s.execute(query)]


def _read_torrent(evidence: Evidence, locator: str) -> TorrentInfo | None:
    limit = p2p_registry.MAX_ARTEFACT_BYTES
    with open_locator(evidence, Locator.from_json(locator)) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        return None
    return read_torrent(data)[0]  # its warnings were recorded when the worker parsed it


def check_torrents(case: Case, exhibit_id: int, run_id: int, evidence: Evidence) -> list[EvidenceWarning]:
    """Check every torrent of the exhibit not checked yet and record the checks; returns the warnings (the
    caller records them with the run): a torrent that could not be reread or checked, or the source lost."""
    torrents = _unchecked(case, exhibit_id)
    if not torrents:
        return []
    saves = _save_paths(case, exhibit_id)
    warnings: list[EvidenceWarning] = []
    rows: list[dict[str, Any]] = []

    def warn(locator: str, display: str, why: str) -> None:
        message = f"{display}: no piece check recorded: {why}"
        warnings.append(EvidenceWarning("torrent-check-unreadable", message, Locator.from_json(locator)))

    def open_item(candidate: Candidate) -> BinaryIO:
        return open_locator(evidence, Locator.from_json(candidate.locator))

    try:
        parsed: list[tuple[int, int, str, str, TorrentInfo]] = []
        for record_id, item_id, locator, display in torrents:
            try:
                info = _read_torrent(evidence, locator)
            except SourceLost:
                raise
            except (OSError, EvidenceError) as exc:
                warn(locator, display, f"the .torrent could not be reread ({reason_of(exc)})")
                continue
            if info is not None:  # a torrent without an info dictionary has no record to check
                parsed.append((record_id, item_id, locator, display, info))
        names = (_leaf(f.path) for *_, t in parsed for f in t.files if not f.padding)
        named = _candidates(case, exhibit_id, names)
        for record_id, item_id, locator, display, info in parsed:
            saved = saves.get(info.info_hash.hex(), []) if info.info_hash is not None else []
            try:
                rows.append(row(check(info, saved, named, open_item), record_id, item_id))
            except SourceLost:
                raise
            except Exception as exc:  # a hostile torrent must not end the run: this torrent goes unchecked
                warn(locator, display, f"checking stopped ({type(exc).__name__}: {reason_of(exc)})")
    except SourceLost as exc:  # one warning for the whole source; what was checked before is recorded
        warnings.append(
            EvidenceWarning(exc.code, f"the source stopped answering during the torrents' checks: {reason_of(exc)}")
        )
    record_torrent_checks(case, exhibit_id, run_id, rows)
    return warnings
