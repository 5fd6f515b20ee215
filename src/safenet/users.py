"""Examiners, reviewers, viewers and admins of this Safenet installation (not of one case).

Who may do what (enforced where the action happens: ``case.gradings`` and the web UI):
  - examiner: grades images and videos (A, B, C, non-indecent, uncertain); reveals clear images.
  - reviewer: confirms another examiner's grade (never their own); reveals clear images.
  - viewer:   reads the review grid and reports; cannot grade, confirm or manage users.
  - admin:    everything an examiner and a reviewer may do, plus managing users.
  - analyst:  the operation (``safenet ops``): imports leads, prepares visits, records people and outcomes.
  - supervisor: the operation: approves visits, sees every operation record; grades nothing.
  The operation's field groups per role are in ``safenet.ops.access``.
Managing users from the command line needs access to the installation's data folder (the file is 0600).

Users live in one SQLite file per installation, like the hash-set database: ``$SAFENET_USERS`` (a file
path) else ``$XDG_DATA_HOME/safenet/users.sqlite`` (default ``~/.local/share/safenet/users.sqlite``).
Passwords are stored only as argon2id hashes. Every change is kept in the ``user_events`` table, because
who could grade at a given time is part of a case's provenance.
"""

from __future__ import annotations

import getpass
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from safenet.installation import data_dir

MIN_PASSWORD_LENGTH = 12
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_events (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  action TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT,
  by_login TEXT NOT NULL
);
"""


class Role(StrEnum):
    """Stored in the users file; never rename."""

    EXAMINER = "examiner"
    REVIEWER = "reviewer"
    VIEWER = "viewer"
    ADMIN = "admin"
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    created_at: datetime


class UserError(Exception):
    """A user-management request cannot be done; the message is one sentence saying why."""


def default_users_path() -> Path:
    env = os.environ.get("SAFENET_USERS")
    if env:
        return Path(env)
    return data_dir() / "users.sqlite"


class UserStore:
    """The installation's users. Each method opens its own connection, so one store serves many threads."""

    def __init__(self, path: Path | None = None, *, hasher: PasswordHasher | None = None) -> None:
        self.path = path or default_users_path()
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash: str | None = None

    # -- queries -------------------------------------------------------------------------------
    def get(self, name: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT name, role, created_at FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()
        return [_user(row) for row in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right, else None; as slow for an unknown name as for a wrong password."""
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, created_at, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        stored = row[3] if row else self._dummy()
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self._db() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
        return _user(row[:3])

    # -- changes -------------------------------------------------------------------------------
    def add(self, name: str, role: Role, password: str) -> User:
        _check_name(name)
        role = _role(role)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password is too short; use at least {MIN_PASSWORD_LENGTH} characters")
        if password.strip().lower() == name.lower():
            raise UserError("the password must not be the user name")
        created = datetime.now(UTC)
        digest = self._hasher.hash(password)
        with self._db() as db:
            try:
                db.execute(
                    "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (name, role.value, digest, created.isoformat()),
                )
            except sqlite3.IntegrityError as exc:
                raise UserError(f"a user named {name} already exists; choose another name") from exc
            _event(db, "added", name, role)
        return User(name, role, created)

    def set_role(self, name: str, role: Role) -> User:
        role = _role(role)
        with self._db() as db:
            user = self._require(db, name)
            if user.role is Role.ADMIN and role is not Role.ADMIN:
                self._keep_an_admin(db)
            db.execute("UPDATE users SET role = ? WHERE name = ?", (role.value, name))
            _event(db, "role-set", name, role)
        return User(user.name, role, user.created_at)

    def remove(self, name: str) -> None:
        with self._db() as db:
            user = self._require(db, name)
            if user.role is Role.ADMIN:
                self._keep_an_admin(db)
            db.execute("DELETE FROM users WHERE name = ?", (name,))
            _event(db, "removed", name, None)

    # -- internals -----------------------------------------------------------------------------
    def _require(self, db: sqlite3.Connection, name: str) -> User:
        row = db.execute("SELECT name, role, created_at FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UserError(f"there is no user named {name}; `safenet users list` shows them")
        return _user(row)

    @staticmethod
    def _keep_an_admin(db: sqlite3.Connection) -> None:
        admins = db.execute("SELECT count(*) FROM users WHERE role = ?", (Role.ADMIN.value,)).fetchone()[0]
        if admins <= 1:
            raise UserError("that is the last admin; make another user admin first")

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("safenet-no-such-user-padding")
        return self._dummy_hash

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction; the file and its folder are created owner-only on first use."""
        if not self.path.exists():
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise UserError(f"{self.path.parent} is not a folder; set SAFENET_USERS to a file path")
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        elif not self.path.is_file():
            raise UserError(f"{self.path} is not a users file; set SAFENET_USERS to a file path")
        try:
            conn = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise UserError(f"the users file {self.path} cannot be opened ({exc})") from exc
        with closing(conn):
            try:
                with conn:
                    conn.executescript(_SCHEMA)
                    yield conn
            except sqlite3.DatabaseError as exc:
                raise UserError(f"the users file {self.path} cannot be used ({exc})") from exc


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise UserError(
            f"user name {name!r} is not allowed; use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(r.value for r in Role)}") from exc


def _user(row: tuple[str, str, str] | sqlite3.Row) -> User:
    return User(name=row[0], role=Role(row[1]), created_at=datetime.fromisoformat(row[2]))


def _event(db: sqlite3.Connection, action: str, name: str, role: Role | None) -> None:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        login = str(os.getuid())
    db.execute(
        "INSERT INTO user_events (at, action, name, role, by_login) VALUES (?, ?, ?, ?, ?)",
        (datetime.now(UTC).isoformat(), action, name, role.value if role else None, login),
    )
