"""diners: sex, read from the resident ID number's 17th digit at registration (null before: only
the number's keyed hash is kept, so older rows cannot be filled in)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diners") as batch:
        batch.add_column(sa.Column("sex", sa.String(length=6), nullable=True))
        batch.create_check_constraint(op.f("ck_diners_sex"), "sex IN ('male', 'female')")


def downgrade() -> None:
    with op.batch_alter_table("diners") as batch:
        batch.drop_constraint(op.f("ck_diners_sex"), type_="check")
        batch.drop_column("sex")
