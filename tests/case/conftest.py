"""Every case test runs against SQLite and PostgreSQL (tests/pgcase.py), except those that edit ``case.db``
with sqlite3 directly to build an old or tampered case: they say why below and run on SQLite only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgcase import BACKENDS, Databases, use_backend

#: test modules (or module::test) that build their case by editing case.db with sqlite3
SQLITE_ONLY = {
    "test_migrations.py": "builds version-6 cases and compares SQLite layouts (migrations run on SQLite cases)",
    "test_verify_tamper.py": "tampers with case.db through sqlite3",
    "test_gradings.py::test_cases_from_before_grading_are_refused": "rewrites case.db's schema version with sqlite3",
}


@pytest.fixture(params=BACKENDS, autouse=True)
def case_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Databases | None]:
    module = request.node.path.name
    reason = SQLITE_ONLY.get(module) or SQLITE_ONLY.get(f"{module}::{request.node.originalname}")
    if request.param == "postgresql" and reason:
        pytest.skip(f"SQLite only: {reason}")
    yield from use_backend(request.param, monkeypatch)
