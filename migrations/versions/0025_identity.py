"""identity: volunteers' identity numbers stored encrypted (type, value, key id) beside the keyed
hash; the export grant `records_export` among the roles

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "coordinator", "partner")
NEW_ROLES = (*ROLES, "records_export")


def _roles(roles) -> str:
    return "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")"


def upgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch:
        batch.add_column(sa.Column("id_type", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("id_number_enc", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("id_key_id", sa.String(length=20), nullable=True))
        batch.create_index(batch.f("ix_volunteers_id_key_id"), ["id_key_id"], unique=False)
    with op.batch_alter_table("role_grants", schema=None) as batch:
        batch.drop_constraint(op.f("ck_role_grants_role"), type_="check")
        batch.create_check_constraint("role", _roles(NEW_ROLES))


def downgrade() -> None:
    op.execute("DELETE FROM role_grants WHERE role = 'records_export'")
    with op.batch_alter_table("role_grants", schema=None) as batch:
        batch.drop_constraint(op.f("ck_role_grants_role"), type_="check")
        batch.create_check_constraint("role", _roles(ROLES))
    with op.batch_alter_table("volunteers", schema=None) as batch:
        batch.drop_index(batch.f("ix_volunteers_id_key_id"))
        batch.drop_column("id_key_id")
        batch.drop_column("id_number_enc")
        batch.drop_column("id_type")
