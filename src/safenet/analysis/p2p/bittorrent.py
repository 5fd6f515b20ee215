"""BitTorrent: ``.torrent`` files and the resume data of µTorrent/BitTorrent, Transmission and qBittorrent.

All of them are bencoded (BEP 3), read with the bounded reader in ``bencode``. Keys are compared as the exact
bytes the clients write; text is UTF-8 (a client's ANSI text falls back to cp1252, as ``binary.decode_text``).
Times are UNIX seconds, UTC; 0 means "not set".

- A ``.torrent`` (BEP 3; BEP 52 for version 2) is a record of what the user meant to fetch: its BTIH is the
  SHA-1 of the ``info`` dictionary's bytes exactly as they lie in the file. One record for the torrent (name,
  total length, piece length, creation date, created by, announce) and, for a torrent of several files, one
  per file (its path under the torrent's name, its length, and any per-file md5sum/sha1/ed2k the creator
  added). ``read_torrent`` gives the parsed torrent to ``verify_pieces``, which says how many of its pieces
  the files found on the exhibit hold.
- µTorrent/BitTorrent ``resume.dat``: one dictionary per torrent, keyed by the .torrent's file name
  (``.fileguard`` and ``rec`` are the client's own bookkeeping, skipped): caption, path, added_on,
  completed_on, downloaded, uploaded, info (the info-hash), seedtime.
- Transmission ``<info-hash>.resume``: name, destination, added-date, done-date, uploaded, downloaded, paused.
  The info-hash is only in the file's name, which every parser is given (``parse``'s ``name``).
- qBittorrent ``BT_backup/<info-hash>.fastresume`` (libtorrent's resume data): info-hash, name, save_path or
  qBt-savePath, added_time, completed_time, total_uploaded, total_downloaded, paused, seed_mode.

``shared`` is True only where the client says the torrent was seeded: µTorrent's seedtime above zero, or a
completed torrent that Transmission or qBittorrent did not mark paused. Otherwise it is None (unknown), never
False: a paused torrent may have been seeded before it was paused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

from safenet.analysis.p2p.bencode import BValue, Decoded, decode
from safenet.analysis.p2p.binary import CORRUPT, TRUNCATED, decode_text, iso, unix_time
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning, named

_HASH_NAME = re.compile(r"^([0-9a-fA-F]{40})\.(?:fast)?resume$")
_READ = 1 << 20


# --- .torrent files ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TorrentFile:
    """One file a torrent names: its path as the torrent lays it out (``name/dir/file`` for a torrent of several
    files, ``name`` for one file), its length and where its bytes start in the torrent's concatenated data."""

    path: str
    length: int
    offset: int
    padding: bool = False  # a BEP 47 padding file: zeros no client writes to disk
    hashes: tuple[tuple[str, bytes], ...] = ()  # per-file md5/sha1/ed2k where the creator added them


@dataclass(frozen=True, slots=True)
class TorrentInfo:
    """What a .torrent says about its content."""

    info_hash: bytes | None  # BTIH; None for a version-2-only torrent (named by SHA-256 instead)
    info_hash_v2: bytes | None  # BEP 52: SHA-256 of the info dictionary, for torrents of meta version 2
    name: str
    piece_length: int
    pieces: bytes  # concatenated 20-byte SHA-1s of the pieces (version 1)
    files: tuple[TorrentFile, ...]
    multi_file: bool
    announce: str = ""
    created_by: str = ""
    creation_date: datetime | None = None
    comment: str = ""

    @property
    def total_length(self) -> int:
        return sum(f.length for f in self.files)


def _dictionary(head: bytes) -> bool:
    """Whether the first bytes start a bencoded dictionary with a key (``d`` then a key's length digit)."""
    return head[:1] == b"d" and head[1:2].isdigit()


def _text(value: BValue | None) -> str:
    return decode_text(value) if isinstance(value, bytes) else ""


def _int(value: BValue | None) -> int | None:
    return value if isinstance(value, int) else None


def _time(value: BValue | None) -> datetime | None:
    """A client's UNIX time in seconds; not an integer, 0 ("not set") or out of range is None."""
    return unix_time(_int(value) or 0)


def _dict(value: BValue | None) -> dict[bytes, BValue]:
    return value if isinstance(value, dict) else {}


def _stopped(where: str, decoded: Decoded) -> P2PWarning | None:
    """The warning for a bencode read that stopped before its end, or None."""
    error = decoded.error
    if error is None:
        return None
    code = TRUNCATED if error.truncated else CORRUPT
    return P2PWarning(code, f"{where}: {error}; the records before it were read")


def read_torrent(data: bytes) -> tuple[TorrentInfo | None, list[P2PWarning]]:
    """Parse a .torrent; None (with a warning) when it has no usable ``info`` dictionary."""
    decoded = decode(data)
    warnings = [w for w in (_stopped(".torrent", decoded),) if w is not None]
    root = _dict(decoded.value)
    span = decoded.spans.get(b"info")
    info = root.get(b"info")
    if not isinstance(info, dict) or span is None:
        warnings.append(P2PWarning(CORRUPT, ".torrent: no complete info dictionary; no record read"))
        return None, warnings
    raw = data[span[0] : span[1]]
    name = _text(info.get(b"name.utf-8")) or _text(info.get(b"name"))
    pieces = info.get(b"pieces")
    version = _int(info.get(b"meta version"))
    v1 = isinstance(pieces, bytes)
    files, multi, problem = _files(info, name)
    if problem:
        warnings.append(P2PWarning(CORRUPT, f".torrent: {problem}"))
    announce = _text(root.get(b"announce"))
    tiers = root.get(b"announce-list")
    if not announce and isinstance(tiers, list):  # BEP 12: a list of tiers, each a list of URLs
        urls = (url for tier in tiers if isinstance(tier, list) for url in tier)
        announce = next((_text(url) for url in urls if isinstance(url, bytes)), "")
    torrent = TorrentInfo(
        info_hash=hashlib.sha1(raw).digest() if v1 or version != 2 else None,  # noqa: S324 - BTIH is SHA-1
        info_hash_v2=hashlib.sha256(raw).digest() if version == 2 else None,
        name=name,
        piece_length=_int(info.get(b"piece length")) or 0,
        pieces=pieces if isinstance(pieces, bytes) else b"",
        files=files,
        multi_file=multi,
        announce=announce,
        created_by=_text(root.get(b"created by")),
        creation_date=_time(root.get(b"creation date")),
        comment=_text(root.get(b"comment.utf-8")) or _text(root.get(b"comment")),
    )
    return torrent, warnings


_FILE_HASHES = ((b"md5sum", "md5", 16), (b"sha1", "sha1", 20), (b"ed2k", "ed2k", 16))


def _file_hashes(entry: dict[bytes, BValue]) -> tuple[tuple[str, bytes], ...]:
    """Per-file hashes some creators add: md5sum as 32 hex digits, sha1 and ed2k as raw bytes."""
    found = []
    for key, kind, size in _FILE_HASHES:
        value = entry.get(key)
        if not isinstance(value, bytes):
            continue
        if len(value) == 2 * size:
            try:
                value = bytes.fromhex(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                continue
        if len(value) == size:
            found.append((kind, value))
    return tuple(found)


def _files(info: dict[bytes, BValue], name: str) -> tuple[tuple[TorrentFile, ...], bool, str]:
    """The torrent's files in order with their offsets; (files, several files?, problem or "")."""
    length = _int(info.get(b"length"))
    if length is not None:
        if length < 0:
            return (), False, f"negative length {length}"
        return (TorrentFile(name, length, 0, hashes=_file_hashes(info)),), False, ""
    entries = info.get(b"files")
    if isinstance(entries, list):
        files: list[TorrentFile] = []
        offset = 0
        problem = ""
        for number, value in enumerate(entries):
            entry = _dict(value)
            size = _int(entry.get(b"length"))
            parts = entry.get(b"path.utf-8") or entry.get(b"path")
            if size is None or size < 0 or not isinstance(parts, list):
                problem = problem or f"file {number} has no usable length or path; skipped"
                continue
            path = "/".join([name, *(_text(p) for p in parts if isinstance(p, bytes))])
            attr = entry.get(b"attr")
            padding = isinstance(attr, bytes) and b"p" in attr
            files.append(TorrentFile(path, size, offset, padding, _file_hashes(entry)))
            offset += size
        return tuple(files), True, problem
    tree = info.get(b"file tree")
    if isinstance(tree, dict):
        return _file_tree(tree, name), True, ""
    return (), False, "info names neither a length nor a file list"


def _file_tree(tree: dict[bytes, BValue], name: str) -> tuple[TorrentFile, ...]:
    """BEP 52's ``file tree``: nested dictionaries whose leaf (the empty key) holds the length."""
    files: list[TorrentFile] = []
    offset = 0
    pending: list[tuple[str, dict[bytes, BValue]]] = [(name, tree)]
    while pending:  # depth-first in key order, as BEP 52 lays the files out
        prefix, node = pending.pop()
        for key in sorted(node, reverse=True):
            child = _dict(node[key])
            if key == b"":
                size = _int(child.get(b"length")) or 0
                files.append(TorrentFile(prefix, size, offset))
                offset += size
            else:
                pending.append((f"{prefix}/{decode_text(key)}", child))
    return tuple(files)


class TorrentFileParser:
    """A ``.torrent`` file: what the user meant to fetch (not proof that anything was fetched)."""

    NAME: ClassVar[str] = "bittorrent-torrent"
    NAMES: ClassVar[tuple[str, ...]] = ("*.torrent",)
    CLIENT: ClassVar[str] = "torrent"

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and _dictionary(head)

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        torrent, warnings = read_torrent(data)
        if torrent is not None:
            yield from torrent_records(torrent)
        yield from warnings


def torrent_records(torrent: TorrentInfo) -> Iterator[P2PRecord]:
    """The torrent's own record, then one per file when it holds several."""
    extra = {
        "announce": torrent.announce,
        "created_by": torrent.created_by,
        "creation_date": iso(torrent.creation_date),
        "piece_length": str(torrent.piece_length),
        "files": str(len(torrent.files)),
        "comment": torrent.comment,
    }
    if torrent.info_hash_v2 is not None:
        extra["btmh"] = torrent.info_hash_v2.hex()
    hashes = {"btih": torrent.info_hash} if torrent.info_hash is not None else {}
    if not torrent.multi_file and torrent.files:
        hashes.update(torrent.files[0].hashes)
    yield P2PRecord(
        client="torrent",
        artefact=".torrent",
        index=0,
        name=torrent.name,
        size=torrent.total_length,
        hashes=hashes,
        extra={k: v for k, v in extra.items() if v},
    )
    if not torrent.multi_file:
        return
    owner = {"torrent": torrent.name}
    if torrent.info_hash is not None:
        owner["btih"] = torrent.info_hash.hex()
    for number, entry in enumerate((f for f in torrent.files if not f.padding), 1):
        yield P2PRecord(
            client="torrent",
            artefact=".torrent",
            index=number,
            name=entry.path,
            size=entry.length,
            hashes=dict(entry.hashes),
            extra=owner,
        )


# --- piece verification -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PieceCheck:
    """How much of a torrent's content the files found hold, piece by piece (SHA-1 of each piece)."""

    pieces: int  # pieces the torrent names
    matched: int  # pieces whose SHA-1 equals the torrent's
    mismatched: int  # pieces read whole whose SHA-1 differs
    unavailable: int  # pieces touching a file not found or shorter than the torrent says
    files_found: int
    files_missing: int
    problem: str = ""  # why no piece could be checked (a torrent without version-1 pieces, inconsistent)

    @property
    def complete(self) -> bool:
        return self.pieces > 0 and self.matched == self.pieces


class _Pieces:
    """Feeds the torrent's concatenated data piece by piece and compares each piece's SHA-1."""

    def __init__(self, info: TorrentInfo) -> None:
        self.info = info
        self.index = 0
        self.filled = 0
        self.hasher = hashlib.sha1()  # noqa: S324 - BitTorrent v1 pieces are SHA-1
        self.missing = False
        self.matched = self.mismatched = self.unavailable = 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.info.piece_length - self.filled)
            self.hasher.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.info.piece_length:
                self.finish()

    def skip(self, count: int) -> None:
        """``count`` bytes not available: the pieces they touch cannot be checked."""
        while count > 0:
            self.missing = True
            take = min(count, self.info.piece_length - self.filled)
            self.filled += take
            count -= take
            if self.filled == self.info.piece_length:
                self.finish()

    def finish(self) -> None:
        if self.filled == 0:
            return
        if self.missing:
            self.unavailable += 1
        elif self.hasher.digest() == self.info.pieces[20 * self.index : 20 * self.index + 20]:
            self.matched += 1
        else:
            self.mismatched += 1
        self.index += 1
        self.filled = 0
        self.missing = False
        self.hasher = hashlib.sha1()  # noqa: S324


def verify_pieces(info: TorrentInfo, read_file: Callable[[str], BinaryIO | None]) -> PieceCheck:
    """Check the torrent's pieces against the files ``read_file`` opens (by ``TorrentFile.path``; None: not
    found). Each file is read once, up to its length in the torrent; a missing or short file makes the pieces
    it touches ``unavailable``. Padding files (BEP 47) are zeros and never asked for."""
    count = len(info.pieces) // 20
    total = info.total_length
    expected = -(-total // info.piece_length) if info.piece_length > 0 else -1
    if not info.pieces or len(info.pieces) % 20 or count != expected:
        problem = (
            "the torrent has no version-1 piece hashes"
            if not info.pieces
            else f"the torrent names {len(info.pieces) / 20:g} piece hashes for {total} bytes in pieces of "
            f"{info.piece_length}; it is inconsistent"
        )
        return PieceCheck(count, 0, 0, 0, 0, 0, problem)
    pieces = _Pieces(info)
    found = missing = 0
    for entry in info.files:
        if entry.padding:
            _zeros(pieces, entry.length)
            continue
        stream = read_file(entry.path)
        if stream is None:
            missing += 1
            pieces.skip(entry.length)
            continue
        found += 1
        left = entry.length
        with stream:
            while left > 0:
                block = stream.read(min(_READ, left))
                if not block:
                    break
                pieces.feed(block)
                left -= len(block)
        pieces.skip(left)
    pieces.finish()
    return PieceCheck(count, pieces.matched, pieces.mismatched, pieces.unavailable, found, missing)


def _zeros(pieces: _Pieces, length: int) -> None:
    block = bytes(min(_READ, length))
    while length > 0:
        pieces.feed(block[: min(len(block), length)])
        length -= min(len(block), length)


# --- resume data --------------------------------------------------------------------------------------------


def _hash20(value: BValue | None) -> dict[str, bytes]:
    if isinstance(value, bytes) and len(value) == 20:
        return {"btih": value}
    if isinstance(value, bytes) and len(value) == 40:
        try:
            return {"btih": bytes.fromhex(value.decode("ascii"))}
        except (UnicodeDecodeError, ValueError):
            return {}
    return {}


def _count(value: BValue | None) -> int | None:
    number = _int(value)
    return number if number is not None and number >= 0 else None


def _extra(**values: object) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


class UTorrentResume:
    """µTorrent / BitTorrent ``resume.dat``: every torrent the client had, with its transfer totals."""

    NAME: ClassVar[str] = "utorrent-resume"
    NAMES: ClassVar[tuple[str, ...]] = ("resume.dat", "resume.dat.old")
    CLIENT: ClassVar[str] = "utorrent"
    _SKIP = frozenset({b".fileguard", b"rec"})

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and _dictionary(head)

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        decoded = decode(data)
        index = 0
        for key, value in _dict(decoded.value).items():
            if key in self._SKIP or not isinstance(value, dict):
                continue
            completed_on = _time(value.get(b"completed_on"))
            seedtime = _count(value.get(b"seedtime"))
            yield P2PRecord(
                client=self.CLIENT,
                artefact="resume.dat",
                index=index,
                name=_text(value.get(b"caption")) or decode_text(key),
                hashes=_hash20(value.get(b"info")),
                shared=True if seedtime else None,
                completed=True if completed_on is not None else None,
                uploaded_bytes=_count(value.get(b"uploaded")),
                added=_time(value.get(b"added_on")),
                completed_at=completed_on,
                save_path=_text(value.get(b"path")),
                extra=_extra(
                    torrent_file=decode_text(key),
                    downloaded=_count(value.get(b"downloaded")),
                    seedtime_s=seedtime,
                    label=_text(value.get(b"label")),
                ),
            )
            index += 1
        if (warning := _stopped("resume.dat", decoded)) is not None:
            yield warning


class TransmissionResume:
    """Transmission ``*.resume``: one torrent's state; its info-hash is the file's name."""

    NAME: ClassVar[str] = "transmission-resume"
    NAMES: ClassVar[tuple[str, ...]] = ("*.resume",)  # not "*.fastresume" (qBittorrent's): ".resume" ends it
    CLIENT: ClassVar[str] = "transmission"

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and _dictionary(head)

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        """``name``: the file's name (``<40 hex>.resume`` gives the info-hash)."""
        decoded = decode(data)
        root = _dict(decoded.value)
        if root:
            hash_name = _HASH_NAME.match(name)
            done = _time(root.get(b"done-date"))
            progress = _dict(root.get(b"progress"))
            complete = done is not None or progress.get(b"have") == b"all"
            paused = _int(root.get(b"paused"))
            yield P2PRecord(
                client=self.CLIENT,
                artefact="resume",
                index=0,
                name=_text(root.get(b"name")) or name.removesuffix(".resume"),
                hashes={"btih": bytes.fromhex(hash_name.group(1))} if hash_name else {},
                shared=True if complete and paused == 0 else None,
                completed=True if complete else None,
                uploaded_bytes=_count(root.get(b"uploaded")),
                added=_time(root.get(b"added-date")),
                completed_at=done,
                last_shared=_time(root.get(b"activity-date")),
                save_path=_text(root.get(b"destination")),
                extra=_extra(
                    downloaded=_count(root.get(b"downloaded")),
                    paused=paused,
                    seeding_time_s=_count(root.get(b"seeding-time-seconds")),
                    incomplete_dir=_text(root.get(b"incomplete-dir")),
                ),
            )
        if (warning := _stopped("resume", decoded)) is not None:
            yield warning


class QBittorrentFastresume:
    """qBittorrent ``BT_backup/<info-hash>.fastresume`` (libtorrent resume data plus qBt- keys)."""

    NAME: ClassVar[str] = "qbittorrent-fastresume"
    NAMES: ClassVar[tuple[str, ...]] = ("*.fastresume",)
    CLIENT: ClassVar[str] = "qbittorrent"

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and _dictionary(head)

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        decoded = decode(data)
        root = _dict(decoded.value)
        if root:
            hashes = _hash20(root.get(b"info-hash"))
            completed_at = _time(root.get(b"completed_time"))
            paused = _int(root.get(b"paused"))
            seed_mode = _int(root.get(b"seed_mode"))
            complete = completed_at is not None or bool(seed_mode)
            shown = _text(root.get(b"qBt-name")) or _text(root.get(b"name"))
            yield P2PRecord(
                client=self.CLIENT,
                artefact="fastresume",
                index=0,
                name=shown or (hashes["btih"].hex() if hashes else ""),
                hashes=hashes,
                shared=True if complete and paused == 0 else None,
                completed=True if complete else None,
                uploaded_bytes=_count(root.get(b"total_uploaded")),
                added=_time(root.get(b"added_time")),
                completed_at=completed_at,
                last_shared=_time(root.get(b"last_upload")),
                save_path=_text(root.get(b"qBt-savePath")) or _text(root.get(b"save_path")),
                extra=_extra(
                    downloaded=_count(root.get(b"total_downloaded")),
                    paused=paused,
                    seeding_time_s=_count(root.get(b"seeding_time")),
                    category=_text(root.get(b"qBt-category")),
                ),
            )
        if (warning := _stopped("fastresume", decoded)) is not None:
            yield warning


PARSERS = (TorrentFileParser(), UTorrentResume(), TransmissionResume(), QBittorrentFastresume())
