"""Running Alembic revisions on an open connection: the operation database and the case database both use it.

The revisions live in the package (``safenet.ops:migrations``, ``safenet.case:migrations``); each folder's
``env.py`` calls :func:`run_env`, which runs on the connection handed over here, so Alembic never opens a
database by itself and never reads an ``alembic.ini``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection

if TYPE_CHECKING:
    from alembic.config import Config


def _config(script_location: str, connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, script_location: str, target: str = "head") -> None:
    """Bring the database on ``connection`` to ``target`` (in the caller's transaction)."""
    from alembic import command

    config = _config(script_location, connection)
    command.upgrade(config, target)


def stamp(connection: Connection, script_location: str, revision: str) -> None:
    """Record that the database already is at ``revision`` (created whole by ``create_all``)."""
    from alembic import command

    config = _config(script_location, connection)
    command.stamp(config, revision)


def current(connection: Connection) -> str | None:
    """The revision the database is at, or None where Alembic never ran on it."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def run_env() -> None:
    """The body of every ``env.py``: run the revisions on the connection the caller handed over."""
    from alembic import context

    connection = context.config.attributes["connection"]
    # batch mode: SQLite alters a table by copying it, which Alembic does for us
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
