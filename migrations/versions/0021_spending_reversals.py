"""grant_spending_reversals: a spending recorded by mistake, reversed by the round's hub with a
reason (the money ledger's reversal transfer; a spending reversed at most once)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = "grant_spending_reversals"


def upgrade() -> None:
    op.create_table(
        T,
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("spending_id", ID, nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f(f"fk_{T}_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["grant_projects.id"], name=op.f(f"fk_{T}_project_id_grant_projects")
        ),
        sa.ForeignKeyConstraint(
            ["spending_id"], ["grant_spendings.id"], name=op.f(f"fk_{T}_spending_id_grant_spendings")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["ledger_transfers.id"], name=op.f(f"fk_{T}_transfer_id_ledger_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{T}")),
        sa.UniqueConstraint("spending_id", name=op.f(f"uq_{T}_spending_id")),
        sa.UniqueConstraint("transfer_id", name=op.f(f"uq_{T}_transfer_id")),
    )
    with op.batch_alter_table(T) as batch:
        batch.create_index(batch.f(f"ix_{T}_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table(T) as batch:
        batch.drop_index(batch.f(f"ix_{T}_project_id"))
    op.drop_table(T)
