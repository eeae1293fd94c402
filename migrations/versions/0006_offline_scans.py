"""scans: whether a scan came in an offline tablet's batch (judged again when an earlier scan of
the same volunteer arrives later)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "scans", sa.Column("offline", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    # scans stored before: an online scan was judged at the moment it arrived
    op.execute("UPDATE scans SET offline = (effective_at <> received_at)")


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("offline")
