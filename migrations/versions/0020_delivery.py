"""delivery: activities linked to granted projects (with who/when, unlinks kept), the people
an activity served (counts entered with history and an optional photo; diner cards scanned, once
per diner), and the meal points whose meals count for a project

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 01:31:40
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import linli.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grant_activity_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("linked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("linked_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unlinked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("unlinked_at", linli.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_grant_activity_links_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"], ["staff_users.id"], name=op.f("fk_grant_activity_links_linked_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["grant_projects.id"],
            name=op.f("fk_grant_activity_links_project_id_grant_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["unlinked_by"], ["staff_users.id"], name=op.f("fk_grant_activity_links_unlinked_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_activity_links")),
    )
    with op.batch_alter_table("grant_activity_links", schema=None) as batch_op:
        batch_op.create_index("ix_grant_activity_links_project", ["project_id"], unique=False)
        batch_op.create_index(
            "uq_grant_activity_links_live",
            ["activity_id"],
            unique=True,
            sqlite_where=sa.text("unlinked_at IS NULL"),
            postgresql_where=sa.text("unlinked_at IS NULL"),
        )

    op.create_table(
        "grant_project_meal_points",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meal_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("added_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("added_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"], ["staff_users.id"], name=op.f("fk_grant_project_meal_points_added_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["meal_point_id"],
            ["meal_points.id"],
            name=op.f("fk_grant_project_meal_points_meal_point_id_meal_points"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["grant_projects.id"],
            name=op.f("fk_grant_project_meal_points_project_id_grant_projects"),
        ),
        sa.PrimaryKeyConstraint("project_id", "meal_point_id", name=op.f("pk_grant_project_meal_points")),
    )
    with op.batch_alter_table("grant_project_meal_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_grant_project_meal_points_meal_point_id"), ["meal_point_id"], unique=False
        )

    op.create_table(
        "grant_served_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("photo_type", sa.String(length=30), nullable=True),
        sa.Column("photo_size", sa.Integer(), nullable=True),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("entered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entered_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "photo_type IS NULL OR photo_type IN ('image/jpeg', 'image/png')",
            name=op.f("ck_grant_served_counts_photo_type"),
        ),
        sa.CheckConstraint("count BETWEEN 0 AND 100000", name=op.f("ck_grant_served_counts_count")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_grant_served_counts_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["staff_users.id"], name=op.f("fk_grant_served_counts_entered_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_served_counts")),
    )
    with op.batch_alter_table("grant_served_counts", schema=None) as batch_op:
        batch_op.create_index("ix_grant_served_counts_activity", ["activity_id", "id"], unique=False)

    op.create_table(
        "grant_served_scans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("diner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scanned_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scanned_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_grant_served_scans_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["diner_id"], ["diners.id"], name=op.f("fk_grant_served_scans_diner_id_diners")
        ),
        sa.ForeignKeyConstraint(
            ["scanned_by"], ["staff_users.id"], name=op.f("fk_grant_served_scans_scanned_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_served_scans")),
        sa.UniqueConstraint(
            "activity_id", "diner_id", name=op.f("uq_grant_served_scans_activity_id_diner_id")
        ),
    )
    with op.batch_alter_table("grant_served_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_served_scans_diner_id"), ["diner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("grant_served_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_served_scans_diner_id"))

    op.drop_table("grant_served_scans")
    with op.batch_alter_table("grant_served_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_served_counts_activity")

    op.drop_table("grant_served_counts")
    with op.batch_alter_table("grant_project_meal_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_project_meal_points_meal_point_id"))

    op.drop_table("grant_project_meal_points")
    with op.batch_alter_table("grant_activity_links", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_grant_activity_links_live",
            sqlite_where=sa.text("unlinked_at IS NULL"),
            postgresql_where=sa.text("unlinked_at IS NULL"),
        )
        batch_op.drop_index("ix_grant_activity_links_project")

    op.drop_table("grant_activity_links")
