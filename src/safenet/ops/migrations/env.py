"""Alembic's entry point for the operation database: runs on the connection ``OpsStore.open`` hands over."""

from safenet.schema_upgrade import run_env

run_env()
