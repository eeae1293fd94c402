"""meal_cash_counts: the cash a counter counted at the end of a day against its cash sheet
(收款对账), with who counted and when

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meal_cash_counts",
        sa.Column("id", ID, nullable=False),
        sa.Column("meal_point_id", ID, nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("counted_by", ID, nullable=False),
        sa.Column("counted_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("counted >= 0", name=op.f("ck_meal_cash_counts_counted")),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meal_cash_counts_meal_point_id_meal_points")
        ),
        sa.ForeignKeyConstraint(
            ["counted_by"], ["staff_users.id"], name=op.f("fk_meal_cash_counts_counted_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_cash_counts")),
    )
    with op.batch_alter_table("meal_cash_counts", schema=None) as batch_op:
        batch_op.create_index("ix_meal_cash_counts_point_day", ["meal_point_id", "service_day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meal_cash_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_cash_counts_point_day")
    op.drop_table("meal_cash_counts")
