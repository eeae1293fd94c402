"""scans partitioned by month on PostgreSQL (按月分区; SQLite keeps one table), scan ids in scan_keys

A scan id (the client's UUID) must be recognised forever, and a partitioned table keeps a key
unique only if the key holds the partition key. So every scan id moves to `scan_keys (scan_id
primary key, effective_at)`, on both engines (one way to store a scan), filled here from the
scans; `scans.scan_id` becomes a plain index with a foreign key to it. On PostgreSQL `scans` is
then partitioned by month of `effective_at` (the time the scan was judged as of: set once, never
changed, and what every reader bounds), primary key (id, effective_at).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from linli import partitions
from linli.db import UTCDateTime

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCANS = next(spec for spec in partitions.TABLES if spec.table == "scans")


def upgrade() -> None:
    op.create_table(
        "scan_keys",
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_scan_keys")),
    )
    op.execute("INSERT INTO scan_keys (scan_id, effective_at) SELECT scan_id, effective_at FROM scans")
    with op.batch_alter_table("scans") as batch:
        batch.drop_constraint("uq_scans_scan_id", type_="unique")
        batch.create_index("ix_scans_scan_id", ["scan_id"])
        batch.create_foreign_key("fk_scans_scan_id_scan_keys", "scan_keys", ["scan_id"], ["scan_id"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        today = datetime.now(UTC).astimezone(partitions.TZ).date()
        partitions.partition(conn, SCANS, today=today)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        partitions.unpartition(conn, SCANS)
    with op.batch_alter_table("scans") as batch:
        batch.drop_constraint("fk_scans_scan_id_scan_keys", type_="foreignkey")
        batch.drop_index("ix_scans_scan_id")
        batch.create_unique_constraint("uq_scans_scan_id", ["scan_id"])
    op.drop_table("scan_keys")
