"""meals and meal_subsidies partitioned by month on PostgreSQL (按月分区; SQLite unchanged)

PostgreSQL wants a partitioned table's primary key and every unique key to hold the partition
key, and a foreign key to a partitioned table to name such a key: so on PostgreSQL the primary
keys become (id, service_day), and the two foreign keys to meals carry the meal's day:
meal_subsidies (meal_id, service_day) -> meals (id, service_day) (a subsidy's day is its meal's,
copied), meal_adjustments (meal_id, meal_day) -> meals (id, service_day), `meal_day` being new
here on both engines. Ids still come from one sequence per table, so `id` alone stays unique.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from linli import partitions

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEALS, SUBSIDIES = partitions.TABLES[0], partitions.TABLES[1]
FK_SUBSIDY, FK_ADJUSTMENT = "fk_meal_subsidies_meal_id_meals", "fk_meal_adjustments_meal_id_meals"


def upgrade() -> None:
    with op.batch_alter_table("meal_adjustments") as batch:
        batch.add_column(sa.Column("meal_day", sa.Date(), nullable=True))
    op.execute(
        "UPDATE meal_adjustments SET meal_day = "
        "(SELECT service_day FROM meals WHERE meals.id = meal_adjustments.meal_id)"
    )
    with op.batch_alter_table("meal_adjustments") as batch:
        batch.alter_column("meal_day", existing_type=sa.Date(), nullable=False)
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    today = datetime.now(UTC).astimezone(partitions.TZ).date()
    partitions.partition(conn, MEALS, today=today)  # drops the foreign keys to meals: made again below
    partitions.partition(conn, SUBSIDIES, today=today, drop_fks={FK_SUBSIDY})
    op.execute(
        f"ALTER TABLE meal_subsidies ADD CONSTRAINT {FK_SUBSIDY} "
        "FOREIGN KEY (meal_id, service_day) REFERENCES meals (id, service_day)"
    )
    op.execute(
        f"ALTER TABLE meal_adjustments ADD CONSTRAINT {FK_ADJUSTMENT} "
        "FOREIGN KEY (meal_id, meal_day) REFERENCES meals (id, service_day)"
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE meal_adjustments DROP CONSTRAINT {FK_ADJUSTMENT}")
        op.execute(f"ALTER TABLE meal_subsidies DROP CONSTRAINT {FK_SUBSIDY}")
        partitions.unpartition(conn, SUBSIDIES)
        partitions.unpartition(conn, MEALS)
        op.execute(
            f"ALTER TABLE meal_subsidies ADD CONSTRAINT {FK_SUBSIDY} FOREIGN KEY (meal_id) REFERENCES meals (id)"
        )
        op.execute(
            f"ALTER TABLE meal_adjustments ADD CONSTRAINT {FK_ADJUSTMENT} FOREIGN KEY (meal_id) REFERENCES meals (id)"
        )
    with op.batch_alter_table("meal_adjustments") as batch:
        batch.drop_column("meal_day")
