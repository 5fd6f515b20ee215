"""Alembic revisions of the operation database (run by ``OpsStore.open``)."""
