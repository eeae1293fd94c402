"""grant_money: a third ledger (fen) for granted projects' money in custody (资金代管), and the
rows of its tranches (grant_tranches) and spendings (grant_spendings, with their receipts)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEDGERS_BEFORE = "ledger IN ('service_minutes', 'points')"
LEDGERS_AFTER = "ledger IN ('service_minutes', 'points', 'grant_money')"


def _ledgers(check: str) -> None:
    # SQLite cannot change a CHECK in place: batch mode copies the table (no foreign keys are
    # enforced on the migration's connection, and ledger_accounts has no triggers of its own)
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.drop_constraint(op.f("ck_ledger_accounts_ledger"), type_="check")
        batch.create_check_constraint(op.f("ck_ledger_accounts_ledger"), check)


def upgrade() -> None:
    _ledgers(LEDGERS_AFTER)
    op.create_table(
        "grant_tranches",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_grant_tranches_amount")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_grant_tranches_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["grant_projects.id"], name=op.f("fk_grant_tranches_project_id_grant_projects")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_grant_tranches_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_tranches")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_grant_tranches_project_id_key")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_grant_tranches_transfer_id")),
    )
    with op.batch_alter_table("grant_tranches") as batch:
        batch.create_index(batch.f("ix_grant_tranches_project_id"), ["project_id"], unique=False)
    op.create_table(
        "grant_spendings",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("receipt_type", sa.String(length=30), nullable=False),
        sa.Column("receipt_size", sa.Integer(), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_grant_spendings_amount")),
        sa.CheckConstraint(
            "category IN ('materials', 'transport', 'meals', 'publicity', 'labour', 'other')",
            name=op.f("ck_grant_spendings_category"),
        ),
        sa.CheckConstraint(
            "receipt_type IN ('image/jpeg', 'image/png', 'application/pdf')",
            name=op.f("ck_grant_spendings_receipt_type"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_grant_spendings_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["grant_projects.id"], name=op.f("fk_grant_spendings_project_id_grant_projects")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_grant_spendings_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_spendings")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_grant_spendings_project_id_key")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_grant_spendings_transfer_id")),
    )
    with op.batch_alter_table("grant_spendings") as batch:
        batch.create_index(batch.f("ix_grant_spendings_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_table("grant_spendings")
    op.drop_table("grant_tranches")
    # the money ledger's accounts and transfers go first: the narrower CHECK would refuse them
    ledger_transfers = sa.table("ledger_transfers", sa.column("ledger"))
    ledger_accounts = sa.table("ledger_accounts", sa.column("ledger"))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_append_only")
        op.execute(ledger_transfers.delete().where(ledger_transfers.c.ledger == "grant_money"))
        op.execute("ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_append_only")
    else:
        op.execute("DROP TRIGGER ledger_transfers_no_delete")
        op.execute(ledger_transfers.delete().where(ledger_transfers.c.ledger == "grant_money"))
        op.execute(
            """CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
        BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only: DELETE refused'); END"""
        )
    op.execute(ledger_accounts.delete().where(ledger_accounts.c.ledger == "grant_money"))
    _ledgers(LEDGERS_BEFORE)
