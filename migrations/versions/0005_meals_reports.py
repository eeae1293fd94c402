"""meals: bookings, home delivery runs, adjustments after close, addresses, subsidy tiers and
funders' parts readable alone; reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 23:27:40.368367
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # rows from before these columns get the defaults: nothing adjusted, no bookings, no tier
    op.create_table(
        "partner_webhooks",
        sa.Column("partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_webhooks_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_webhooks")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("granularity", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_reports_status")
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_reports_period")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_reports_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_reports_partner_id_partners")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff_users.id"], name=op.f("fk_reports_requested_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_partner", ["partner_id", "id"], unique=False)
        batch_op.create_index("ix_reports_request_key", ["request_key"], unique=False)

    op.create_table(
        "meal_delivery_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(length=10), nullable=False),
        sa.Column("community", sa.String(length=100), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("claimed_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meal_point_id"],
            ["meal_points.id"],
            name=op.f("fk_meal_delivery_runs_meal_point_id_meal_points"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_meal_delivery_runs_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_delivery_runs")),
        sa.UniqueConstraint(
            "meal_point_id",
            "service_day",
            "slot",
            "community",
            name=op.f("uq_meal_delivery_runs_meal_point_id_service_day_slot_community"),
        ),
    )
    with op.batch_alter_table("meal_delivery_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meal_delivery_runs_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "meal_bookings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("diner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(length=10), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("booked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('dine_in', 'pick_up', 'delivery')", name=op.f("ck_meal_bookings_mode")),
        sa.CheckConstraint(
            "status IN ('booked', 'cancelled', 'served', 'no_show')", name=op.f("ck_meal_bookings_status")
        ),
        sa.ForeignKeyConstraint(
            ["booked_by"], ["staff_users.id"], name=op.f("fk_meal_bookings_booked_by_staff_users")
        ),
        sa.ForeignKeyConstraint(["diner_id"], ["diners.id"], name=op.f("fk_meal_bookings_diner_id_diners")),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meal_bookings_meal_point_id_meal_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_bookings")),
    )
    with op.batch_alter_table("meal_bookings", schema=None) as batch_op:
        batch_op.create_index("ix_meal_bookings_point_day", ["meal_point_id", "service_day"], unique=False)
        batch_op.create_index(
            "uq_meal_bookings_live",
            ["diner_id", "service_day", "slot"],
            unique=True,
            sqlite_where=sa.text("status IN ('booked', 'served')"),
            postgresql_where=sa.text("status IN ('booked', 'served')"),
        )

    op.create_table(
        "meal_adjustments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("price_delta", sa.Integer(), nullable=False),
        sa.Column("paid_delta", sa.Integer(), nullable=False),
        sa.Column("subsidy_delta", sa.Integer(), nullable=False),
        sa.Column("by_funder", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("made_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("made_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["made_by"], ["staff_users.id"], name=op.f("fk_meal_adjustments_made_by_staff_users")
        ),
        sa.ForeignKeyConstraint(["meal_id"], ["meals.id"], name=op.f("fk_meal_adjustments_meal_id_meals")),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meal_adjustments_meal_point_id_meal_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_adjustments")),
        sa.UniqueConstraint("meal_id", name=op.f("uq_meal_adjustments_meal_id")),
    )
    with op.batch_alter_table("meal_adjustments", schema=None) as batch_op:
        batch_op.create_index("ix_meal_adjustments_point_day", ["meal_point_id", "made_on"], unique=False)

    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=200), nullable=True))

    with op.batch_alter_table("meal_day_closes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adjustments", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("adjusted_subsidy", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("adjusted_by_funder", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("no_shows", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("diner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("service_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("voided", sa.Boolean(), nullable=True))
    # the meal's point, diner, day and void, copied onto each funder's part
    for column, value in (
        ("meal_point_id", "meal_point_id"),
        ("diner_id", "diner_id"),
        ("service_day", "service_day"),
        ("voided", "status = 'voided'"),
    ):
        op.execute(
            f"UPDATE meal_subsidies SET {column} = (SELECT {value} FROM meals WHERE meals.id = meal_subsidies.meal_id)"
        )
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        for column in ("meal_point_id", "diner_id", "service_day", "voided"):
            batch_op.alter_column(column, nullable=False)
        batch_op.drop_index(batch_op.f("ix_meal_subsidies_agreement_id"))
        batch_op.create_index(
            "ix_meal_subsidies_agreement_day", ["agreement_id", "service_day"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meal_subsidies_meal_point_id_meal_points"),
            "meal_points",
            ["meal_point_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meal_subsidies_diner_id_diners"), "diners", ["diner_id"], ["id"]
        )

    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meals_delivered_by_volunteers"), "volunteers", ["delivered_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_meals_delivered_by_volunteers"), type_="foreignkey")
        batch_op.drop_column("delivered_by")

    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_meal_subsidies_diner_id_diners"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_meal_subsidies_meal_point_id_meal_points"), type_="foreignkey"
        )
        batch_op.drop_index("ix_meal_subsidies_agreement_day")
        batch_op.create_index(batch_op.f("ix_meal_subsidies_agreement_id"), ["agreement_id"], unique=False)
        batch_op.drop_column("voided")
        batch_op.drop_column("service_day")
        batch_op.drop_column("diner_id")
        batch_op.drop_column("meal_point_id")
        batch_op.drop_column("tier")

    with op.batch_alter_table("meal_day_closes", schema=None) as batch_op:
        batch_op.drop_column("no_shows")
        batch_op.drop_column("adjusted_by_funder")
        batch_op.drop_column("adjusted_subsidy")
        batch_op.drop_column("adjustments")

    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.drop_column("address")

    with op.batch_alter_table("meal_adjustments", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_adjustments_point_day")

    op.drop_table("meal_adjustments")
    with op.batch_alter_table("meal_bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_meal_bookings_live",
            sqlite_where=sa.text("status IN ('booked', 'served')"),
            postgresql_where=sa.text("status IN ('booked', 'served')"),
        )
        batch_op.drop_index("ix_meal_bookings_point_day")

    op.drop_table("meal_bookings")
    with op.batch_alter_table("meal_delivery_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meal_delivery_runs_volunteer_id"))

    op.drop_table("meal_delivery_runs")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_request_key")
        batch_op.drop_index("ix_reports_partner")

    op.drop_table("reports")
    op.drop_table("partner_webhooks")
