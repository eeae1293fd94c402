"""activities: a description (what volunteers do there), set on the admin page's new-activity form

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("description", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("description")
