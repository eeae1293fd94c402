"""record_certificates: service-record certificates (志愿服务记录证明) as issued, a snapshot with
the ID masked (type and last four), revocable with a reason

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = "record_certificates"


def upgrade() -> None:
    op.create_table(
        T,
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("total_minutes", sa.Integer(), nullable=False),
        sa.Column("holder_name", sa.String(length=50), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_last4", sa.String(length=4), nullable=False),
        sa.Column("volunteer_number", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("person_in_charge", sa.String(length=50), nullable=False),
        sa.Column("handler", sa.String(length=50), nullable=False),
        sa.Column("contact", sa.String(length=40), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("issued_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=200), nullable=True),
        sa.Column("revoked_by", ID, nullable=True),
        sa.CheckConstraint("total_minutes >= 0", name=op.f(f"ck_{T}_total_minutes")),
        sa.CheckConstraint("period_end >= period_start", name=op.f(f"ck_{T}_period")),
        sa.CheckConstraint(
            "(revoked_at IS NULL AND revoke_reason IS NULL) OR (revoked_at IS NOT NULL AND revoke_reason IS NOT NULL)",
            name=op.f(f"ck_{T}_revoked"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f(f"fk_{T}_volunteer_id_volunteers")
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f(f"fk_{T}_org_id_organizations")),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["staff_users.id"], name=op.f(f"fk_{T}_revoked_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{T}")),
    )
    with op.batch_alter_table(T) as batch:
        batch.create_index(batch.f(f"ix_{T}_volunteer_id"), ["volunteer_id"], unique=False)
        batch.create_index(batch.f(f"ix_{T}_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table(T) as batch:
        batch.drop_index(batch.f(f"ix_{T}_org_id"))
        batch.drop_index(batch.f(f"ix_{T}_volunteer_id"))
    op.drop_table(T)
