"""The review server's own state kept in the case's PostgreSQL database, so several worker processes share it.

With ``safenet review --workers N`` on a PostgreSQL case a browser's requests land on any worker, so sessions
(with their current reveal), the login limit, the failed-login tally and display preferences cannot live in
one process's memory. They go into tables of their own (``web_*``) in the case's database: server state,
not evidence, so they are no part of the case schema, never digested, audited or copied by
``safenet case copy``. A SQLite case keeps today's in-process stores (one process serves it).

A reveal's clear picture is still never written anywhere: the session row holds which item, step and frame
was revealed and until when, and the worker that serves the picture renders it again from the evidence,
through the same checks (``routes.media``).

Updates that read and then write (the login limit, the tally) hold a PostgreSQL transaction lock, so two
workers counting failures at once count each.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from safenet.users import User
from safenet.web.auth import MAX_ANONYMOUS, SessionStore, WebSession
from safenet.web.context import SiteContext
from safenet.web.reveals import Reveal, RevealStep
from safenet.web.settings import Preferences, PreferenceStore, WebSettings
from safenet.web.throttle import FailedLogins, LoginThrottle, _line, _name_key

metadata = MetaData()
_TIME = DateTime(timezone=True)

sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_name", String(200), nullable=True),
    Column("last_seen", _TIME, nullable=False),
    Column("review_started", _TIME, nullable=True),
    Column("reveal_item", Integer, nullable=True),
    Column("reveal_step", String(20), nullable=True),
    Column("reveal_frame", Integer, nullable=True),
    Column("reveal_until", _TIME, nullable=True),
)
failures = Table(  # kind "name": key is the name; kind "client": key is the client, name the name it tried
    "web_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("key", String(400), nullable=False, index=True),
    Column("name", String(400), nullable=False),
    Column("at", _TIME, nullable=False),
)
locks = Table(
    "web_login_locks",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("until", _TIME, nullable=False),
)
tallies = Table(
    "web_failed_logins",
    metadata,
    Column("name", String(400), primary_key=True),
    Column("client", String(400), primary_key=True),
    Column("opened", _TIME, nullable=False),
    Column("count", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("first", _TIME, nullable=True),
    Column("last", _TIME, nullable=True),
)
preferences = Table(
    "web_preferences",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("blur", Integer, nullable=False),
)

_LOGIN_LOCK = 0x5AFE_0002  # serialises the read-then-write updates of the login limit and the tally


def _storable(name: str) -> str:
    """A typed login name as PostgreSQL text can hold it: NUL written out (the name is whatever was typed)."""
    return name.replace("\x00", "\\x00")


def create_tables(engine: Engine) -> None:
    """Create the ``web_*`` tables if missing (every worker does at start; creating twice is harmless)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOGIN_LOCK})
        metadata.create_all(conn, checkfirst=True)


class SharedWebSession(WebSession):
    """A session whose review start and reveal are written through to the database when set."""

    __slots__ = ("store",)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        store: SharedSessionStore | None = getattr(self, "store", None)
        if store is not None and name in ("review_started", "reveal"):
            store.save(self)


class SharedSessionStore(SessionStore):
    """``auth.SessionStore`` kept in ``web_sessions``: same ids, expiry and cap on anonymous sessions."""

    def __init__(self, ctx: SiteContext, engine: Engine) -> None:
        super().__init__(ctx)
        self._engine = engine

    def new(self, user: User | None) -> WebSession:
        now = self._ctx.settings.clock()
        session = self._session(secrets.token_urlsafe(32), user, now, None, None)
        with self._engine.begin() as conn:
            conn.execute(insert(sessions).values(id=session.id, user_name=user.name if user else None, last_seen=now))
            oldest = (
                select(sessions.c.id)
                .where(sessions.c.user_name.is_(None))
                .order_by(sessions.c.last_seen.desc(), sessions.c.id)
                .offset(MAX_ANONYMOUS)
            )
            conn.execute(delete(sessions).where(sessions.c.id.in_(oldest.scalar_subquery())))
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        if not session_id:
            return None
        now = self._ctx.settings.clock()
        with self._engine.begin() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id == session_id)).one_or_none()
            if row is None:
                return None
            if now - row.last_seen > self._ctx.settings.session_idle:
                conn.execute(delete(sessions).where(sessions.c.id == session_id))
                return None
            conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen=now))
        user = self._ctx.users.get(row.user_name) if row.user_name is not None else None
        if row.user_name is not None and user is None:  # removed since login
            self.drop(session_id)
            return None
        reveal = None
        if row.reveal_item is not None and row.reveal_step is not None and row.reveal_until is not None:
            reveal = Reveal(row.reveal_item, RevealStep(row.reveal_step), row.reveal_frame, row.reveal_until, b"")
        return self._session(session_id, user, now, row.review_started, reveal)

    def drop(self, session_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == session_id))

    def save(self, session: WebSession) -> None:
        reveal = session.reveal
        values: dict[str, Any] = {
            "review_started": session.review_started,
            "reveal_item": reveal.item_id if reveal else None,
            "reveal_step": reveal.step.value if reveal else None,
            "reveal_frame": reveal.frame if reveal else None,
            "reveal_until": reveal.until if reveal else None,
        }
        with self._engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id == session.id).values(**values))

    def _session(
        self, sid: str, user: User | None, now: datetime, started: datetime | None, reveal: Reveal | None
    ) -> WebSession:
        session = SharedWebSession(sid, user, now, started, reveal)
        session.store = self  # set last: building it writes nothing
        return session


class SharedLoginThrottle(LoginThrottle):
    """``throttle.LoginThrottle`` kept in ``web_login_failures`` and ``web_login_locks``."""

    def __init__(self, settings: WebSettings, engine: Engine) -> None:
        super().__init__(settings)
        self._engine = engine

    def refused(self, name: str, client: str) -> tuple[timedelta, bool] | None:
        now, name = self.clock(), _storable(name)
        with self._engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.until <= now))
            rows = dict(
                conn.execute(
                    select(locks.c.kind, locks.c.until).where(
                        ((locks.c.kind == "name") & (locks.c.key == _name_key(name)))
                        | ((locks.c.kind == "client") & (locks.c.key == client))
                    )
                ).all()
            )
        left = [until - now for until in rows.values()]
        return (max(left), "client" in rows) if left else None

    def failed(self, name: str, client: str) -> None:
        now = self.clock()
        key = _name_key(_storable(name))
        since = now - self.window
        with self._engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOGIN_LOCK})
            conn.execute(delete(failures).where(failures.c.at <= since))
            conn.execute(
                insert(failures),
                [
                    {"kind": "name", "key": key, "name": key, "at": now},
                    {"kind": "client", "key": client, "name": key, "at": now},
                ],
            )
            named = conn.execute(
                select(func.count()).where(and_(failures.c.kind == "name", failures.c.key == key))
            ).scalar_one()
            if named >= self.limit:
                self._pause(conn, "name", key, now)
            names = conn.execute(
                select(func.count(failures.c.name.distinct())).where(
                    and_(failures.c.kind == "client", failures.c.key == client)
                )
            ).scalar_one()
            if names >= self.names_per_client:
                self._pause(conn, "client", client, now)

    def succeeded(self, name: str) -> None:
        with self._engine.begin() as conn:
            key = _name_key(_storable(name))
            conn.execute(delete(failures).where(and_(failures.c.kind == "name", failures.c.key == key)))

    def _pause(self, conn: Any, kind: str, key: str, now: datetime) -> None:
        until = now + self.cooloff
        stmt = pg_insert(locks).values(kind=kind, key=key, until=until)
        conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "key"], set_={"until": until}))
        conn.execute(delete(failures).where(and_(failures.c.kind == kind, failures.c.key == key)))


class SharedFailedLogins(FailedLogins):
    """``throttle.FailedLogins`` kept in ``web_failed_logins``: the same bounded audit lines, whichever worker."""

    def __init__(self, settings: WebSettings, engine: Engine) -> None:
        super().__init__(settings)
        self._engine = engine

    def record(self, name: str, client: str, *, refused: bool) -> list[dict[str, Any]]:
        now, name = self.clock(), _storable(name)
        with self._engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOGIN_LOCK})
            lines = self._closed_rows(conn, now)
            row = conn.execute(
                select(tallies).where(and_(tallies.c.name == name, tallies.c.client == client))
            ).one_or_none()
            if row is None:
                conn.execute(insert(tallies).values(name=name, client=client, opened=now, count=0, refused=0))
                lines.append(_line(name, client, 1, int(refused), now, now))
            else:
                conn.execute(
                    update(tallies)
                    .where(and_(tallies.c.name == name, tallies.c.client == client))
                    .values(
                        count=row._mapping["count"] + 1,
                        refused=row.refused + int(refused),
                        first=row.first or now,
                        last=now,
                    )
                )
        return lines

    def flush(self) -> list[dict[str, Any]]:
        with self._engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOGIN_LOCK})
            return self._closed_rows(conn, None)

    def _closed_rows(self, conn: Any, now: datetime | None) -> list[dict[str, Any]]:
        query = select(tallies).order_by(tallies.c.opened, tallies.c.name, tallies.c.client)
        if now is not None:
            query = query.where(tallies.c.opened <= now - self.window)
        lines = []
        for row in conn.execute(query).all():
            conn.execute(delete(tallies).where(and_(tallies.c.name == row.name, tallies.c.client == row.client)))
            if row._mapping["count"] and row.first is not None and row.last is not None:
                lines.append(_line(row.name, row.client, row._mapping["count"], row.refused, row.first, row.last))
        return lines


class SharedPreferenceStore(PreferenceStore):
    """``settings.PreferenceStore`` kept in ``web_preferences`` (a SQLite case keeps its JSON file)."""

    def __init__(self, engine: Engine) -> None:  # no file to read: not the parent's init
        self._engine = engine

    def get(self, name: str) -> Preferences:
        with self._engine.connect() as conn:
            row = conn.execute(select(preferences).where(preferences.c.name == name)).one_or_none()
        if row is None:
            return Preferences()
        try:
            return Preferences.parse(row.size, row.blur)
        except ValueError:
            return Preferences()

    def __setitem__(self, name: str, prefs: Preferences) -> None:
        stmt = pg_insert(preferences).values(name=name, size=prefs.size, blur=prefs.blur)
        with self._engine.begin() as conn:
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["name"], set_={"size": prefs.size, "blur": prefs.blur})
            )
