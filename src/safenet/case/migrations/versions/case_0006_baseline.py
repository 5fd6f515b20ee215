"""Baseline: a case database as schema version 6 (the previous release) wrote it.

Nothing to do: a version-6 case is stamped at this revision before it is upgraded (it never had Alembic's
table), and a new case is created whole and stamped at the newest revision.

Revision ID: case_0006
Revises:
"""

revision = "case_0006"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
