"""meal_subsidies: an index on (agreement, diner, day), so a report's budget sheet finds the first
few diners an agreement ever paid for without reading its every subsidy (issue 24: cost follows
the scope asked, tests/scale). The day last: for a period, (agreement, day) stays the cheaper.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_meal_subsidies_agreement_diner", "meal_subsidies", ["agreement_id", "diner_id", "service_day"]
    )


def downgrade() -> None:
    op.drop_index("ix_meal_subsidies_agreement_diner", table_name="meal_subsidies")
