"""The unit's operation database and its own hash-chained audit log.

A SQLite file by default (``<data dir>/ops/ops.sqlite``, owner-only folder), or a SQLAlchemy URL for a unit's
PostgreSQL server. The schema is Alembic's (``ops/migrations``): opening upgrades to the newest revision.
The audit log (``ops-audit.jsonl`` beside the file, or in the default ops folder for a server database) is
the case's kind of log: every view and change of a person or safeguarding record, and every change of the
operation, is a line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from safenet.case.audit import AuditLog
from safenet.installation import data_dir
from safenet.ops.errors import StoreUnavailable

if TYPE_CHECKING:
    from safenet.ops.access import Actor

AUDIT_NAME = "ops-audit.jsonl"
MIGRATIONS = "safenet.ops:migrations"


def default_ops_path() -> Path:
    """Where the installation keeps its operation database (not created here)."""
    return data_dir() / "ops" / "ops.sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _within_lengths(session: Session, _context: Any, _instances: Any) -> None:
    """A text longer than its column is one sentence: SQLite would store it whole, PostgreSQL refuses it with a
    driver error (a traceback, a 500), so both databases answer the same."""
    from safenet.ops.errors import OpsError

    for row in (*session.new, *session.dirty):
        for column in row.__table__.columns:
            limit = getattr(column.type, "length", None)
            value = getattr(row, column.key, None)
            if limit and isinstance(value, str) and len(value) > limit:
                raise OpsError(f"the {column.key.replace('_', ' ')} is longer than {limit} characters")


class OpsStore:
    def __init__(self, engine: Engine, folder: Path, where: str) -> None:
        self.engine = engine
        self.where = where  # the file path, or the URL without its password
        self.folder = folder
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", _within_lengths)
        self.audit = AuditLog(folder / AUDIT_NAME)

    @classmethod
    def open(cls, url_or_path: str | Path, *, create: bool = False) -> OpsStore:
        """Open (and with ``create``, make) the database, upgrading its schema to the newest revision."""
        from safenet.schema_upgrade import upgrade

        text = str(url_or_path)
        if "://" in text:
            try:
                url = make_url(text)
            except (ArgumentError, ValueError) as exc:  # ValueError: a port or host that cannot be read
                # the text is not echoed: it may hold a password
                raise StoreUnavailable(
                    "the operation database URL is not a database URL (give postgresql://user@host/dbname)"
                ) from exc
            text = url.render_as_string(hide_password=True)  # the name in every message: never its password
            try:
                engine = create_engine(url)
            except ArgumentError as exc:  # an unknown database kind or driver (NoSuchModuleError is one)
                raise StoreUnavailable(f"the operation database {text} cannot be opened ({exc})") from exc
            folder = default_ops_path().parent
        else:
            path = Path(url_or_path)
            if not path.exists() and not create:
                raise StoreUnavailable(f"there is no operation database at {path}; create it with `safenet ops init`")
            if path.exists() and not path.is_file():
                raise StoreUnavailable(f"{path} is not an operation database file; give a file path")
            old_umask = os.umask(0o077)
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not path.exists():
                    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            finally:
                os.umask(old_umask)
            engine = create_engine(f"sqlite:///{path}")
            event.listen(engine, "connect", _sqlite_pragmas)
            folder = path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with engine.begin() as connection:
                upgrade(connection, MIGRATIONS)
        except Exception as exc:
            engine.dispose()
            raise StoreUnavailable(
                f"the operation database {text} cannot be opened ({exc.__class__.__name__}: {exc})"
            ) from exc
        return cls(engine, folder, engine.url.render_as_string(hide_password=True))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an error."""
        with self.sessions.begin() as s:
            yield s

    def log(self, actor: Actor, event: str, **data: Any) -> None:
        """One line in the operation's audit log: who (and in which role) did or saw what."""
        self.audit.append(event, user=actor.name, role=actor.role.value, **data)

    def audit_problems(self) -> list[str]:
        """What is wrong with the audit log: a broken chain, or an end that is not the one last signed."""
        check = self.audit.verify()
        if not check.ok:
            return [f"line {check.line}: {check.problem}"]
        read = self.audit.read()
        if not read.entries:
            return []
        head = self.audit.read_head()
        if head is None:
            return ["its signed head is missing: lines may have been cut from its end"]
        problems = []
        if not head.valid():
            problems.append("the signature of its head does not verify: the head was edited")
        if head.genesis != read.first_hash:
            problems.append("its first line is not the one the signed head names: the log was replaced")
        if head.seq != read.entries[-1].get("seq") or head.sha256 != read.last_hash:
            problems.append(
                f"its last line is not the one last signed (record {head.seq}): lines were edited, added or cut"
            )
        return problems

    def close(self) -> None:
        self.engine.dispose()
