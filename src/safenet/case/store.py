"""The case folder: ``case.db`` (SQLAlchemy), ``audit.jsonl``, ``thumbs/``, ``reports/``; owner-only.

A lab keeps the rows in PostgreSQL instead (``--db postgresql://user@host/dbname``): the folder then holds
``database.url`` (the URL without any password; libpq's ``PGPASSWORD`` or ``~/.pgpass`` supply one) in place
of ``case.db``, and still holds the audit log, reports and caches. Every command finds the database from
the folder, so only the command that creates the case (or ``safenet case copy``) names it.

The repository converts between domain objects (engine results) and rows at this boundary; nothing
outside ``safenet.case`` touches SQLAlchemy sessions.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from safenet.case.audit import AuditLog
from safenet.case.migrations import stamp_new, upgradable, upgrade_case
from safenet.case.schema import SCHEMA_VERSION, Base, Exhibit, Meta, Run
from safenet.case.writerlock import WriterLock

DB_NAME = "case.db"
AUDIT_NAME = "audit.jsonl"
LOCK_NAME = ".lock"
WRITER_LOCK = 0x5AFE_0003  # PostgreSQL: the case's audited writers take turns (Case.writing)
URL_NAME = "database.url"  # a case whose rows are in PostgreSQL: the database's URL, without a password
HEAD_KEY = "audit_head"  # the audit log's head, also kept in the database ("seq:sha256")


class CaseError(Exception):
    """The case folder cannot be created, opened or used; the message says what to do."""


class DiskFullError(CaseError):
    """The case folder's disk (or quota) is full; the run can be finished with ``--resume`` once space is freed."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"the disk holding the case folder {path} is full; free some space, then run "
            "`safenet triage --resume` with the same --case and --exhibit to finish"
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error from a write (the OS or SQLite) means no space is left."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in ("53100", "53400"):
        return True  # PostgreSQL: disk_full, configuration_limit_exceeded
    if isinstance(exc, (OperationalError, sqlite3.OperationalError)):
        return "disk is full" in str(exc) or "SQLITE_FULL" in str(exc)
    return False


def database_url(db: str) -> URL:
    """A ``--db`` value as a PostgreSQL URL for psycopg 3; a user mistake gets one sentence."""
    try:
        url = make_url(db)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port or host that cannot be read
        # not echoed: the text may hold a password
        raise CaseError("--db is not a database URL; give postgresql://user@host/dbname") from exc
    if url.get_backend_name() != "postgresql" or not url.database:
        raise CaseError(
            "--db must be a PostgreSQL URL with a database name (postgresql://user@host/dbname), not "
            f"{url.render_as_string(hide_password=True)!r}; without --db the case keeps its rows in case.db in the "
            "case folder"
        )
    return url.set(drivername="postgresql+psycopg")


def shown_url(url: URL) -> str:
    """The URL as written into the case folder and messages: never with its password."""
    # URL.set() reads None as "unchanged": the NamedTuple's own _replace drops the password
    return url._replace(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # a SIGKILLed triage leaves a readable case
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Case:
    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.audit = AuditLog(path / AUDIT_NAME, on_head=self._keep_head)
        # One writer at a time, of every thread and process of a run: a batch's ids are assigned from the table's
        # last id and its audit line follows its commit, so exhibits triaged at once (engine.multi) write in turn.
        self.writer = WriterLock(path)
        self._head_engine: Engine | None = None  # PostgreSQL: the audit head copy's own connection

    @property
    def dialect(self) -> str:
        """``sqlite`` (the default, ``case.db`` in the folder) or ``postgresql``."""
        return self.engine.dialect.name

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def create_or_open(cls, path: Path, db: str | None = None) -> Case:
        """Open the case at ``path``, or create it (its rows in ``db``, a PostgreSQL URL, when given)."""
        if path.exists() and not path.is_dir():
            raise CaseError(f"{path} exists and is not a case folder; choose another --case path")
        fresh = not (path / DB_NAME).exists() and not (path / URL_NAME).exists()
        if fresh and path.exists() and any(path.iterdir()):
            raise CaseError(f"{path} is a non-empty folder that is not a Safenet case; choose an empty or new folder")
        url = database_url(db) if db is not None else None
        if url is not None and fresh:
            _check_empty(url)
        old_umask = os.umask(0o077)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            for sub in ("thumbs", "reports"):
                (path / sub).mkdir(mode=0o700, exist_ok=True)
            if url is not None and fresh:
                (path / URL_NAME).write_text(shown_url(url) + "\n", encoding="utf-8")
            case = cls._connect(path, db)
            if fresh:
                Base.metadata.create_all(case.engine)
                with case.engine.begin() as connection:
                    stamp_new(connection)  # schema changes from now on go through Alembic (case/migrations)
                with case.sessions.begin() as s:
                    s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                    s.add(Meta(key="created_at", value=datetime.now(UTC).isoformat()))
                case.audit.append("case-created", path=str(path.resolve()), schema_version=SCHEMA_VERSION)
            else:
                case._check_version()
        finally:
            os.umask(old_umask)
        return case

    @classmethod
    def open_existing(cls, path: Path, db: str | None = None) -> Case:
        """Open a case; ``db`` may repeat its PostgreSQL URL (with a password), never point elsewhere."""
        if not (path / DB_NAME).is_file() and not (path / URL_NAME).is_file():
            raise CaseError(f"{path} is not a Safenet case folder (no {DB_NAME}); check the --case path")
        case = cls._connect(path, db)
        case._check_version()
        return case

    @classmethod
    def _connect(cls, path: Path, db: str | None = None) -> Case:
        if not (path / URL_NAME).exists():
            if db is not None:
                raise CaseError(
                    f"case {path} keeps its rows in {DB_NAME}, not in {db}; to move it to PostgreSQL use "
                    "`safenet case copy`"
                )
            engine = create_engine(f"sqlite:///{path / DB_NAME}")
            event.listen(engine, "connect", _sqlite_pragmas)
            return cls(path, engine)
        stored = database_url((path / URL_NAME).read_text(encoding="utf-8").strip())
        url = database_url(db) if db is not None else stored
        if shown_url(url) != shown_url(stored):
            raise CaseError(f"case {path} keeps its rows in {shown_url(stored)}, not in {shown_url(url)}")
        # pre-ping: a review server outlives database restarts; a pool per process (review workers fork after
        # nothing is opened: each opens its own case)
        return cls(path, create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8))

    def _check_version(self) -> None:
        try:
            with self.sessions() as s:
                row = s.get(Meta, "schema_version")
        except Exception as exc:  # a damaged or foreign database
            if is_disk_full(exc):
                raise DiskFullError(self.path) from exc
            if self.dialect != "sqlite" and isinstance(exc, DBAPIError):
                first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.__class__.__name__
                raise CaseError(
                    f"case {self.path}: cannot read its database {shown_url(self.engine.url)}: {first}"
                ) from exc
            raise CaseError(
                f"{self.path / DB_NAME} cannot be read as a Safenet case ({exc.__class__.__name__})"
            ) from exc
        if row is None or row.value != str(SCHEMA_VERSION):
            found = row.value if row else "none"
            if upgradable(found):  # the previous release's case: migrated, the upgrade recorded (case.migrations)
                with self.exclusive():
                    upgrade_case(self, found)
                return
            if found.isdigit() and int(found) < SCHEMA_VERSION:
                raise CaseError(
                    f"case {self.path} has schema version {found}, written by an older Safenet; this Safenet "
                    f"writes version {SCHEMA_VERSION} (perceptual matching, examiner grading). Report on it with the "
                    "Safenet that created it, or triage into a new case folder"
                )
            raise CaseError(f"case schema version {found} is not supported by this Safenet (expects {SCHEMA_VERSION})")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the case for one writer (a triage); a second one is refused with a clear message."""
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise CaseError(f"{self.path} is in use by another Safenet process; wait for it to finish") from exc
            yield
        finally:
            os.close(fd)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction whose audit lines are appended before it commits (grades, reveals, notes).

        On PostgreSQL its writers take turns (a transaction lock), as SQLite's single write transaction makes
        them: with several review processes the rows' ids follow the audit log's order, and a check-then-write
        (a grade's conflict check) never interleaves with another's.
        """
        with self.sessions.begin() as s:
            if self.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            yield s

    def before_fork(self) -> None:
        """Close every pooled connection, so that no forked child inherits one (``engine.apart``).

        SQLite and libpq connections must not cross a fork: a child using or closing its copy can corrupt what
        the parent's is doing. The pools open fresh connections when next asked, in whichever process asks.
        """
        self.engine.dispose()
        if self._head_engine is not None:
            self._head_engine.dispose()
            self._head_engine = None

    def close(self) -> None:
        self.engine.dispose()
        if self._head_engine is not None:
            self._head_engine.dispose()

    def _keep_head(self, seq: int, sha256: str) -> None:
        """Copy the audit head into the database: a second place to check the log's end against.

        Best effort and never waiting: a grade is audited while its transaction holds SQLite's write lock,
        so this copy may lag behind (``verify`` reads it as "the log reached at least this line").
        """
        if self.dialect != "sqlite":
            self._keep_head_server(seq, sha256)
            return
        db = self.path / DB_NAME
        if not db.exists():
            return
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=0)) as conn, conn:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (HEAD_KEY, f"{seq}:{sha256}"),
                )
        except sqlite3.Error:
            pass

    def _keep_head_server(self, seq: int, sha256: str) -> None:
        """PostgreSQL: the same copy on its own short transaction; never moves the copy backwards (several
        processes append, each after its own line) and gives up rather than wait for a row lock.

        On a connection of its own (``head_engine``), never one from the case's pool: the grade being audited
        holds one of those and the writer lock, and under load every other pooled connection may be held by a
        request waiting for that lock, so waiting for the pool would stall every writer until its timeout.
        """
        value = f"{seq}:{sha256}"
        try:
            if self._head_engine is None:  # appends are serialised by the log's file lock: one connection
                self._head_engine = create_engine(self.engine.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
            with self._head_engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                conn.execute(
                    text(
                        "INSERT INTO meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value WHERE split_part(meta.value, ':', 1)::bigint < :seq"
                    ),
                    {"k": HEAD_KEY, "v": value, "seq": seq},
                )
        except SQLAlchemyError:  # best effort: the log itself is written, and is what verify reads
            pass

    def db_head(self) -> tuple[int, str] | None:
        with self.sessions() as s:
            row = s.get(Meta, HEAD_KEY)
        if row is None:
            return None
        seq, _, sha256 = row.value.partition(":")
        return (int(seq), sha256) if seq.isdigit() else None

    def lock_held(self) -> bool:
        """Whether another process holds the case exclusively now (a triage still running)."""
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # -- exhibits and runs ---------------------------------------------------------------------
    def exhibit(self, label: str, source: str, backend: str, description: dict[str, Any]) -> int:
        with self.sessions.begin() as s:
            row = s.scalar(select(Exhibit).where(Exhibit.label == label))
            if row is not None:
                if row.source != source:
                    raise CaseError(
                        f"exhibit {label} in this case is {row.source}, not {source}; use another --exhibit label"
                    )
                return row.id
            row = Exhibit(label=label, source=source, backend=backend, description_json=json.dumps(description))
            s.add(row)
            s.flush()
        self.audit.append("exhibit-row", row=row_facts(row))
        return row.id

    def exhibits(self) -> Sequence[Exhibit]:
        with self.sessions() as s:
            return s.scalars(select(Exhibit).order_by(Exhibit.id)).all()

    def runs(self) -> Sequence[Run]:
        with self.sessions() as s:
            return s.scalars(select(Run).order_by(Run.id)).all()

    def last_run(self, exhibit_id: int) -> Run | None:
        with self.sessions() as s:
            return s.scalar(select(Run).where(Run.exhibit_id == exhibit_id).order_by(Run.id.desc()).limit(1))

    def start_run(
        self,
        *,
        exhibit_id: int,
        resumed_from: int | None,
        profile: str,
        tool_version: str,
        operator: str,
        host: str,
        config: dict[str, Any],
        hashsets: list[dict[str, Any]],
    ) -> int:
        with self.sessions.begin() as s:
            run = Run(
                exhibit_id=exhibit_id,
                resumed_from=resumed_from,
                status="running",
                profile=profile,
                tool_version=tool_version,
                operator=operator,
                host=host,
                started_at=datetime.now(UTC),
                config_json=json.dumps(config, sort_keys=True),
                hashsets_json=json.dumps(hashsets, sort_keys=True),
            )
            s.add(run)
            s.flush()
        self.audit.append("run-row", row=row_facts(run))
        return run.id

    def set_planned(self, run_id: int, planned: int) -> None:
        self._update_run(run_id, items_planned=planned)

    def set_run_status(self, run_id: int, status: str) -> None:
        self._update_run(run_id, status=status)

    def finish_run(self, run_id: int, status: str, *, items_not_reached: int) -> None:
        self._update_run(run_id, status=status, ended_at=datetime.now(UTC), items_not_reached=items_not_reached)

    def _update_run(self, run_id: int, **values: Any) -> None:
        """Change a run's row and write the row as it now stands into the audit log (``verify`` compares)."""
        with self.sessions.begin() as s:
            run = s.get_one(Run, run_id)
            for name, value in values.items():
                setattr(run, name, value)
        self.audit.append("run-row", row=row_facts(run))


def _check_empty(url: URL) -> None:
    """A new case goes into an empty PostgreSQL database (created beforehand: ``createdb``), never beside another."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except DBAPIError as exc:
        raise CaseError(f"cannot connect to {shown_url(url)}: {str(exc.orig).strip().splitlines()[0]}") from exc
    finally:
        engine.dispose()
    if tables:
        raise CaseError(
            f"database {shown_url(url)} is not empty (it holds {len(tables)} tables); give a new, empty database "
            "(createdb) for each case"
        )


def row_facts(row: Base) -> dict[str, Any]:
    """A row's columns as JSON values (times as ISO UTC): what the audit log records and ``verify`` compares."""
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        out[column.name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return out
