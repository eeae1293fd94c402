"""records: a volunteer's training and evaluations, and entries made more than 20 days after the
activity, marked late with who and why (service records, 志愿服务记录)

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0023"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = linli.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, other: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{other}.id"], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    t = "record_trainings"
    op.create_table(
        t,
        sa.Column("id", ID, nullable=False),
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_by", ID, nullable=False),
        sa.Column("recorded_at", AT, nullable=False),
        sa.CheckConstraint("minutes > 0", name=op.f(f"ck_{t}_minutes")),
        _fk(t, "volunteer_id", "volunteers"),
        _fk(t, "org_id", "organizations"),
        _fk(t, "recorded_by", "staff_users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index("ix_record_trainings_volunteer", t, ["volunteer_id", "day"], unique=False)
    t = "record_evaluations"
    op.create_table(
        t,
        sa.Column("id", ID, nullable=False),
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("evaluated_by", ID, nullable=False),
        sa.Column("evaluated_at", AT, nullable=False),
        sa.CheckConstraint("rating IN ('excellent', 'good', 'pass', 'fail')", name=op.f(f"ck_{t}_rating")),
        sa.CheckConstraint("period_start <= period_end", name=op.f(f"ck_{t}_period")),
        _fk(t, "volunteer_id", "volunteers"),
        _fk(t, "org_id", "organizations"),
        _fk(t, "evaluated_by", "staff_users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index("ix_record_evaluations_volunteer", t, ["volunteer_id", "period_end"], unique=False)
    t = "record_late_entries"
    op.create_table(
        t,
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", ID, nullable=False),
        sa.Column("volunteer_id", ID, nullable=False),
        sa.Column("attendance_id", ID, nullable=True),
        sa.Column("activity_day", sa.Date(), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("entered_by", ID, nullable=False),
        sa.Column("entered_at", AT, nullable=False),
        sa.CheckConstraint(
            "kind IN ('correction', 'annulment', 'manual_hours', 'training')", name=op.f(f"ck_{t}_kind")
        ),
        _fk(t, "volunteer_id", "volunteers"),
        _fk(t, "attendance_id", "attendances"),
        _fk(t, "entered_by", "staff_users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index("ix_record_late_entries_volunteer", t, ["volunteer_id"], unique=False)
    op.create_index(op.f(f"ix_{t}_attendance_id"), t, ["attendance_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_record_late_entries_attendance_id"), table_name="record_late_entries")
    op.drop_index("ix_record_late_entries_volunteer", table_name="record_late_entries")
    op.drop_table("record_late_entries")
    op.drop_index("ix_record_evaluations_volunteer", table_name="record_evaluations")
    op.drop_table("record_evaluations")
    op.drop_index("ix_record_trainings_volunteer", table_name="record_trainings")
    op.drop_table("record_trainings")
