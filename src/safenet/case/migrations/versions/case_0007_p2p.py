"""Schema version 6 → 7: P2P activity.

Adds ``p2p_records``, ``p2p_findings``, ``search_terms`` and ``torrent_checks`` (a .torrent's pieces checked
against its files on the exhibit), and each item's ``ed2k`` digest (where the case lacks it), and sets the
case's ``schema_version`` to 7.

What an upgraded case can and cannot claim: the runs recorded before the upgrade were made by a Safenet that
did not parse P2P client artefacts (eMule, Ares, torrent clients) and did not compute ED2K digests. Their P2P
tables are empty and their items' ``ed2k`` is NULL because nothing looked, not because nothing was there: an
upgraded case never says "no P2P records found" for those runs. The reports print, per exhibit, which runs
came before the upgrade (``case.migrations.pre_upgrade_notes``: the upgrade is recorded in the case's
``meta`` with the last run id it covered, and in the audit log); triaging the exhibit again into a new case
examines it for P2P activity. The audit lines of those runs' batches digested the items without ``ed2k``;
``verify`` re-derives them without it, and requires it still NULL.

Revision ID: case_0007
Revises: case_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "case_0007"
down_revision = "case_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    columns = {column["name"] for column in sa.inspect(bind).get_columns("items")}
    if "ed2k" not in columns:  # a case written by a build between the releases may have it already
        op.add_column("items", sa.Column("ed2k", sa.String(length=32), nullable=True))  # no table copy
        op.create_index("ix_items_ed2k", "items", ["ed2k"], unique=False)
    op.create_table(
        "p2p_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("parser", sa.String(length=60), nullable=False),
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("artefact", sa.String(length=60), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_raw", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=True),
        sa.Column("uploaded_bytes", sa.BigInteger(), nullable=True),
        sa.Column("upload_requests", sa.BigInteger(), nullable=True),
        sa.Column("accepted_requests", sa.BigInteger(), nullable=True),
        sa.Column("added", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_shared", sa.DateTime(timezone=True), nullable=True),
        sa.Column("zone_known", sa.Boolean(), nullable=False),
        sa.Column("save_path", sa.Text(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_p2p_records_exhibit_id"), "p2p_records", ["exhibit_id"], unique=False)
    op.create_index(op.f("ix_p2p_records_item_id"), "p2p_records", ["item_id"], unique=False)
    op.create_table(
        "search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("parser", sa.String(length=60), nullable=False),
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("artefact", sa.String(length=60), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("term_raw", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_search_terms_exhibit_id"), "search_terms", ["exhibit_id"], unique=False)
    op.create_index(op.f("ix_search_terms_item_id"), "search_terms", ["item_id"], unique=False)
    op.create_table(
        "p2p_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("hashset", sa.String(length=200), nullable=False),
        sa.Column("hashset_sha256", sa.String(length=64), nullable=False),
        sa.Column("set_kind", sa.String(length=20), nullable=False),
        sa.Column("hash_kind", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("category_raw", sa.String(length=40), nullable=True),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["p2p_records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "hashset", "hash_kind", "entry", name="uq_p2p_finding"),
    )
    op.create_index(op.f("ix_p2p_findings_record_id"), "p2p_findings", ["record_id"], unique=False)
    op.create_table(
        "torrent_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("info_hash", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pieces", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("mismatched", sa.BigInteger(), nullable=False),
        sa.Column("unavailable", sa.BigInteger(), nullable=False),
        sa.Column("files_found", sa.BigInteger(), nullable=False),
        sa.Column("files_missing", sa.BigInteger(), nullable=False),
        sa.Column("files_ambiguous", sa.BigInteger(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["p2p_records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_torrent_checks_exhibit_id"), "torrent_checks", ["exhibit_id"], unique=False)
    op.create_index(op.f("ix_torrent_checks_record_id"), "torrent_checks", ["record_id"], unique=False)
    op.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("a case is never downgraded: its records would lose what a later run found")
