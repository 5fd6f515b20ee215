"""The hash-set catalog: what the store knows *about* each imported set, in one SQLite file.

Why a module of its own: the catalog is the store's only shared, transactional state (several processes
and threads may use one store), so its schema, format version and every SQL statement live here and
nowhere else. The digests themselves are not in it: they are in the per-set arrays (``exact``, ``build``).

Tables: ``meta`` (the store format version), ``sets`` (one row per set: what a run records, the directory
of its arrays, the category scheme as it was at import and the PDQ match threshold), ``set_digests`` (per
set and digest kind, the shape of its sorted table), ``set_perceptual`` (per set with PDQ hashes: how many,
how many are indexed for matching, how many are low quality) and ``categories`` (per set, the category
index used in its arrays: raw code, UK code and number of entries).

Format versions: 1 had no perceptual columns; a version-1 catalog is migrated in place (one column and one
table added, nothing rewritten: version-1 sets hold no PDQ). Any other version is refused with a message.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from safenet.hashsets.categories import Scheme, scheme_from_dict
from safenet.hashsets.model import DEFAULT_PDQ_THRESHOLD as DEFAULT_PDQ_THRESHOLD  # re-exported: old home
from safenet.hashsets.model import MAX_PDQ_THRESHOLD as MAX_PDQ_THRESHOLD
from safenet.hashsets.model import HashKind, HashSetError, HashSetInfo, SetKind

FORMAT_VERSION = 2
_NAME_RE = re.compile(r"^[\w][\w .@()+,:-]{0,99}$")

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
    has_categories INTEGER NOT NULL,
    pdq_threshold INTEGER NOT NULL DEFAULT 31
);
CREATE TABLE IF NOT EXISTS set_digests (
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    hash_kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    bucket_bits INTEGER NOT NULL,
    max_bucket INTEGER NOT NULL,
    PRIMARY KEY (set_id, hash_kind)
);
CREATE TABLE IF NOT EXISTS set_perceptual (
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    hash_kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    indexed INTEGER NOT NULL,
    low_quality INTEGER NOT NULL,
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


@dataclass(frozen=True, slots=True)
class TableStats:
    """The shape of one sorted digest table, as the lookup needs it before opening the arrays."""

    count: int
    bucket_bits: int
    max_bucket: int


@dataclass(frozen=True, slots=True)
class PerceptualStats:
    """The PDQ hashes of one set: all kept, ``indexed`` of them usable for matching (quality unknown or ≥ 50)."""

    count: int
    indexed: int
    low_quality: int


@dataclass(frozen=True, slots=True)
class SetContents:
    """What an import found in a set: its digest tables, its PDQ hashes and its category index."""

    tables: dict[HashKind, TableStats]
    categories: CategoryCounts
    has_categories: bool
    perceptual: PerceptualStats | None = None
    video: PerceptualStats | None = None  # frames of known videos (``hashsets.video``), in ``set_perceptual`` as vpdq


@dataclass(frozen=True, slots=True)
class StoredSet:
    """One set as the catalog records it: enough to open its arrays for matching."""

    info: HashSetInfo
    directory: str
    contents: SetContents


def check_name(name: str) -> None:
    """Refuse set names that would be awkward on a command line or in a report."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.strip():
        raise HashSetError(
            f"hash-set name {name!r} is not usable; use letters, digits, spaces and . _ - (up to 100 characters)"
        )


def check_pdq_threshold(value: int) -> int:
    """A usable per-set PDQ threshold, or a HashSetError naming the bad value."""
    if not 0 <= value <= MAX_PDQ_THRESHOLD:
        raise HashSetError(
            f"PDQ threshold {value} is outside 0..{MAX_PDQ_THRESHOLD}; the usual value is {DEFAULT_PDQ_THRESHOLD}"
        )
    return value


def name_taken(name: str) -> HashSetError:
    return HashSetError(f"a hash set named '{name}' already exists; choose another name or pass --replace")


class Catalog:
    """The catalog database at ``path``; every call is one short transaction (thread- and process-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait and see the new version
            row = db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            elif row[0] == "1":
                _migrate_from_1(db)
            elif row[0] != str(FORMAT_VERSION):
                raise HashSetError(
                    f"the hash-set database at {path.parent} has format version {row[0]} but this Safenet "
                    f"reads version {FORMAT_VERSION}; use a matching Safenet or re-import the sets into a "
                    "new directory"
                )
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection in one transaction, so the store is safe to use from several threads."""
        try:
            db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise HashSetError(f"cannot open {self.path}: {exc}; check the path and permissions") from exc
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise HashSetError(
                f"the hash-set catalog {self.path} cannot be used ({exc}); restore it from backup"
            ) from exc
        finally:
            db.close()

    def infos(self) -> list[HashSetInfo]:
        with self._connect() as db:
            return [_info(db, row) for row in db.execute("SELECT * FROM sets ORDER BY name").fetchall()]

    def info(self, name: str) -> HashSetInfo:
        with self._connect() as db:
            return _info(db, _set_row(db, name))

    def exists(self, name: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM sets WHERE name = ?", (name,)).fetchone() is not None

    def directory(self, name: str) -> str:
        with self._connect() as db:
            return str(_set_row(db, name)["directory"])

    def remove(self, name: str) -> str:
        """Forget a set; returns its directory, which the caller deletes."""
        with self._connect() as db:
            row = _set_row(db, name)
            db.execute("DELETE FROM sets WHERE id = ?", (row["id"],))
        return str(row["directory"])

    def scheme(self, name: str) -> Scheme:
        with self._connect() as db:
            row = _set_row(db, name)
        return scheme_from_dict(json.loads(row["scheme_json"]), f"the catalog entry of '{name}'")

    def set_pdq_threshold(self, name: str, threshold: int) -> None:
        """Change the distance at which the set's PDQ hashes match (later triages use the new value)."""
        check_pdq_threshold(threshold)
        with self._connect() as db:
            db.execute("UPDATE sets SET pdq_threshold = ? WHERE id = ?", (threshold, _set_row(db, name)["id"]))

    def category_counts(self, name: str) -> CategoryCounts:
        with self._connect() as db:
            return [c for c in _contents(db, _set_row(db, name)).categories if c[2]]

    def stored(self, names: Sequence[str]) -> list[StoredSet]:
        """The named sets in the given order, read in one transaction (a consistent view)."""
        with self._connect() as db:
            rows = [_set_row(db, name) for name in names]
            return [StoredSet(_info(db, row), row["directory"], _contents(db, row)) for row in rows]

    def add(
        self, info: HashSetInfo, directory: str, contents: SetContents, scheme: Scheme, size: int, replace: bool
    ) -> str | None:
        """Record a set whose arrays are in ``directory``; returns the directory of the set it replaced."""
        try:
            with self._connect() as db:
                old = db.execute("SELECT id, directory FROM sets WHERE name = ?", (info.name,)).fetchone()
                if old is not None:
                    if not replace:
                        raise name_taken(info.name)
                    db.execute("DELETE FROM sets WHERE id = ?", (old[0],))
                set_id = _insert_set(db, info, directory, contents, scheme, size)
                db.executemany(
                    "INSERT INTO set_digests VALUES (?, ?, ?, ?, ?)",
                    [(set_id, k.value, s.count, s.bucket_bits, s.max_bucket) for k, s in contents.tables.items()],
                )
                for kind, p in ((HashKind.PDQ, contents.perceptual), (HashKind.VPDQ, contents.video)):
                    if p is not None:
                        db.execute(
                            "INSERT INTO set_perceptual VALUES (?, ?, ?, ?, ?)",
                            (set_id, kind.value, p.count, p.indexed, p.low_quality),
                        )
                db.executemany(
                    "INSERT INTO categories VALUES (?, ?, ?, ?, ?)",
                    [(set_id, i, raw, uk, n) for i, (raw, uk, n) in enumerate(contents.categories)],
                )
        except sqlite3.IntegrityError as exc:
            raise HashSetError(
                f"a hash set named '{info.name}' was added while this import ran; import again with --replace"
            ) from exc
        return None if old is None else str(old[1])


def _migrate_from_1(db: sqlite3.Connection) -> None:
    """Version 1 -> 2: the PDQ threshold column (``set_perceptual`` exists already: CREATE IF NOT EXISTS)."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(sets)")}
    if "pdq_threshold" not in columns:
        db.execute(f"ALTER TABLE sets ADD COLUMN pdq_threshold INTEGER NOT NULL DEFAULT {DEFAULT_PDQ_THRESHOLD}")
    db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION),))


def _set_row(db: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM sets WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise HashSetError(f"no hash set named '{name}'; run `safenet hashset list` to see the imported sets")
    return row  # type: ignore[no-any-return]


def _info(db: sqlite3.Connection, row: Any) -> HashSetInfo:
    kinds = {r[0] for r in db.execute("SELECT hash_kind FROM set_digests WHERE set_id = ?", (row["id"],))}
    kinds |= {r[0] for r in db.execute("SELECT hash_kind FROM set_perceptual WHERE set_id = ?", (row["id"],))}
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
        pdq_threshold=row["pdq_threshold"],
    )


def _contents(db: sqlite3.Connection, row: Any) -> SetContents:
    tables = {
        HashKind(kind): TableStats(count, bits, max_bucket)
        for kind, count, bits, max_bucket in db.execute(
            "SELECT hash_kind, count, bucket_bits, max_bucket FROM set_digests WHERE set_id = ?", (row["id"],)
        )
    }
    categories = [
        (r[0], r[1], r[2])
        for r in db.execute("SELECT raw, uk, entries FROM categories WHERE set_id = ? ORDER BY idx", (row["id"],))
    ]
    stats = {
        kind: PerceptualStats(count, indexed, low)
        for kind, count, indexed, low in db.execute(
            "SELECT hash_kind, count, indexed, low_quality FROM set_perceptual WHERE set_id = ?", (row["id"],)
        )
    }
    return SetContents(
        tables, categories, bool(row["has_categories"]), stats.get(HashKind.PDQ.value), stats.get(HashKind.VPDQ.value)
    )


def _insert_set(
    db: sqlite3.Connection, info: HashSetInfo, directory: str, contents: SetContents, scheme: Scheme, size: int
) -> int:
    cursor = db.execute(
        "INSERT INTO sets (name, directory, format, source_path, source_sha256, source_size, imported_at,"
        " entry_count, scheme, scheme_json, kind, profile, has_categories, pdq_threshold)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            int(contents.has_categories),
            check_pdq_threshold(info.pdq_threshold),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid
