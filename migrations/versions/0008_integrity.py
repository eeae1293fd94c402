"""integrity: offline meals and attendances held for a hub's review, flags, who was online
when, a hub's offline grace, and the audit log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("staff_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_audit_log_staff_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_path_at", ["org_path", "at"], unique=False)

    op.create_table(
        "integrity_flags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("detected_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'open', 'approved', 'rejected', 'dismissed')",
            name=op.f("ck_integrity_flags_status"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff_users.id"], name=op.f("fk_integrity_flags_decided_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_flags")),
        sa.UniqueConstraint("kind", "subject", name=op.f("uq_integrity_flags_kind_subject")),
    )
    with op.batch_alter_table("integrity_flags", schema=None) as batch_op:
        batch_op.create_index("ix_integrity_flags_status", ["status", "detected_at"], unique=False)

    op.create_table(
        "integrity_settings",
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offline_grace_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_integrity_settings_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["staff_users.id"], name=op.f("fk_integrity_settings_updated_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_integrity_settings")),
    )
    op.create_table(
        "staff_presence",
        sa.Column("staff_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("minute", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_staff_presence_staff_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("staff_user_id", "minute", name=op.f("pk_staff_presence")),
    )
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # a meal may be held: it takes its slot as a served one does
    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_meals_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('served', 'held', 'voided')")
        batch_op.drop_index("uq_meals_subsidized")
        batch_op.create_index(
            "uq_meals_subsidized",
            ["diner_id", "service_day", "slot"],
            unique=True,
            sqlite_where=sa.text("subsidized AND status IN ('served', 'held')"),
            postgresql_where=sa.text("subsidized AND status IN ('served', 'held')"),
        )


def downgrade() -> None:
    op.execute("UPDATE meals SET status = 'served' WHERE status = 'held'")
    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.drop_index("uq_meals_subsidized")
        batch_op.create_index(
            "uq_meals_subsidized",
            ["diner_id", "service_day", "slot"],
            unique=True,
            sqlite_where=sa.text("subsidized AND status = 'served'"),
            postgresql_where=sa.text("subsidized AND status = 'served'"),
        )
        batch_op.drop_constraint(op.f("ck_meals_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('served', 'voided')")
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.drop_column("held")

    op.drop_table("staff_presence")
    op.drop_table("integrity_settings")
    with op.batch_alter_table("integrity_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_integrity_flags_status")

    op.drop_table("integrity_flags")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_path_at")

    op.drop_table("audit_log")
