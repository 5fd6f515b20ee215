"""A new case's Alembic version table is written without Alembic: the same table and row Alembic's stamp writes,
at the newest revision the package holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine

from safenet.case.migrations import HEAD, SCRIPTS
from safenet.case.store import Case
from safenet.schema_upgrade import current, stamp


def _layout(db: Path) -> list[object]:
    with sqlite3.connect(db) as conn:
        return [
            conn.execute("PRAGMA table_info(alembic_version)").fetchall(),
            conn.execute("SELECT version_num FROM alembic_version").fetchall(),
        ]


def test_head_is_the_newest_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_new_case_is_stamped_as_alembic_stamps(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case")
    with case.engine.connect() as connection:
        assert current(connection) == HEAD
    case.close()
    if not (tmp_path / "case" / "case.db").exists():  # the PostgreSQL run: nothing to compare with sqlite3
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'alembic.db'}")
    with engine.begin() as connection:
        stamp(connection, SCRIPTS, HEAD)
    engine.dispose()
    assert _layout(tmp_path / "case" / "case.db") == _layout(tmp_path / "alembic.db")
