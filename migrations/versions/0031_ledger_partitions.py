"""ledger_transfers partitioned by month of created_at on PostgreSQL (按月分区; SQLite unchanged),
its keys in `transfer_ids`

A partitioned table can only hold unique keys that contain the month, and the ledger's must hold
over all months: the same cause posts once (`id`), a pending transfer is resolved once
(`pending_id`), a transfer has one reversal at most. They move, on both engines, to the new narrow
table `transfer_ids` (id primary key, pending_id unique, reverses_id unique), written in the same
transaction as each transfer, and every foreign key that named ledger_transfers.id (pending_id,
corrects_id, point_lots and the grant money tables) names transfer_ids.id. On PostgreSQL
ledger_transfers is then partitioned by month of created_at, primary key (seq, created_at); its
append-only triggers are made again on the new table.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 08:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import linli.db
from linli import partitions

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER = next(s for s in partitions.TABLES if s.table == "ledger_transfers")
REFERRING = ("point_lots", "grant_tranches", "grant_spendings", "grant_spending_reversals")
APPEND_ONLY = {
    "postgresql": [
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
        "DROP TRIGGER IF EXISTS ledger_transfers_no_truncate ON ledger_transfers",
        "DROP TRIGGER IF EXISTS ledger_transfers_append_only ON ledger_transfers",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS ledger_transfers_no_update",
        "DROP TRIGGER IF EXISTS ledger_transfers_no_delete",
    ],
}


def _triggers(statements: dict) -> None:
    for statement in statements[op.get_bind().dialect.name]:
        op.execute(statement)


def _point(table: str, column: str, old: str, new: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"fk_{table}_{column}_{old}", type_="foreignkey")
        batch.create_foreign_key(f"fk_{table}_{column}_{new}", new, [column], ["id"])


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "transfer_ids",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("pending_id", sa.String(length=100), nullable=True),
        sa.Column("reverses_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["transfer_ids.id"], name=op.f("fk_transfer_ids_pending_id_transfer_ids")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["transfer_ids.id"], name=op.f("fk_transfer_ids_reverses_id_transfer_ids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_ids")),
        sa.UniqueConstraint("pending_id", name=op.f("uq_transfer_ids_pending_id")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_transfer_ids_reverses_id")),
    )
    op.execute(
        "INSERT INTO transfer_ids (id, pending_id, reverses_id, created_at) "
        "SELECT id, pending_id, CASE WHEN reason = 'reversal' THEN corrects_id END, created_at "
        "FROM ledger_transfers ORDER BY seq"
    )
    for table in REFERRING:
        _point(table, "transfer_id", "ledger_transfers", "transfer_ids")
    _triggers(DROP_APPEND_ONLY)  # SQLite's batch copies the table; PostgreSQL's rebuild drops it
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.drop_constraint("fk_ledger_transfers_pending_id_ledger_transfers", type_="foreignkey")
        batch.drop_constraint("fk_ledger_transfers_corrects_id_ledger_transfers", type_="foreignkey")
        batch.drop_constraint("uq_ledger_transfers_id", type_="unique")
        batch.drop_index("uq_ledger_transfers_pending_id")
        batch.drop_index("uq_ledger_transfers_reversal")
        for column in ("id", "pending_id", "corrects_id"):
            batch.create_foreign_key(
                f"fk_ledger_transfers_{column}_transfer_ids", "transfer_ids", [column], ["id"]
            )
        batch.create_index("ix_ledger_transfers_id", ["id"])
        batch.create_index(
            "ix_ledger_transfers_pending_id",
            ["pending_id"],
            sqlite_where=sa.text("pending_id IS NOT NULL"),
            postgresql_where=sa.text("pending_id IS NOT NULL"),
        )
    if conn.dialect.name == "postgresql":
        today = datetime.now(UTC).astimezone(partitions.TZ).date()
        partitions.partition(conn, LEDGER, today=today)
    _triggers(APPEND_ONLY)


def downgrade() -> None:
    conn = op.get_bind()
    _triggers(DROP_APPEND_ONLY)
    if conn.dialect.name == "postgresql":
        partitions.unpartition(conn, LEDGER)
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.drop_index("ix_ledger_transfers_pending_id")
        batch.drop_index("ix_ledger_transfers_id")
        for column in ("id", "pending_id", "corrects_id"):
            batch.drop_constraint(f"fk_ledger_transfers_{column}_transfer_ids", type_="foreignkey")
        batch.create_unique_constraint("uq_ledger_transfers_id", ["id"])
        batch.create_index(
            "uq_ledger_transfers_pending_id",
            ["pending_id"],
            unique=True,
            sqlite_where=sa.text("pending_id IS NOT NULL"),
            postgresql_where=sa.text("pending_id IS NOT NULL"),
        )
        batch.create_index(
            "uq_ledger_transfers_reversal",
            ["corrects_id"],
            unique=True,
            sqlite_where=sa.text("reason = 'reversal'"),
            postgresql_where=sa.text("reason = 'reversal'"),
        )
    with op.batch_alter_table("ledger_transfers") as batch:
        for column in ("pending_id", "corrects_id"):
            batch.create_foreign_key(
                f"fk_ledger_transfers_{column}_ledger_transfers", "ledger_transfers", [column], ["id"]
            )
    _triggers(APPEND_ONLY)
    for table in REFERRING:
        _point(table, "transfer_id", "transfer_ids", "ledger_transfers")
    op.drop_table("transfer_ids")
