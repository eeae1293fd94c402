"""grant_rounds, grant_round_funders, grant_proposals, grant_projects: micro-grant rounds
(公益微创投), the proposals sent to them and the projects granted

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:29:17.203732
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "grant_rounds",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("call_opens_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("call_closes_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("max_grants", sa.Integer(), nullable=True),
        sa.Column("total_limit", sa.BigInteger(), nullable=True),
        sa.Column("grant_limit", sa.BigInteger(), nullable=True),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("review_closed_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_starts_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_ends_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('call', 'review', 'notice', 'granted', 'cancelled')",
            name=op.f("ck_grant_rounds_state"),
        ),
        sa.CheckConstraint("call_closes_at > call_opens_at", name=op.f("ck_grant_rounds_call")),
        sa.CheckConstraint("notice_days BETWEEN 1 AND 60", name=op.f("ck_grant_rounds_notice_days")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_grant_rounds_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_grant_rounds_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_rounds")),
    )
    with op.batch_alter_table("grant_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_rounds_org_id"), ["org_id"], unique=False)

    op.create_table(
        "grant_proposals",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("goal_activities", sa.Integer(), nullable=False),
        sa.Column("goal_served", sa.Integer(), nullable=False),
        sa.Column("goal_volunteer_times", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("budget", sa.JSON(), nullable=False),
        sa.Column("budget_total", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_amount", sa.BigInteger(), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "field IN ('elderly', 'children', 'environment', 'culture', 'other')",
            name=op.f("ck_grant_proposals_field"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_grant_proposals_status"),
        ),
        sa.CheckConstraint("budget_total >= 0", name=op.f("ck_grant_proposals_budget_total")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_grant_proposals_period")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_grant_proposals_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff_users.id"], name=op.f("fk_grant_proposals_decided_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_grant_proposals_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_proposals_round_id_grant_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_proposals")),
    )
    with op.batch_alter_table("grant_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_proposals_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grant_proposals_round_id"), ["round_id"], unique=False)

    op.create_table(
        "grant_round_funders",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('government', 'enterprise', 'charity')", name=op.f("ck_grant_round_funders_kind")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_grant_round_funders_amount")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_grant_round_funders_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_round_funders_round_id_grant_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_round_funders")),
    )
    with op.batch_alter_table("grant_round_funders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_round_funders_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grant_round_funders_round_id"), ["round_id"], unique=False)

    op.create_table(
        "grant_projects",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("proposal_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'closed')", name=op.f("ck_grant_projects_status")),
        sa.CheckConstraint("granted > 0", name=op.f("ck_grant_projects_granted")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_grant_projects_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["grant_proposals.id"],
            name=op.f("fk_grant_projects_proposal_id_grant_proposals"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_projects_round_id_grant_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_projects")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_grant_projects_proposal_id")),
    )
    with op.batch_alter_table("grant_projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_projects_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grant_projects_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("grant_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_projects_round_id"))
        batch_op.drop_index(batch_op.f("ix_grant_projects_org_id"))

    op.drop_table("grant_projects")
    with op.batch_alter_table("grant_round_funders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_round_funders_round_id"))
        batch_op.drop_index(batch_op.f("ix_grant_round_funders_partner_id"))

    op.drop_table("grant_round_funders")
    with op.batch_alter_table("grant_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_proposals_round_id"))
        batch_op.drop_index(batch_op.f("ix_grant_proposals_org_id"))

    op.drop_table("grant_proposals")
    with op.batch_alter_table("grant_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_rounds_org_id"))

    op.drop_table("grant_rounds")
