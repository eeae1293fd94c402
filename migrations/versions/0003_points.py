"""points: ledger accounts, transfers, lots, rules, awards, star levels, checks, shop, commendations, certificates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:18:14.946415
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

# Transfers are append-only: the database itself refuses to change or remove one.
APPEND_ONLY = {
    "postgresql": [
        """CREATE FUNCTION ledger_transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ledger_transfers is append-only: % refused', TG_OP; END $$""",
        """CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
        FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only()""",
        """CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
        BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only: UPDATE refused'); END""",
        """CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
        BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only: DELETE refused'); END""",
    ],
}
DROP_APPEND_ONLY = {
    "postgresql": [
        "DROP TRIGGER ledger_transfers_no_truncate ON ledger_transfers",
        "DROP TRIGGER ledger_transfers_append_only ON ledger_transfers",
        "DROP FUNCTION ledger_transfers_append_only()",
    ],
    "sqlite": ["DROP TRIGGER ledger_transfers_no_update", "DROP TRIGGER ledger_transfers_no_delete"],
}


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_checks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("started_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checks")),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("holder_name", sa.String(length=40), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("issued_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('commendation', 'service_record')", name=op.f("ck_certificates_kind")),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_certificates_hub_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_certificates_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "commendation_rounds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("confirmed_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "period IN ('month', 'quarter', 'year')", name=op.f("ck_commendation_rounds_period")
        ),
        sa.CheckConstraint("status IN ('proposed', 'confirmed')", name=op.f("ck_commendation_rounds_status")),
        sa.CheckConstraint("bonus_points >= 0", name=op.f("ck_commendation_rounds_bonus_points")),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["staff_users.id"], name=op.f("fk_commendation_rounds_confirmed_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_commendation_rounds_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_commendation_rounds_hub_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commendation_rounds")),
    )
    with op.batch_alter_table("commendation_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commendation_rounds_hub_id"), ["hub_id"], unique=False)

    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("ledger", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("no_overdraft", sa.Boolean(), nullable=False),
        sa.Column("has_lots", sa.Boolean(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ledger IN ('service_minutes', 'points')", name=op.f("ck_ledger_accounts_ledger")),
        sa.CheckConstraint(
            "NOT no_overdraft OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_ledger_accounts_no_overdraft"),
        ),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_ledger_accounts_hub_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_ledger_accounts_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_accounts_key")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_accounts_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "points_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("points_per_hour", sa.JSON(), nullable=False),
        sa.Column("rounding_minutes", sa.Integer(), nullable=False),
        sa.Column("minimum_minutes", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("campaigns", sa.JSON(), nullable=False),
        sa.Column("delivery_points", sa.Integer(), nullable=False),
        sa.Column("expiry_years", sa.Integer(), nullable=True),
        sa.Column("star_hours", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rounding_minutes >= 1 AND minimum_minutes >= 0 AND daily_cap >= 0",
            name=op.f("ck_points_rules_limits"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_points_rules_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_points_rules_hub_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rules")),
        sa.UniqueConstraint("hub_id", "version", name=op.f("uq_points_rules_hub_id_version")),
    )
    op.create_table(
        "shop_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("per_volunteer_limit", sa.Integer(), nullable=False),
        sa.Column("limit_period", sa.String(length=10), nullable=False),
        sa.Column("visible_from", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("visible_until", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "limit_period IN ('day', 'week', 'month', 'year', 'ever')",
            name=op.f("ck_shop_items_limit_period"),
        ),
        sa.CheckConstraint("per_volunteer_limit >= 0", name=op.f("ck_shop_items_per_volunteer_limit")),
        sa.CheckConstraint("price > 0", name=op.f("ck_shop_items_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_shop_items_stock")),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_shop_items_hub_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_items")),
    )
    with op.batch_alter_table("shop_items", schema=None) as batch_op:
        batch_op.create_index("ix_shop_items_hub", ["hub_id"], unique=False)

    op.create_table(
        "star_levels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reached_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_star_levels_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_levels")),
        sa.UniqueConstraint("volunteer_id", "level", name=op.f("uq_star_levels_volunteer_id_level")),
    )
    op.create_table(
        "commendations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'removed', 'confirmed')", name=op.f("ck_commendations_status")
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_commendations_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_commendations_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["commendation_rounds.id"],
            name=op.f("fk_commendations_round_id_commendation_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_commendations_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commendations")),
        sa.UniqueConstraint("round_id", "volunteer_id", name=op.f("uq_commendations_round_id_volunteer_id")),
    )
    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commendations_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "ledger_transfers",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("ledger", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("debit_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("credit_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.String(length=100), nullable=True),
        sa.Column("expires_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("corrects_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind IN ('post', 'void', 'expire')) = (pending_id IS NOT NULL)",
            name=op.f("ck_ledger_transfers_pending_id"),
        ),
        sa.CheckConstraint(
            "kind = 'pending' OR expires_at IS NULL", name=op.f("ck_ledger_transfers_expires_at")
        ),
        sa.CheckConstraint(
            "kind IN ('single', 'pending', 'post', 'void', 'expire')", name=op.f("ck_ledger_transfers_kind")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_amount")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_ledger_transfers_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_ledger_transfers_corrects_id_ledger_transfers"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_ledger_transfers_pending_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transfers_id")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_transfers_credit", ["credit_account_id", "seq"], unique=False)
        batch_op.create_index("ix_ledger_transfers_debit", ["debit_account_id", "seq"], unique=False)
        batch_op.create_index(
            "ix_ledger_transfers_pending_expiry",
            ["expires_at"],
            unique=False,
            sqlite_where=sa.text("expires_at IS NOT NULL"),
            postgresql_where=sa.text("expires_at IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_ledger_transfers_pending_id",
            ["pending_id"],
            unique=True,
            sqlite_where=sa.text("pending_id IS NOT NULL"),
            postgresql_where=sa.text("pending_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_ledger_transfers_reversal",
            ["corrects_id"],
            unique=True,
            sqlite_where=sa.text("reason = 'reversal'"),
            postgresql_where=sa.text("reason = 'reversal'"),
        )

    op.create_table(
        "shop_orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "status IN ('reserved', 'fulfilled', 'cancelled', 'expired')", name=op.f("ck_shop_orders_status")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shop_orders_quantity")),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_shop_orders_hub_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["shop_items.id"], name=op.f("fk_shop_orders_item_id_shop_items")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["staff_users.id"], name=op.f("fk_shop_orders_resolved_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_shop_orders_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_orders")),
        sa.UniqueConstraint("request_id", name=op.f("uq_shop_orders_request_id")),
    )
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.create_index("ix_shop_orders_status_expires", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "ix_shop_orders_volunteer_item", ["volunteer_id", "item_id", "created_at"], unique=False
        )

    op.create_table(
        "point_lots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name=op.f("ck_point_lots_remaining")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_point_lots_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["ledger_transfers.id"], name=op.f("fk_point_lots_transfer_id_ledger_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_lots")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_point_lots_transfer_id")),
    )
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.create_index("ix_point_lots_account_open", ["account_id", "expires_at", "id"], unique=False)

    op.create_table(
        "point_awards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hub_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("attendance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('service', 'adjustment', 'manual', 'delivery', 'commendation')",
            name=op.f("ck_point_awards_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["attendance_id"], ["attendances.id"], name=op.f("fk_point_awards_attendance_id_attendances")
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["organizations.id"], name=op.f("fk_point_awards_hub_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["points_rules.id"], name=op.f("fk_point_awards_rule_id_points_rules")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_point_awards_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_awards")),
        sa.UniqueConstraint("key", name=op.f("uq_point_awards_key")),
    )
    with op.batch_alter_table("point_awards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_point_awards_attendance_id"), ["attendance_id"], unique=False)
        batch_op.create_index("ix_point_awards_volunteer_day", ["volunteer_id", "day"], unique=False)

    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("point_awards", schema=None) as batch_op:
        batch_op.drop_index("ix_point_awards_volunteer_day")
        batch_op.drop_index(batch_op.f("ix_point_awards_attendance_id"))

    op.drop_table("point_awards")
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_account_open")

    op.drop_table("point_lots")
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_orders_volunteer_item")
        batch_op.drop_index("ix_shop_orders_status_expires")

    op.drop_table("shop_orders")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ledger_transfers_reversal",
            sqlite_where=sa.text("reason = 'reversal'"),
            postgresql_where=sa.text("reason = 'reversal'"),
        )
        batch_op.drop_index(
            "uq_ledger_transfers_pending_id",
            sqlite_where=sa.text("pending_id IS NOT NULL"),
            postgresql_where=sa.text("pending_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_ledger_transfers_pending_expiry",
            sqlite_where=sa.text("expires_at IS NOT NULL"),
            postgresql_where=sa.text("expires_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_ledger_transfers_debit")
        batch_op.drop_index("ix_ledger_transfers_credit")

    op.drop_table("ledger_transfers")
    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commendations_volunteer_id"))

    op.drop_table("commendations")
    op.drop_table("star_levels")
    with op.batch_alter_table("shop_items", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_items_hub")

    op.drop_table("shop_items")
    op.drop_table("points_rules")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_volunteer_id"))

    op.drop_table("ledger_accounts")
    with op.batch_alter_table("commendation_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commendation_rounds_hub_id"))

    op.drop_table("commendation_rounds")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_volunteer_id"))

    op.drop_table("certificates")
    op.drop_table("ledger_checks")
