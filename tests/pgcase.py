"""Running case tests against PostgreSQL as well as SQLite.

``make test`` (and so ``.ci/run``) starts a throwaway PostgreSQL cluster on loopback (``.ci/with-postgres``) and
exports its URL as ``SAFENET_TEST_PG_URL``; each PostgreSQL test gets a new, empty database of its own, dropped
afterwards. Without the variable the PostgreSQL half is skipped with that reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from safenet.case.store import DB_NAME, URL_NAME, Case

ENV = "SAFENET_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]
SKIP_REASON = f"PostgreSQL half: {ENV} is not set (`make test` starts a throwaway cluster and sets it)"


def server_url() -> str | None:
    return os.environ.get(ENV) or None


class Databases:
    """New empty databases on the test server, each dropped (with its connections) at the end of the test."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.made: list[str] = []

    def new(self) -> str:
        name = f"case_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.made:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


def use_backend(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Databases | None]:
    """For ``postgresql``: every new case (``Case.create_or_open`` without ``db``) gets a database of its own."""
    if backend == "sqlite":
        yield None
        return
    url = server_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    databases = Databases(url)
    original = Case.create_or_open.__func__  # type: ignore[attr-defined]

    def create_or_open(cls: type[Case], path: Path, db: str | None = None) -> Case:
        if db is None and not (path / DB_NAME).exists() and not (path / URL_NAME).exists():
            db = databases.new()
        case: Case = original(cls, path, db)
        return case

    monkeypatch.setattr(Case, "create_or_open", classmethod(create_or_open))
    try:
        yield databases
    finally:
        databases.drop_all()
