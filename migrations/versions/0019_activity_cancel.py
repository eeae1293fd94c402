"""activity cancel: an activity cancelled by a hub (when, by whom, why), and the notice kind
`activity_cancelled`

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KINDS = (
    "filing_approved",
    "filing_rejected",
    "signup_confirmed",
    "activity_reminder",
    "activity_moved",
    "points_awarded",
    "shop_order_ready",
    "certificate_issued",
    "points_expiring",
)
NEW_KINDS = (*KINDS[:5], "activity_cancelled", *KINDS[5:])


def _kinds(kinds) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch:
        batch.add_column(sa.Column("cancelled_at", linli.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancelled_by", ID, nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=200), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_activities_cancelled_by_staff_users"), "staff_users", ["cancelled_by"], ["id"]
        )
    with op.batch_alter_table("notices", schema=None) as batch:
        batch.drop_constraint(op.f("ck_notices_kind"), type_="check")
        batch.create_check_constraint("kind", _kinds(NEW_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM notices WHERE kind = 'activity_cancelled'")
    with op.batch_alter_table("notices", schema=None) as batch:
        batch.drop_constraint(op.f("ck_notices_kind"), type_="check")
        batch.create_check_constraint("kind", _kinds(KINDS))
    with op.batch_alter_table("activities", schema=None) as batch:
        batch.drop_constraint(batch.f("fk_activities_cancelled_by_staff_users"), type_="foreignkey")
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_by")
        batch.drop_column("cancelled_at")
