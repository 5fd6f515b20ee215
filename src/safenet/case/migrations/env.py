"""Alembic's entry point for a case database: runs on the connection ``case.migrations.upgrade`` hands over."""

from safenet.schema_upgrade import run_env

run_env()
