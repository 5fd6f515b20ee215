"""The hash-set database: imported sets as sorted numpy arrays, looked up in batches.

Layout of ``root`` (owner-only):

- ``catalog.sqlite``: set metadata (what a run records), per-set category tables, per-kind array stats and
  the store format version.
- ``sets/<token>/``: one directory per set, written under a temporary name and renamed into place, so a
  crashed import leaves no half set. Per digest kind, sorted by digest: ``<kind>.prefix.npy`` (uint64, first
  8 bytes big-endian), ``<kind>.rest.npy`` (uint8, remaining bytes), ``<kind>.entry.npy`` (uint32, entry row)
  and ``<kind>.bucket.npy`` (start of each top-bits bucket). ``category.npy`` (uint16 per entry) when the
  set has categories; ``extra.sqlite`` with per-entry metadata (VICS) when there is any.

Arrays are saved as .npy and opened memory-mapped with ``allow_pickle=False``: never pickle. A lookup is
a vectorised bucketed binary search over a whole batch, never a Python loop over rows; only hits become
Python objects (``Matcher.contains`` skips even that, for known-good filtering).

What an import keeps: one entry per record with a usable digest; digests of empty files are dropped (they
match every empty file); the same digest with the same category in several entries is stored once (the
first entry), with different categories once per category, so a conflict between entries stays visible.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from safenet.hashsets.categories import Scheme, get_scheme, load_scheme_file, scheme_from_dict
from safenet.hashsets.formats import detect_format, get_format
from safenet.hashsets.formats.base import EMPTY_DIGESTS, BulkDigests, HashSetFormat
from safenet.hashsets.model import (
    HashKind,
    HashRecord,
    HashSetError,
    HashSetInfo,
    Match,
    SetKind,
    WarnFn,
)

FORMAT_VERSION = 1
CATALOG = "catalog.sqlite"
SETS = "sets"
WARNING_LIMIT = 1000
CHUNK = 1 << 20  # entries buffered per kind before they become a numpy chunk
MAX_BUCKET_BITS = 24  # 2**24 buckets: 64 MiB of uint32 starts for a 50-million-digest set
_NAME_RE = re.compile(r"^[\w][\w .@()+,:-]{0,99}$")
_MAX_ENTRIES = 2**32 - 1  # entry numbers are uint32
_EXTRA_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_STRENGTH = (HashKind.SHA256, HashKind.SHA1, HashKind.MD5)  # one match per set entry: the strongest kind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    directory TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    source_path TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    source_size INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    entry_count INTEGER NOT NULL,
    scheme TEXT NOT NULL,
    scheme_json TEXT NOT NULL,
    kind TEXT NOT NULL,
    profile TEXT,
    has_categories INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS set_digests (
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    hash_kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    bucket_bits INTEGER NOT NULL,
    max_bucket INTEGER NOT NULL,
    PRIMARY KEY (set_id, hash_kind)
);
CREATE TABLE IF NOT EXISTS categories (
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    raw TEXT,
    uk TEXT NOT NULL,
    entries INTEGER NOT NULL,
    PRIMARY KEY (set_id, idx)
);
"""

CategoryCounts = list[tuple[str | None, str, int]]  # (raw code, UK code, entries); alias: the class has .list
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


class HashSetStore:
    """All imported hash sets on this machine (or lab share); separate from any case."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.root / SETS).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise HashSetError(
                f"cannot create the hash-set database at {self.root}: {exc.strerror or exc}; "
                "choose a directory you can write to"
            ) from exc
        self._catalog = self.root / CATALOG
        with self._connect() as db:
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            elif row[0] != str(FORMAT_VERSION):
                raise HashSetError(
                    f"the hash-set database at {self.root} has format version {row[0]} but this Safenet "
                    f"reads version {FORMAT_VERSION}; use a matching Safenet or re-import the sets into a "
                    "new directory"
                )
        with contextlib.suppress(OSError):
            os.chmod(self._catalog, 0o600)

    # --- catalog -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection in one transaction, so the store is safe to use from several threads."""
        try:
            db = sqlite3.connect(self._catalog, timeout=30)
        except sqlite3.Error as exc:
            raise HashSetError(f"cannot open {self._catalog}: {exc}; check the path and permissions") from exc
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise HashSetError(
                f"the hash-set catalog {self._catalog} cannot be used ({exc}); restore it from backup"
            ) from exc
        finally:
            db.close()

    def list(self) -> list[HashSetInfo]:
        """Every imported set, by name."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM sets ORDER BY name").fetchall()
            return [_info(db, row) for row in rows]

    def get(self, name: str) -> HashSetInfo:
        """One set's catalog entry, or a HashSetError that names it."""
        with self._connect() as db:
            return _info(db, _set_row(db, name))

    def remove(self, name: str) -> None:
        """Delete a set from the catalog, then its files."""
        with self._connect() as db:
            row = _set_row(db, name)
            db.execute("DELETE FROM sets WHERE id = ?", (row["id"],))
        shutil.rmtree(self.root / SETS / row["directory"], ignore_errors=True)

    def scheme(self, name: str) -> Scheme:
        """The category scheme a set was imported with, as it was then (a snapshot, not today's file)."""
        with self._connect() as db:
            row = _set_row(db, name)
        return scheme_from_dict(json.loads(row["scheme_json"]), f"the catalog entry of '{name}'")

    def category_counts(self, name: str) -> CategoryCounts:
        """(raw code, UK code, number of entries) for each category code the set uses."""
        with self._connect() as db:
            set_id = _set_row(db, name)["id"]
            rows = db.execute("SELECT raw, uk, entries FROM categories WHERE set_id = ? ORDER BY idx", (set_id,))
            return [(r["raw"], r["uk"], r["entries"]) for r in rows if r["entries"]]

    def extra(self, name: str, entry: int) -> Mapping[str, str] | None:
        """Per-entry metadata kept at import (VICS MediaID, Series, PhotoDNA ...), or None."""
        with self._connect() as db:
            directory = _set_row(db, name)["directory"]
        path = self.root / SETS / directory / "extra.sqlite"
        if not path.exists():
            return None
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as db:
            row = db.execute("SELECT data FROM extra WHERE entry = ?", (int(entry),)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- import ------------------------------------------------------------------------------------------

    def import_file(
        self,
        path: Path,
        name: str,
        *,
        kind: SetKind | None = None,
        format_name: str | None = None,
        scheme: str | None = None,
        scheme_file: Path | None = None,
        replace: bool = False,
        warn: WarnFn,
    ) -> HashSetInfo:
        """Read a hash-set file into the store under ``name``; see the module docstring for the layout."""
        path = Path(path)
        _check_name(name)
        if not path.is_file():
            raise HashSetError(f"{path} is not a file; give the path of the hash-set file to import")
        fmt = get_format(format_name) if format_name else detect_format(path)
        set_kind = kind if kind is not None else fmt.DEFAULT_KIND
        if set_kind is None:
            raise HashSetError(
                f"Safenet cannot tell what kind of set {path.name} ({fmt.NAME}) is; "
                "pass --kind illicit|known-good|notable"
            )
        chosen = _explicit_scheme(scheme, scheme_file)
        if not replace:
            with self._connect() as db:
                if db.execute("SELECT 1 FROM sets WHERE name = ?", (name,)).fetchone():
                    raise HashSetError(
                        f"a hash set named '{name}' already exists; choose another name or pass --replace"
                    )
        before = path.stat()
        digest = _file_sha256(path)
        limiter = _WarnLimiter(warn)
        staging = self.root / SETS / f".tmp-{secrets.token_hex(8)}"
        staging.mkdir(mode=0o700)
        try:
            builder = _Builder(staging, limiter)
            try:
                for item in fmt.read_bulk(path, limiter):
                    builder.add(item)
            except OSError as exc:
                raise HashSetError(f"cannot read {path}: {exc.strerror or exc}; check the file") from exc
            finally:
                builder.close()
            if builder.entries == 0:
                raise HashSetError(
                    f"{path} gave no usable hash entries when read as {fmt.NAME}; check that the file is "
                    "really in that format (see the warnings)"
                )
            used = chosen or _default_scheme(fmt, limiter)
            stats = builder.finish(used)
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise HashSetError(f"{path} changed while it was being imported; import it again")
            info = HashSetInfo(
                name=name,
                format=fmt.NAME,
                source_path=str(path.resolve()),
                source_sha256=digest,
                imported_at=datetime.now(UTC),
                entry_count=builder.entries,
                scheme=used.name,
                kind=set_kind,
                digests=tuple(k for k in HashKind if k in stats.kinds),
                profile=fmt.profile(),
            )
            self._commit(info, staging, stats, used, before.st_size, replace)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        limiter.finish()
        return info

    def _commit(
        self, info: HashSetInfo, staging: Path, stats: _BuildStats, scheme: Scheme, size: int, replace: bool
    ) -> None:
        """Rename the staged directory into place and record the set in one catalog transaction."""
        directory = secrets.token_hex(8)
        final = self.root / SETS / directory
        old_directory: str | None = None
        _fsync_dir(staging)
        os.rename(staging, final)
        try:
            with self._connect() as db:
                old = db.execute("SELECT id, directory FROM sets WHERE name = ?", (info.name,)).fetchone()
                if old is not None:
                    if not replace:
                        raise HashSetError(
                            f"a hash set named '{info.name}' already exists; choose another name or pass --replace"
                        )
                    db.execute("DELETE FROM sets WHERE id = ?", (old[0],))
                    old_directory = old[1]
                set_id = _insert_set(db, info, directory, stats, scheme, size)
                db.executemany(
                    "INSERT INTO set_digests VALUES (?, ?, ?, ?, ?)",
                    [(set_id, k.value, s.count, s.bucket_bits, s.max_bucket) for k, s in stats.kinds.items()],
                )
                db.executemany(
                    "INSERT INTO categories VALUES (?, ?, ?, ?, ?)",
                    [(set_id, i, raw, uk, n) for i, (raw, uk, n) in enumerate(stats.categories)],
                )
        except sqlite3.IntegrityError as exc:
            shutil.rmtree(final, ignore_errors=True)
            raise HashSetError(
                f"a hash set named '{info.name}' was added while this import ran; import again with --replace"
            ) from exc
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        _fsync_dir(self.root / SETS)
        if old_directory:
            shutil.rmtree(self.root / SETS / old_directory, ignore_errors=True)

    # --- lookups -----------------------------------------------------------------------------------------

    def matcher(self, names: Sequence[str]) -> Matcher:
        """A matcher over the named sets (in the given order); arrays are memory-mapped, not loaded."""
        opened: list[_OpenSet] = []
        with self._connect() as db:
            for name in dict.fromkeys(names):
                row = _set_row(db, name)
                opened.append(_OpenSet.open(db, row, self.root / SETS / row["directory"]))
        return Matcher(opened)


# --- catalog helpers ---------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.strip():
        raise HashSetError(
            f"hash-set name {name!r} is not usable; use letters, digits, spaces and . _ - (up to 100 characters)"
        )


def _set_row(db: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM sets WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise HashSetError(f"no hash set named '{name}'; run `safenet hashset list` to see the imported sets")
    return row  # type: ignore[no-any-return]


def _info(db: sqlite3.Connection, row: Any) -> HashSetInfo:
    kinds = {r[0] for r in db.execute("SELECT hash_kind FROM set_digests WHERE set_id = ?", (row["id"],))}
    return HashSetInfo(
        name=row["name"],
        format=row["format"],
        source_path=row["source_path"],
        source_sha256=row["source_sha256"],
        imported_at=datetime.fromisoformat(row["imported_at"]),
        entry_count=row["entry_count"],
        scheme=row["scheme"],
        kind=SetKind(row["kind"]),
        digests=tuple(k for k in HashKind if k.value in kinds),
        profile=row["profile"],
    )


def _insert_set(
    db: sqlite3.Connection, info: HashSetInfo, directory: str, stats: _BuildStats, scheme: Scheme, size: int
) -> int:
    cursor = db.execute(
        "INSERT INTO sets (name, directory, format, source_path, source_sha256, source_size, imported_at,"
        " entry_count, scheme, scheme_json, kind, profile, has_categories)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.name,
            directory,
            info.format,
            info.source_path,
            info.source_sha256,
            size,
            info.imported_at.isoformat(),
            info.entry_count,
            info.scheme,
            json.dumps(scheme.as_dict(), sort_keys=True),
            info.kind.value,
            info.profile,
            int(stats.has_categories),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _explicit_scheme(scheme: str | None, scheme_file: Path | None) -> Scheme | None:
    if scheme_file is not None:
        loaded = load_scheme_file(Path(scheme_file))
        if scheme is not None and scheme != loaded.name:
            raise HashSetError(
                f"--scheme '{scheme}' and the scheme file's name '{loaded.name}' disagree; give only one"
            )
        return loaded
    return get_scheme(scheme) if scheme is not None else None


def _default_scheme(fmt: HashSetFormat, warn: WarnFn) -> Scheme:
    caveat = fmt.scheme_caveat()
    if caveat:
        warn("", caveat)
    return get_scheme(fmt.default_scheme())


def _file_sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise HashSetError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _WarnLimiter:
    """Passes the first WARNING_LIMIT warnings through, then only counts them."""

    def __init__(self, warn: WarnFn) -> None:
        self._warn = warn
        self.count = 0

    def __call__(self, ref: str, message: str) -> None:
        self.count += 1
        if self.count <= WARNING_LIMIT:
            self._warn(ref, message)

    def always(self, ref: str, message: str) -> None:
        """A summary warning: never suppressed, not counted."""
        self._warn(ref, message)

    def finish(self) -> None:
        if self.count > WARNING_LIMIT:
            self._warn("", f"{self.count - WARNING_LIMIT} further warnings not shown ({self.count} in all)")


# --- building a set ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KindStats:
    count: int
    bucket_bits: int
    max_bucket: int


@dataclass(frozen=True, slots=True)
class _BuildStats:
    kinds: dict[HashKind, _KindStats]
    categories: list[tuple[str | None, str, int]]  # by index: raw code, UK code, entries
    has_categories: bool


@dataclass(slots=True)
class _Chunk:
    prefix: U64
    rest: U8
    entry: npt.NDArray[np.uint32]


def _split(digests: U8, entries: npt.NDArray[np.uint32]) -> _Chunk:
    """(n, size) digest bytes -> big-endian uint64 prefix + remaining bytes."""
    prefix = np.ascontiguousarray(digests[:, :8]).view(">u8").ravel().astype(np.uint64)
    return _Chunk(prefix, np.ascontiguousarray(digests[:, 8:]), entries)


class _Builder:
    """Accumulates entries in numpy chunks, then sorts and writes each digest kind."""

    def __init__(self, directory: Path, warn: _WarnLimiter) -> None:
        self.directory = directory
        self.warn = warn
        self.entries = 0
        self.empty = 0
        self._chunks: dict[HashKind, list[_Chunk]] = {k: [] for k in HashKind}
        self._digests: dict[HashKind, bytearray] = {k: bytearray() for k in HashKind}
        self._owners: dict[HashKind, array[int]] = {k: array("I") for k in HashKind}
        self._category_chunks: list[npt.NDArray[np.uint16]] = []
        self._categories: array[int] = array("H")
        self._codes: dict[str | None, int] = {None: 0}
        self._first_ref: dict[str, str] = {}
        self._extras: list[tuple[int, str]] = []
        self._extra_db: sqlite3.Connection | None = None

    def add(self, item: HashRecord | BulkDigests) -> None:
        if isinstance(item, BulkDigests):
            self._add_bulk(item)
        else:
            self._add_record(item)

    def _add_record(self, record: HashRecord) -> None:
        found: list[tuple[HashKind, bytes]] = []
        empty = False
        for kind, value in ((HashKind.MD5, record.md5), (HashKind.SHA1, record.sha1), (HashKind.SHA256, record.sha256)):
            if value is None:
                continue
            if len(value) != kind.size:
                self.warn(record.ref, f"{kind.name} digest has {len(value)} bytes, not {kind.size}; ignored")
            elif value == EMPTY_DIGESTS[kind]:
                empty = True
            else:
                found.append((kind, value))
        if not found:
            if empty:
                self.empty += 1
            else:
                self.warn(record.ref, "entry has no usable digest; skipped")
            return
        entry = self._next_entries(1)
        for kind, value in found:
            self._digests[kind] += value
            self._owners[kind].append(entry)
            if len(self._owners[kind]) >= CHUNK:
                self._flush(kind)
        self._categories.append(self._code(record.category, record.ref))
        if len(self._categories) >= CHUNK:
            self._flush_categories()
        if record.extra:
            self._add_extra(entry, record.extra)

    def _add_bulk(self, bulk: BulkDigests) -> None:
        if len(bulk) == 0:
            return
        empty = {k: (d == np.frombuffer(EMPTY_DIGESTS[k], np.uint8)).all(axis=1) for k, d in bulk.columns.items()}
        usable = np.zeros(len(bulk), dtype=np.bool_)
        for mask in empty.values():
            usable |= ~mask
        count = int(usable.sum())
        self.empty += len(bulk) - count
        if count == 0:
            return
        self._flush_categories()
        first = self._next_entries(count)
        entries = np.arange(first, first + count, dtype=np.uint32)
        for kind, digests in bulk.columns.items():
            keep = ~empty[kind][usable]
            self._flush(kind)
            self._chunks[kind].append(_split(digests[usable][keep], entries[keep]))
        self._category_chunks.append(np.zeros(count, dtype=np.uint16))

    def _next_entries(self, count: int) -> int:
        first = self.entries
        if first + count > _MAX_ENTRIES:
            raise HashSetError("a hash set can hold at most 4,294,967,295 entries; split the file")
        self.entries += count
        return first

    def _code(self, raw: str | None, ref: str) -> int:
        if raw is not None and not raw.strip():
            raw = None
        index = self._codes.get(raw)
        if index is None:
            index = len(self._codes)
            if index > 0xFFFF:  # category indexes are uint16
                raise HashSetError("the file uses more than 65,535 distinct category codes; check its format")
            self._codes[raw] = index
            if raw is not None:
                self._first_ref[raw] = ref
        return index

    def _add_extra(self, entry: int, extra: Mapping[str, str]) -> None:
        self._extras.append((entry, _EXTRA_JSON.encode(dict(extra))))
        if len(self._extras) >= 50_000:
            self._flush_extras()

    def _flush_extras(self) -> None:
        if not self._extras:
            return
        if self._extra_db is None:
            self._extra_db = sqlite3.connect(self.directory / "extra.sqlite")
            self._extra_db.execute("CREATE TABLE extra (entry INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        with self._extra_db:
            self._extra_db.executemany("INSERT INTO extra VALUES (?, ?)", self._extras)
        self._extras = []

    def _flush(self, kind: HashKind) -> None:
        owners = self._owners[kind]
        if not owners:
            return
        digests = np.frombuffer(bytes(self._digests[kind]), dtype=np.uint8).reshape(-1, kind.size)
        self._chunks[kind].append(_split(digests, np.frombuffer(owners, dtype=np.uint32).copy()))
        self._digests[kind] = bytearray()
        self._owners[kind] = array("I")

    def _flush_categories(self) -> None:
        if self._categories:
            self._category_chunks.append(np.frombuffer(self._categories, dtype=np.uint16).copy())
            self._categories = array("H")

    def close(self) -> None:
        """Write the last extras and close their database (also after a failed read)."""
        if self._extra_db is not None or self._extras:
            with contextlib.suppress(sqlite3.Error):
                self._flush_extras()
        if self._extra_db is not None:
            self._extra_db.close()
            self._extra_db = None

    def finish(self, scheme: Scheme) -> _BuildStats:
        """Map categories with ``scheme``, sort and write every kind; returns what the catalog records."""
        self._flush_categories()
        categories = np.concatenate(self._category_chunks)
        self._category_chunks = []
        counts = np.bincount(categories, minlength=len(self._codes))
        table: list[tuple[str | None, str, int]] = []
        for raw, index in self._codes.items():
            uk = scheme.uk_code(raw)
            table.append((raw, uk, int(counts[index])))
            if raw is not None and uk.startswith("unknown:"):
                self.warn.always(
                    self._first_ref[raw],
                    f"unknown category code '{raw}' for scheme '{scheme.name}'; kept as shown "
                    f"({int(counts[index])} entries)",
                )
        has_categories = bool(categories.any())
        if has_categories:
            _save(self.directory / "category.npy", categories)
        stats: dict[HashKind, _KindStats] = {}
        for kind in HashKind:
            self._flush(kind)
            chunks = self._chunks.pop(kind)
            if chunks:
                stats[kind] = _write_kind(self.directory, kind, chunks, categories if has_categories else None)
        if self.empty:
            self.warn.always("", f"{self.empty} entries hold only the digest of an empty file; skipped")
        return _BuildStats(stats, table, has_categories)


def _rest_words(rest: U8) -> list[U64]:
    """Remaining digest bytes as big-endian uint64 columns (zero-padded), most significant first."""
    width = -(-rest.shape[1] // 8) * 8
    padded = np.zeros((rest.shape[0], width), dtype=np.uint8)
    padded[:, : rest.shape[1]] = rest
    words = padded.view(">u8").astype(np.uint64)
    return [words[:, i] for i in range(words.shape[1])]


def _write_kind(
    directory: Path, kind: HashKind, chunks: list[_Chunk], categories: npt.NDArray[np.uint16] | None
) -> _KindStats:
    """Sort by digest (ties: by category, then entry), drop repeats of the same digest+category, write.

    Memory: the three columns plus the sort order (about 28 bytes a digest for MD5); each sorted column
    goes straight into its memory-mapped output file instead of a second in-memory copy.
    """
    prefix = _concat(chunks, "prefix")
    entry = _concat(chunks, "entry")
    rest = _concat(chunks, "rest")
    chunks.clear()
    # Not a stable sort: rows with equal prefixes are put in a total order by _resolve_ties anyway.
    order = np.argsort(prefix)
    tied = _tied_positions(prefix, order)
    if tied.size:
        order = _resolve_ties(order, tied, prefix, rest, entry, categories)
    base = directory / kind.value
    bits, buckets = _buckets(prefix, order)
    _save(Path(f"{base}.bucket.npy"), buckets)
    _save_taken(Path(f"{base}.prefix.npy"), prefix, order)
    del prefix
    _save_taken(Path(f"{base}.rest.npy"), rest, order)
    del rest
    _save_taken(Path(f"{base}.entry.npy"), entry, order)
    del entry
    max_bucket = int(np.diff(buckets).max()) if buckets.size > 1 else 0
    return _KindStats(count=int(order.shape[0]), bucket_bits=bits, max_bucket=max_bucket)


def _tied_positions(prefix: U64, order: I64) -> I64:
    """Positions i (in sorted order) whose prefix equals that at i + 1; in slices, to avoid a full copy."""
    step = CHUNK * 4
    found = []
    for start in range(0, max(order.shape[0] - 1, 0), step):
        part = prefix[order[start : start + step + 1]]
        found.append(np.flatnonzero(part[1:] == part[:-1]) + start)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _concat(chunks: list[_Chunk], field: str) -> npt.NDArray[Any]:
    """Concatenate one column of the chunks, releasing each chunk's part as soon as it is copied."""
    first: npt.NDArray[Any] = getattr(chunks[0], field)
    total = sum(getattr(chunk, field).shape[0] for chunk in chunks)
    out = np.empty((total, *first.shape[1:]), dtype=first.dtype)
    del first
    position = 0
    for chunk in chunks:
        part: npt.NDArray[Any] = getattr(chunk, field)
        out[position : position + part.shape[0]] = part
        position += part.shape[0]
        setattr(chunk, field, np.empty((0, *part.shape[1:]), dtype=part.dtype))  # not a view: frees it
        del part
    return out


def _save_taken(path: Path, column: npt.NDArray[Any], order: I64) -> None:
    """Write ``column[order]`` as a .npy file, slice by slice, so no sorted copy is held in memory."""
    shape = (order.shape[0], *column.shape[1:])
    header = {"descr": np.lib.format.dtype_to_descr(column.dtype), "fortran_order": False, "shape": shape}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, order.shape[0], CHUNK * 4):
            handle.write(np.take(column, order[start : start + CHUNK * 4], axis=0).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def _resolve_ties(
    order: I64,
    tied: I64,
    prefix: U64,
    rest: U8,
    entry: npt.NDArray[np.uint32],
    categories: npt.NDArray[np.uint16] | None,
) -> I64:
    """Order rows that share a prefix by (rest, category, entry); keep one row per digest and category."""
    positions = np.unique(np.concatenate([tied, tied + 1]))
    rows = order[positions]
    cats = categories[entry[rows]] if categories is not None else np.zeros(rows.shape[0], np.uint16)
    words = _rest_words(rest[rows])
    sub = np.lexsort((entry[rows], cats, *reversed(words), prefix[rows]))
    rows, cats, words = rows[sub], cats[sub], [w[sub] for w in words]
    order[positions] = rows
    same = (prefix[rows][1:] == prefix[rows][:-1]) & (cats[1:] == cats[:-1])
    for word in words:
        same &= word[1:] == word[:-1]
    if not same.any():
        return order
    keep = np.ones(order.shape[0], dtype=np.bool_)
    keep[positions[1:][same]] = False
    return order[keep]


def _buckets(prefix: U64, order: I64) -> tuple[int, npt.NDArray[Any]]:
    """Start offset of every top-``bits`` bucket of ``prefix[order]`` (about one digest per bucket)."""
    count = order.shape[0]
    bits = min(MAX_BUCKET_BITS, max(1, math.ceil(math.log2(max(count, 2)))))
    shift = np.uint64(64 - bits)
    counts = np.zeros(1 << bits, dtype=np.int64)
    for start in range(0, count, CHUNK * 4):
        part = (prefix[order[start : start + CHUNK * 4]] >> shift).astype(np.intp)
        counts += np.bincount(part, minlength=1 << bits)
    starts = np.zeros((1 << bits) + 1, dtype=np.uint32 if count < 2**32 else np.uint64)
    np.cumsum(counts, out=starts[1:])
    return bits, starts


def _save(path: Path, array_: npt.NDArray[Any]) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array_), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


# --- lookups -----------------------------------------------------------------------------------------------


class _KindIndex:
    """The sorted arrays of one digest kind of one set, memory-mapped."""

    def __init__(self, base: Path, stats: _KindStats, size: int) -> None:
        self.prefix: U64 = _load(Path(f"{base}.prefix.npy"), np.uint64, (stats.count,))
        self.rest: U8 = _load(Path(f"{base}.rest.npy"), np.uint8, (stats.count, size - 8))
        self.entry: npt.NDArray[np.uint32] = _load(Path(f"{base}.entry.npy"), np.uint32, (stats.count,))
        self.buckets: npt.NDArray[Any] = np.load(Path(f"{base}.bucket.npy"), mmap_mode="r", allow_pickle=False)
        if self.buckets.shape != ((1 << stats.bucket_bits) + 1,):
            raise _damaged(base, "bucket table")
        self.shift = np.uint64(64 - stats.bucket_bits)
        self.steps = max(1, math.ceil(math.log2(stats.max_bucket + 1)))

    def find(self, prefix: U64, rest: U8) -> tuple[I64, npt.NDArray[np.uint32]]:
        """(query rows, entries) of every exact hit; a bucketed binary search over the whole batch."""
        total = self.prefix.shape[0]
        bucket = (prefix >> self.shift).astype(np.intp)
        low = self.buckets[bucket].astype(np.int64)
        high = self.buckets[bucket + 1].astype(np.int64)
        end = high.copy()
        for _ in range(self.steps):
            active = low < high
            middle = np.minimum((low + high) >> 1, total - 1)
            below = self.prefix[middle] < prefix
            low = np.where(active & below, middle + 1, low)
            high = np.where(active & ~below, middle, high)
        candidates = np.flatnonzero(low < end)
        candidates = candidates[self.prefix[low[candidates]] == prefix[candidates]]
        if candidates.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.uint32)
        start = low[candidates]
        following = np.minimum(start + 1, total - 1)
        several = (start + 1 < end[candidates]) & (self.prefix[following] == prefix[candidates])
        single, single_at = candidates[~several], start[~several]
        exact = (self.rest[single_at] == rest[single]).all(axis=1)
        rows, entries = [single[exact]], [self.entry[single_at[exact]]]
        for query, first in zip(candidates[several].tolist(), start[several].tolist(), strict=True):
            stop = first
            while stop < total and self.prefix[stop] == prefix[query]:
                stop += 1
            same = np.flatnonzero((self.rest[first:stop] == rest[query]).all(axis=1)) + first
            rows.append(np.full(same.shape[0], query, dtype=np.int64))
            entries.append(self.entry[same])
        return np.concatenate(rows).astype(np.int64), np.concatenate(entries).astype(np.uint32)


def _load(path: Path, dtype: type[np.generic], shape: tuple[int, ...]) -> Any:
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _damaged(path, f"unreadable ({exc})") from exc
    if loaded.dtype != np.dtype(dtype) or loaded.shape != shape:
        raise _damaged(path, f"holds {loaded.dtype}{loaded.shape}, expected {np.dtype(dtype)}{shape}")
    return loaded


def _damaged(path: Path, what: str) -> HashSetError:
    return HashSetError(f"hash-set file {path} is damaged: {what}; re-import the set with --replace")


class _OpenSet:
    """One set opened for matching: info, category table and per-kind indexes."""

    def __init__(
        self,
        info: HashSetInfo,
        indexes: dict[HashKind, _KindIndex],
        categories: list[tuple[str | None, str]],
        category_of: npt.NDArray[np.uint16] | None,
    ) -> None:
        self.info = info
        self.indexes = indexes
        self.categories = categories
        self.category_of = category_of

    @classmethod
    def open(cls, db: sqlite3.Connection, row: Any, directory: Path) -> _OpenSet:
        info = _info(db, row)
        indexes = {}
        for kind, count, bits, max_bucket in db.execute(
            "SELECT hash_kind, count, bucket_bits, max_bucket FROM set_digests WHERE set_id = ?", (row["id"],)
        ):
            hash_kind = HashKind(kind)
            stats = _KindStats(count, bits, max_bucket)
            indexes[hash_kind] = _KindIndex(directory / hash_kind.value, stats, hash_kind.size)
        table = [
            (r[0], r[1])
            for r in db.execute("SELECT raw, uk FROM categories WHERE set_id = ? ORDER BY idx", (row["id"],))
        ]
        category_of = None
        if row["has_categories"]:
            category_of = _load(directory / "category.npy", np.uint16, (info.entry_count,))
        return cls(info, indexes, table, category_of)


class Matcher:
    """Batched exact lookups against a fixed list of sets (what one triage run uses)."""

    def __init__(self, sets: list[_OpenSet]) -> None:
        self._sets = sets
        self.sets: tuple[HashSetInfo, ...] = tuple(s.info for s in sets)
        # Everything a Match holds except the entry, per (set, digest kind, category index), so a hit only
        # costs one object: templates[base[set][kind rank] + category index].
        self._templates: list[tuple[Any, ...]] = []
        self._base: list[list[int]] = []
        for opened in sets:
            info = opened.info
            bases = []
            for kind in _STRENGTH:
                bases.append(len(self._templates))
                self._templates += [
                    (info.name, info.source_sha256, info.kind, kind, raw, uk, info.scheme)
                    for raw, uk in opened.categories
                ]
            self._base.append(bases)

    def lookup(self, queries: Sequence[Mapping[HashKind, bytes]]) -> list[list[Match]]:
        """Matches for each query (the digests of one item), in query order.

        An item can match several sets and several digest kinds; one set entry gives one Match (the
        strongest digest kind that hit). Matches are ordered by set (as given to ``matcher``), then entry.
        """
        with _gc_paused():
            return self._lookup(queries)

    def contains(self, queries: Sequence[Mapping[HashKind, bytes]]) -> npt.NDArray[np.bool_]:
        """For each query, whether it matches any of the sets; builds no Match objects.

        The cheap form for known-good filtering, where most items of a system disk hit: ``lookup`` pays
        for one Python object per hit, this costs the same whatever the hit rate.
        """
        found = np.zeros(len(queries), dtype=np.bool_)
        for _, _, queries_hit, _ in self._hits(queries):
            found[queries_hit] = True
        return found

    def _lookup(self, queries: Sequence[Mapping[HashKind, bytes]]) -> list[list[Match]]:
        results: list[list[Match]] = [[] for _ in range(len(queries))]
        hits: list[tuple[I64, I64, I64, I64]] = []  # query, set number, template, entry
        for rank, number, queries_hit, entries in self._hits(queries):
            opened = self._sets[number]
            codes = opened.category_of[entries] if opened.category_of is not None else 0
            template = self._base[number][rank] + np.asarray(codes, dtype=np.int64)
            hits.append(
                (
                    queries_hit,
                    np.full(queries_hit.shape, number, dtype=np.int64),
                    np.broadcast_to(template, queries_hit.shape),
                    entries.astype(np.int64),
                )
            )
        if hits:
            _fill(results, *_strongest_per_entry(hits), self._templates)
        return results

    def _hits(
        self, queries: Sequence[Mapping[HashKind, bytes]]
    ) -> Iterator[tuple[int, int, I64, npt.NDArray[np.uint32]]]:
        """(kind rank, set number, query numbers, entries) per set and digest kind that had hits."""
        if not queries:
            return
        for rank, kind in enumerate(_STRENGTH):
            holders = [(i, s) for i, s in enumerate(self._sets) if kind in s.indexes]
            if not holders:
                continue
            positions, digests = _gather(queries, kind)
            if positions.size == 0:
                continue
            prefix = np.ascontiguousarray(digests[:, :8]).view(">u8").ravel().astype(np.uint64)
            rest = digests[:, 8:]
            for number, opened in holders:
                rows, entries = opened.indexes[kind].find(prefix, rest)
                if rows.size:
                    yield rank, number, positions[rows], entries

    def close(self) -> None:
        """Drop the memory maps (they are also released when the matcher is garbage-collected)."""
        self._sets = []

    def __enter__(self) -> Matcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _strongest_per_entry(hits: list[tuple[I64, I64, I64, I64]]) -> tuple[list[int], list[int], list[int]]:
    """One hit per (query, set, entry), ordered by query, set, entry; the first kind found wins.

    Kinds are searched strongest first, so "first" means SHA-256 over SHA-1 over MD5.
    """
    query, number, template, entry = (np.concatenate([h[i] for h in hits]) for i in range(4))
    found_order = np.arange(query.shape[0])
    order = np.lexsort((found_order, entry, number, query))
    query, number, template, entry = query[order], number[order], template[order], entry[order]
    first = np.ones(query.shape[0], dtype=np.bool_)
    first[1:] = (query[1:] != query[:-1]) | (number[1:] != number[:-1]) | (entry[1:] != entry[:-1])
    return query[first].tolist(), template[first].tolist(), entry[first].astype(np.int64).tolist()


# Slot setters of the frozen Match: a frozen dataclass __init__ routes every field through
# object.__setattr__, which at one hit per listed file costs more than the whole vectorised search. Setting
# the slots directly builds the identical (equal, hashable, still frozen) object in half the time.
_SET_MATCH_FIELDS = tuple(getattr(Match, name).__set__ for name in Match.__slots__)


def _fill(
    results: list[list[Match]],
    queries: list[int],
    templates: list[int],
    entries: list[int],
    table: list[tuple[Any, ...]],
) -> None:
    set0, set1, set2, set3, set4, set5, set6, set7 = _SET_MATCH_FIELDS
    new = object.__new__
    for query, template, entry in zip(queries, templates, entries, strict=True):
        name, sha256, kind, hash_kind, raw, uk, scheme = table[template]
        match = new(Match)
        set0(match, name)
        set1(match, sha256)
        set2(match, kind)
        set3(match, hash_kind)
        set4(match, raw)
        set5(match, uk)
        set6(match, scheme)
        set7(match, entry)
        results[query].append(match)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch allocates one result list per query.

    Those allocations otherwise trigger collections that walk every object of the caller's (large) heap,
    which costs more than the lookup itself. The lists hold no cycles, so nothing is left for it to do.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _gather(queries: Sequence[Mapping[HashKind, bytes]], kind: HashKind) -> tuple[I64, U8]:
    """Query numbers that carry a ``kind`` digest, and those digests as an (m, size) array."""
    size = kind.size
    values = [query.get(kind) or b"" for query in queries]
    joined = b"".join(values)
    count = len(values)
    if len(joined) == count * size:
        lengths = None
    else:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
        wrong = np.flatnonzero((lengths != 0) & (lengths != size))
        if wrong.size:
            first = int(wrong[0])
            raise ValueError(f"query {first}: a {kind.name} digest must be {size} raw bytes, not {lengths[first]}")
    flat = np.frombuffer(joined, dtype=np.uint8)
    if lengths is None:
        return np.arange(count, dtype=np.int64), flat.reshape(count, size)
    positions = np.flatnonzero(lengths == size).astype(np.int64)
    return positions, flat.reshape(-1, size)
