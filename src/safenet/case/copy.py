"""``safenet case copy``: a case moved between SQLite (``case.db``) and PostgreSQL, rows and folder alike.

Why a copy and not a dump: the rows are read and written through the case's own models, so a time, a flag or a
number is rewritten in the target's own storage form, and the audit log's digests (which render both forms
alike) still match. Ids are kept, so every audit line still names the same rows; PostgreSQL's id sequences are
moved past them. The folder's files (audit log and its head, reports, thumbnails, review preferences) are
copied as they are; nothing is appended to the copied log (it would fork the source's chain).

The copy is checked twice: every table's rows are compared with the source's (count and SHA-256), and the
caller runs ``verify`` on the copy (``commands.case``). The source is left as it was; work goes on in the copy
(the installation's signed head follows whichever of the two writes next, so keep using one).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Column, Connection, MetaData, String, Table, insert, inspect, select

from safenet.case.recorder import advance_sequence
from safenet.case.schema import Base
from safenet.case.store import DB_NAME, LOCK_NAME, URL_NAME, Case, CaseError
from safenet.case.writerlock import WRITER_NAME

#: Files of the source folder that belong to its database, not to the case (the copy gets its own).
_DATABASE_FILES = frozenset(
    {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", URL_NAME, LOCK_NAME, WRITER_NAME}
)
_CHUNK = 5000
_ALEMBIC = "alembic_version"
_Chunk = list[dict[str, object]]  # rows of one table, as read


@dataclass
class CopyResult:
    source: str  # where the rows were ("case.db" or a PostgreSQL URL without password)
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied (and found equal)
    files: int = 0


def where(case: Case) -> str:
    return DB_NAME if case.dialect == "sqlite" else (case.path / URL_NAME).read_text(encoding="utf-8").strip()


def copy_case(source: Path, target: Path, db: str | None = None) -> CopyResult:
    """Copy the case at ``source`` to a new folder ``target`` (rows into ``db``, a PostgreSQL URL, or ``case.db``).

    The source is held exclusively while it is read (no triage may write it meanwhile).
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CaseError(f"{target} exists and is not empty; give a new folder to copy the case into")
    src = Case.open_existing(source)
    try:
        with src.exclusive():
            return _copy(src, target, db)
    finally:
        src.close()


def _copy(src: Case, target: Path, db: str | None) -> CopyResult:
    dst = Case.create_or_open(target, db)  # a new case: its schema, stamp, first audit line (replaced below)
    try:
        return _fill(src, dst, target)
    except BaseException:
        dst.close()
        shutil.rmtree(target, ignore_errors=True)  # never a half copy that looks like a case
        raise


def _fill(src: Case, dst: Case, target: Path) -> CopyResult:
    try:
        with _snapshot(src) as reading:
            present = set(inspect(reading).get_table_names())
            tables = [t for t in Base.metadata.sorted_tables if t.name in present]
            with dst.engine.begin() as writing:
                for table in reversed(Base.metadata.sorted_tables):  # the new case's own rows go (children first)
                    writing.execute(table.delete())
                for table in (t for t in Base.metadata.sorted_tables if t.name not in present):
                    table.drop(writing)  # a table the source never created (case_fields) is not claimed
                _copy_version(reading, writing)
                result = CopyResult(where(src), where(dst))
                read: dict[str, tuple[int, str]] = {}
                for table in tables:
                    read[table.name] = _digest(_written(writing, table, _chunks(reading, table)))
                    result.rows[table.name] = read[table.name][0]
                    if "id" in table.c and table.c["id"].primary_key:
                        advance_sequence(writing, table.name)
            _compare(dst, tables, read)  # against the very rows read (the same snapshot), not read again
        result.files = _copy_files(src.path, target)
    finally:
        dst.close()
    return result


def _copy_version(reading: Connection, writing: Connection) -> None:
    """The Alembic revision the source is at (the copy is the same schema, so the same revision)."""
    if not inspect(reading).has_table(_ALEMBIC):
        return
    version = Table(_ALEMBIC, MetaData(), Column("version_num", String(32), primary_key=True))
    rows = [dict(row._mapping) for row in reading.execute(select(version))]
    writing.execute(version.delete())
    if rows:
        writing.execute(insert(version), rows)


def _written(writing: Connection, table: Table, chunks: Iterable[_Chunk]) -> Iterator[_Chunk]:
    """``chunks``, each inserted into ``table`` as it passes."""
    for chunk in chunks:
        writing.execute(insert(table), chunk)
        yield chunk


def _chunks(conn: Connection, table: Table) -> Iterator[_Chunk]:
    order = list(table.primary_key.columns)
    result = conn.execution_options(yield_per=_CHUNK).execute(select(table).order_by(*order))
    for part in result.partitions(_CHUNK):
        yield [dict(row._mapping) for row in part]


def _digest(chunks: Iterable[_Chunk]) -> tuple[int, str]:
    """Rows and SHA-256 over a table's typed values in key order: equal on both sides when the copy is whole."""
    digest = hashlib.sha256()
    count = 0
    for chunk in chunks:
        count += len(chunk)
        digest.update(json.dumps([list(row.values()) for row in chunk], default=str, sort_keys=True).encode())
    return count, digest.hexdigest()


@contextmanager
def _snapshot(case: Case) -> Iterator[Connection]:
    """One read transaction over the whole source, so the rows copied and compared are one moment's rows even
    if a review server grades meanwhile (stop it first all the same: its audit lines would then be in the
    copied log but not in the copied rows, and ``verify`` says so)."""
    with case.engine.connect() as conn:
        if case.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN")  # the driver begins only at a write; a read snapshot needs it now
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def _compare(dst: Case, tables: list[Table], read: dict[str, tuple[int, str]]) -> None:
    with dst.engine.connect() as copied:
        for table in tables:
            if _digest(_chunks(copied, table)) != read[table.name]:
                raise CaseError(
                    f"the copy's {table.name} rows differ from the source's after copying; the copy was removed: "
                    "empty the target database (dropdb, createdb) if it was PostgreSQL, and copy again"
                )


def _copy_files(source: Path, target: Path) -> int:
    """The folder's own files (audit log and head, reports, thumbnails, preferences), owner-only as before."""
    count = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if relative.parts[0] in _DATABASE_FILES or path.is_symlink():
            continue
        out = target / relative
        if path.is_dir():
            out.mkdir(mode=0o700, exist_ok=True)
        elif path.is_file():
            shutil.copy2(path, out)  # replaces the new case's own first audit line and head
            count += 1
    return count
