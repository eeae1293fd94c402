"""grant_reviewers, grant_scores, grant_objections: a round's reviewers, their scores and the
objections raised during its public notice

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = linli.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grant_reviewers",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("staff_user_id", ID, nullable=False),
        sa.Column("guest", sa.Boolean(), nullable=False),
        sa.Column("affiliation_org_id", ID, nullable=True),
        sa.Column("granted_by", ID, nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliation_org_id"],
            ["organizations.id"],
            name=op.f("fk_grant_reviewers_affiliation_org_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["staff_users.id"], name=op.f("fk_grant_reviewers_granted_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_reviewers_round_id_grant_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_grant_reviewers_staff_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_reviewers")),
        sa.UniqueConstraint(
            "round_id", "staff_user_id", name=op.f("uq_grant_reviewers_round_id_staff_user_id")
        ),
    )
    with op.batch_alter_table("grant_reviewers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_reviewers_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grant_reviewers_staff_user_id"), ["staff_user_id"], unique=False)

    op.create_table(
        "grant_scores",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("proposal_id", ID, nullable=False),
        sa.Column("reviewer_id", ID, nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("weighted", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.CheckConstraint("weighted BETWEEN 0 AND 1000", name=op.f("ck_grant_scores_weighted")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["grant_proposals.id"], name=op.f("fk_grant_scores_proposal_id_grant_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["staff_users.id"], name=op.f("fk_grant_scores_reviewer_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_scores_round_id_grant_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_scores")),
        sa.UniqueConstraint(
            "proposal_id", "reviewer_id", name=op.f("uq_grant_scores_proposal_id_reviewer_id")
        ),
    )
    with op.batch_alter_table("grant_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_scores_proposal_id"), ["proposal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grant_scores_round_id"), ["round_id"], unique=False)

    op.create_table(
        "grant_objections",
        sa.Column("id", ID, nullable=False),
        sa.Column("round_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=60), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["grant_rounds.id"], name=op.f("fk_grant_objections_round_id_grant_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_objections")),
    )
    with op.batch_alter_table("grant_objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_objections_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_table("grant_objections")
    op.drop_table("grant_scores")
    op.drop_table("grant_reviewers")
