"""subsidy rules a county can change: meal_categories per county (scope: '' the defaults, or a
county base's path) with age bands in whole years (min_age, max_age) and retirement; a diner's
registered residence (户籍); an agreement's monthly cap

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = {"age_60_69": (60, 69), "age_70_79": (70, 79), "age_80_89": (80, 89), "age_90_plus": (90, None)}


def upgrade() -> None:
    with op.batch_alter_table("meal_categories") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=400), server_default=sa.text("''"), nullable=False)
        )
        batch.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retired", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch.add_column(
            sa.Column("updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch.add_column(sa.Column("updated_at", linli.db.UTCDateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f("pk_meal_categories"), type_="primary")
        batch.create_primary_key(op.f("pk_meal_categories"), ["scope", "code"])
        batch.create_foreign_key(
            op.f("fk_meal_categories_updated_by_staff_users"), "staff_users", ["updated_by"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_meal_categories_ages"),
            "(min_age IS NULL AND max_age IS NULL) OR (min_age >= 0 AND (max_age IS NULL OR max_age >= min_age))",
        )
    table = sa.table(
        "meal_categories",
        sa.column("scope", sa.String),
        sa.column("code", sa.String),
        sa.column("min_age", sa.Integer),
        sa.column("max_age", sa.Integer),
    )
    for code, (low, high) in BANDS.items():  # the decades become rows with their bounds
        op.execute(
            table.update().where(table.c.scope == "", table.c.code == code).values(min_age=low, max_age=high)
        )
    with op.batch_alter_table("diners") as batch:
        batch.add_column(sa.Column("residence", sa.String(length=5), nullable=True))
        batch.create_check_constraint(op.f("ck_diners_residence"), "residence IN ('local', 'other')")
    with op.batch_alter_table("funding_agreements") as batch:
        batch.add_column(sa.Column("month_cap", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("funding_agreements") as batch:
        batch.drop_column("month_cap")
    with op.batch_alter_table("diners") as batch:
        batch.drop_constraint(op.f("ck_diners_residence"), type_="check")
        batch.drop_column("residence")
    op.execute(sa.text("DELETE FROM meal_categories WHERE scope <> ''"))
    with op.batch_alter_table("meal_categories") as batch:
        batch.drop_constraint(op.f("ck_meal_categories_ages"), type_="check")
        batch.drop_constraint(op.f("fk_meal_categories_updated_by_staff_users"), type_="foreignkey")
        batch.drop_constraint(op.f("pk_meal_categories"), type_="primary")
        batch.create_primary_key(op.f("pk_meal_categories"), ["code"])
        for column in ("updated_at", "updated_by", "retired", "max_age", "min_age", "scope"):
            batch.drop_column(column)
