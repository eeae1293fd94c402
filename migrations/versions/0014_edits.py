"""edits that keep history: slot prices and agreements' schedules from a day on, a diner's
category evidence, each subsidy's schedule version, and one row's history in the audit log

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meal_slot_prices",
        sa.Column("id", ID, nullable=False),
        sa.Column("meal_slot_id", ID, nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_meal_slot_prices_price")),
        sa.ForeignKeyConstraint(
            ["meal_slot_id"], ["meal_slots.id"], name=op.f("fk_meal_slot_prices_meal_slot_id_meal_slots")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_meal_slot_prices_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_slot_prices")),
    )
    with op.batch_alter_table("meal_slot_prices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meal_slot_prices_slot_from", ["meal_slot_id", "effective_from"], unique=False
        )
    op.create_table(
        "funding_schedules",
        sa.Column("id", ID, nullable=False),
        sa.Column("agreement_id", ID, nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("week_cap", sa.Integer(), nullable=True),
        sa.Column("month_cap", sa.Integer(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["funding_agreements.id"],
            name=op.f("fk_funding_schedules_agreement_id_funding_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_funding_schedules_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_schedules")),
    )
    with op.batch_alter_table("funding_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_funding_schedules_agreement_from", ["agreement_id", "effective_from"], unique=False
        )
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_version_id", ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_meal_subsidies_schedule_version_id_funding_schedules"),
            "funding_schedules",
            ["schedule_version_id"],
            ["id"],
        )
    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_evidence", sa.String(length=200), nullable=True))
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_subject", ["subject", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_subject")
    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.drop_column("category_evidence")
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_meal_subsidies_schedule_version_id_funding_schedules"), type_="foreignkey"
        )
        batch_op.drop_column("schedule_version_id")
    with op.batch_alter_table("funding_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_schedules_agreement_from")
    op.drop_table("funding_schedules")
    with op.batch_alter_table("meal_slot_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_slot_prices_slot_from")
    op.drop_table("meal_slot_prices")
