"""funding agreements: who made each one (with a partner: who linked the partner), for the partner to see

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("funding_agreements") as batch:
        batch.add_column(
            sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch.create_foreign_key(
            batch.f("fk_funding_agreements_created_by_staff_users"), "staff_users", ["created_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("funding_agreements") as batch:
        batch.drop_constraint(batch.f("fk_funding_agreements_created_by_staff_users"), type_="foreignkey")
        batch.drop_column("created_by")
