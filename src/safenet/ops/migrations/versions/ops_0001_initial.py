"""The operation database's first schema: subjects, leads, visits, their leads and devices, people,
safeguarding and the unit's settings.

Revision ID: ops_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "ops_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("address_key", sa.String(length=400), nullable=False),
        sa.Column("risk_level", sa.String(length=40), nullable=True),
        sa.Column("risk_reasons", sa.Text(), nullable=True),
        sa.Column("risk_by", sa.String(length=200), nullable=True),
        sa.Column("risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address_key"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("observed_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_text", sa.Text(), nullable=False),
        sa.Column("observed_zone", sa.String(length=60), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("isp", sa.Text(), nullable=False),
        sa.Column("hash_hex", sa.String(length=128), nullable=False),
        sa.Column("hash_kind", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("subscriber_address", sa.Text(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_leads_hash_hex"), "leads", ["hash_hex"], unique=False)
    op.create_index(op.f("ix_leads_ip"), "leads", ["ip"], unique=False)
    op.create_index(op.f("ix_leads_source_ref"), "leads", ["source_ref"], unique=False)
    op.create_index(op.f("ix_leads_subject_id"), "leads", ["subject_id"], unique=False)
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("warrant_power", sa.Text(), nullable=False),
        sa.Column("warrant_ref", sa.String(length=200), nullable=False),
        sa.Column("issuing_court", sa.Text(), nullable=False),
        sa.Column("warrant_date", sa.Date(), nullable=True),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("actual_date", sa.Date(), nullable=True),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("disposition", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("case_path", sa.Text(), nullable=True),
        sa.Column("exhibit", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_path", "exhibit", name="uq_device_exhibit"),
    )
    op.create_index(op.f("ix_devices_visit_id"), "devices", ["visit_id"], unique=False)
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("arrested_on", sa.Date(), nullable=True),
        sa.Column("interviewed_on", sa.Date(), nullable=True),
        sa.Column("charged_on", sa.Date(), nullable=True),
        sa.Column("offences", sa.Text(), nullable=False),
        sa.Column("bail", sa.Text(), nullable=True),
        sa.Column("first_court_on", sa.Date(), nullable=True),
        sa.Column("retention_review_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_people_visit_id"), "people", ["visit_id"], unique=False)
    op.create_table(
        "safeguarding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("referral_to", sa.Text(), nullable=True),
        sa.Column("referral_on", sa.Date(), nullable=True),
        sa.Column("retention_review_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("visit_id"),
    )
    op.create_table(
        "visit_leads",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("visit_id", "lead_id"),
    )


def downgrade() -> None:
    for table in ("settings", "safeguarding", "people", "devices", "visit_leads", "visits", "leads", "subjects"):
        op.drop_table(table)
