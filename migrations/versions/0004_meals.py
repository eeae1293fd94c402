"""meals: meal points, slots, diners, categories, funding agreements, meals, subsidies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:39:43.871884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meal_categories",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_meal_categories")),
    )
    op.create_table(
        "funding_agreements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("funder_kind", sa.String(length=20), nullable=False),
        sa.Column("stack_order", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("budget_cap", sa.BigInteger(), nullable=False),
        sa.Column("budget_used", sa.BigInteger(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("week_cap", sa.Integer(), nullable=True),
        sa.Column("home_point_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "funder_kind IN ('government', 'enterprise', 'charity')",
            name=op.f("ck_funding_agreements_funder_kind"),
        ),
        sa.CheckConstraint(
            "budget_used >= 0 AND budget_used <= budget_cap", name=op.f("ck_funding_agreements_budget")
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_funding_agreements_period")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_funding_agreements_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_agreements")),
    )
    with op.batch_alter_table("funding_agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_agreements_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "meal_points",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("daily_capacity > 0", name=op.f("ck_meal_points_daily_capacity")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_meal_points_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_meal_points_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_points")),
        sa.UniqueConstraint("station_id", name=op.f("uq_meal_points_station_id")),
    )
    with op.batch_alter_table("meal_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meal_points_org_id"), ["org_id"], unique=False)

    op.create_table(
        "diners",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=True),
        sa.Column("phone_last4", sa.String(length=4), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("community", sa.String(length=100), nullable=False),
        sa.Column("id_hash", sa.String(length=100), nullable=False),
        sa.Column("id_last4", sa.String(length=4), nullable=False),
        sa.Column("consent_by", sa.String(length=10), nullable=False),
        sa.Column("guardian_name", sa.String(length=40), nullable=True),
        sa.Column("consented_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dietary_notes", sa.String(length=200), nullable=False),
        sa.Column("allergies", sa.String(length=200), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("home_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("delivery", sa.Boolean(), nullable=False),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("paused_from", sa.Date(), nullable=True),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("consent_by IN ('self', 'guardian')", name=op.f("ck_diners_consent_by")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_diners_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["home_point_id"], ["meal_points.id"], name=op.f("fk_diners_home_point_id_meal_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diners")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_diners_id_hash")),
    )
    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diners_home_point_id"), ["home_point_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_diners_phone_last4"), ["phone_last4"], unique=False)

    op.create_table(
        "funding_agreement_points",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["funding_agreements.id"],
            name=op.f("fk_funding_agreement_points_agreement_id_funding_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["meal_point_id"],
            ["meal_points.id"],
            name=op.f("fk_funding_agreement_points_meal_point_id_meal_points"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", "meal_point_id", name=op.f("pk_funding_agreement_points")),
    )
    with op.batch_alter_table("funding_agreement_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funding_agreement_points_meal_point_id"), ["meal_point_id"], unique=False
        )

    op.create_table(
        "meal_day_closes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("meals", sa.Integer(), nullable=False),
        sa.Column("subsidized", sa.Integer(), nullable=False),
        sa.Column("diners", sa.Integer(), nullable=False),
        sa.Column("price_total", sa.BigInteger(), nullable=False),
        sa.Column("paid_total", sa.BigInteger(), nullable=False),
        sa.Column("subsidy_total", sa.BigInteger(), nullable=False),
        sa.Column("by_funder", sa.JSON(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.Column("closed_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meal_day_closes_meal_point_id_meal_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_day_closes")),
        sa.UniqueConstraint(
            "meal_point_id", "service_day", name=op.f("uq_meal_day_closes_meal_point_id_service_day")
        ),
    )
    op.create_table(
        "meal_slots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slot", sa.String(length=10), nullable=False),
        sa.Column("starts", sa.String(length=5), nullable=False),
        sa.Column("ends", sa.String(length=5), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name=op.f("ck_meal_slots_slot")),
        sa.CheckConstraint("ends > starts", name=op.f("ck_meal_slots_window")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_meal_slots_price")),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meal_slots_meal_point_id_meal_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_slots")),
        sa.UniqueConstraint("meal_point_id", "slot", name=op.f("uq_meal_slots_meal_point_id_slot")),
    )
    op.create_table(
        "meals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("diner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slot", sa.String(length=10), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("subsidy", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("subsidized", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("served_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("served_by", sa.String(length=100), nullable=False),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.Column("voided_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint("mode IN ('dine_in', 'pick_up', 'delivery')", name=op.f("ck_meals_mode")),
        sa.CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name=op.f("ck_meals_slot")),
        sa.CheckConstraint("status IN ('served', 'voided')", name=op.f("ck_meals_status")),
        sa.CheckConstraint(
            "price >= 0 AND subsidy >= 0 AND subsidy <= price AND paid = price - subsidy",
            name=op.f("ck_meals_money"),
        ),
        sa.ForeignKeyConstraint(["diner_id"], ["diners.id"], name=op.f("fk_meals_diner_id_diners")),
        sa.ForeignKeyConstraint(
            ["meal_point_id"], ["meal_points.id"], name=op.f("fk_meals_meal_point_id_meal_points")
        ),
        sa.ForeignKeyConstraint(
            ["voided_by"], ["staff_users.id"], name=op.f("fk_meals_voided_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meals")),
    )
    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.create_index("ix_meals_diner_day", ["diner_id", "service_day"], unique=False)
        batch_op.create_index("ix_meals_point_day", ["meal_point_id", "service_day"], unique=False)
        batch_op.create_index(
            "uq_meals_subsidized",
            ["diner_id", "service_day", "slot"],
            unique=True,
            sqlite_where=sa.text("subsidized AND status = 'served'"),
            postgresql_where=sa.text("subsidized AND status = 'served'"),
        )

    op.create_table(
        "meal_subsidies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_meal_subsidies_amount")),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["funding_agreements.id"],
            name=op.f("fk_meal_subsidies_agreement_id_funding_agreements"),
        ),
        sa.ForeignKeyConstraint(["meal_id"], ["meals.id"], name=op.f("fk_meal_subsidies_meal_id_meals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_subsidies")),
    )
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meal_subsidies_agreement_id"), ["agreement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meal_subsidies_meal_id"), ["meal_id"], unique=False)

    categories = {
        "age_60_69": "60-69岁",
        "age_70_79": "70-79岁",
        "age_80_89": "80-89岁",
        "age_90_plus": "90岁以上",
        "dibao": "低保",
        "tekun": "特困",
        "dibao_edge": "低保边缘",
        "disabled": "失能",
        "severe_disability": "重残",
        "living_alone": "独居",
        "family_planning": "计生特殊家庭",
        "entitled": "优抚对象",
    }  # the categories cities use; staff may add more
    op.bulk_insert(
        sa.table("meal_categories", sa.column("code", sa.String), sa.column("name", sa.String)),
        [{"code": code, "name": name} for code, name in categories.items()],
    )


def downgrade() -> None:
    with op.batch_alter_table("meal_subsidies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meal_subsidies_meal_id"))
        batch_op.drop_index(batch_op.f("ix_meal_subsidies_agreement_id"))

    op.drop_table("meal_subsidies")
    with op.batch_alter_table("meals", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_meals_subsidized",
            sqlite_where=sa.text("subsidized AND status = 'served'"),
            postgresql_where=sa.text("subsidized AND status = 'served'"),
        )
        batch_op.drop_index("ix_meals_point_day")
        batch_op.drop_index("ix_meals_diner_day")

    op.drop_table("meals")
    op.drop_table("meal_slots")
    op.drop_table("meal_day_closes")
    with op.batch_alter_table("funding_agreement_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_agreement_points_meal_point_id"))

    op.drop_table("funding_agreement_points")
    with op.batch_alter_table("diners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diners_phone_last4"))
        batch_op.drop_index(batch_op.f("ix_diners_home_point_id"))

    op.drop_table("diners")
    with op.batch_alter_table("meal_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meal_points_org_id"))

    op.drop_table("meal_points")
    with op.batch_alter_table("funding_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_agreements_partner_id"))

    op.drop_table("funding_agreements")
    op.drop_table("meal_categories")
