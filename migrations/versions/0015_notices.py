"""notices: a volunteer's inbox (kind, text, read, the SMS's state) and their notice settings
(quiet hours, kinds not sent by SMS)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0015"
down_revision: str | None = "0014"
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


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", ID, nullable=False),
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sms_state", sa.String(length=10), nullable=False),
        sa.Column("sms_due_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sms_claimed_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sms_done_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sms_error", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name=op.f("ck_notices_kind")
        ),
        sa.CheckConstraint(
            "sms_state IN ('pending', 'sending', 'sent', 'unknown', 'failed', 'off')",
            name=op.f("ck_notices_sms_state"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_notices_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index("ix_notices_volunteer", "notices", ["volunteer_id", "id"], unique=False)
    op.create_index("ix_notices_sms_due", "notices", ["sms_state", "sms_due_at"], unique=False)
    op.create_table(
        "notice_settings",
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("sms_off", sa.JSON(), nullable=False),
        sa.Column("updated_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_notice_settings_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("volunteer_id", name=op.f("pk_notice_settings")),
    )


def downgrade() -> None:
    op.drop_table("notice_settings")
    op.drop_index("ix_notices_sms_due", table_name="notices")
    op.drop_index("ix_notices_volunteer", table_name="notices")
    op.drop_table("notices")
