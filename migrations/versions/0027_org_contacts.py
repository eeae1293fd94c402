"""organizations: the person in charge and a contact phone, printed on the certificates the
organization issues (志愿服务记录证明: 负责人, 联系电话)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("person_in_charge", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("contact_phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("contact_phone")
        batch.drop_column("person_in_charge")
