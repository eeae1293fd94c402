"""record_exports: exports of service records for the national volunteer information system,
the file kept encrypted (its key id in front, bound to the row) until taken once or expired

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = "record_exports"
AT = linli.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        T,
        sa.Column("id", ID, nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("requested_by", ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_enc", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("missing_identity", sa.Integer(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("built_at", AT, nullable=True),
        sa.Column("expires_at", AT, nullable=True),
        sa.Column("downloaded_at", AT, nullable=True),
        sa.Column("downloaded_by", ID, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'ready', 'failed', 'expired')", name=op.f(f"ck_{T}_status")
        ),
        sa.CheckConstraint("kind IN ('service_records')", name=op.f(f"ck_{T}_kind")),
        sa.CheckConstraint("format IN ('xlsx', 'csv')", name=op.f(f"ck_{T}_format")),
        sa.CheckConstraint("period_end >= period_start", name=op.f(f"ck_{T}_period")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff_users.id"], name=op.f(f"fk_{T}_requested_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["downloaded_by"], ["staff_users.id"], name=op.f(f"fk_{T}_downloaded_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{T}")),
    )
    with op.batch_alter_table(T) as batch:
        batch.create_index("ix_record_exports_county", ["org_path", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table(T) as batch:
        batch.drop_index("ix_record_exports_county")
    op.drop_table(T)
