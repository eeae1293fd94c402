"""attendances partitioned by month of checked_in_at on PostgreSQL (按月分区; SQLite unchanged),
their keys in `attendance_keys`

A partitioned table can only hold unique keys that contain the month. What must hold over all
months moves, on both engines, to the narrow table `attendance_keys (id primary key,
volunteer_id, checked_in_at, open)`: the id that scans, corrections, awards and service records
name (their foreign keys now name attendance_keys.id), and one open attendance per volunteer
(`uq_attendance_keys_open`, in place of `uq_attendances_open`). The database keeps it, by
triggers on attendances, so that no writer (the scan door's one-statement check-in, the ORM's
auto-close, an annulment, an offline rewind's delete) can forget it: an insert adds the key, a
change of state sets `open`, a delete removes it. A second open attendance fails its statement
on the key's unique index, as it failed on attendances' own before. On PostgreSQL attendances is
then partitioned by month of checked_in_at (set once, never changed; the month reports bound it),
primary key (id, checked_in_at), and the triggers are made on the partitioned table (PostgreSQL
gives every partition, present and future, its own).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import linli.db
from linli import partitions

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTENDANCES = next(s for s in partitions.TABLES if s.table == "attendances")
REFERRING = ("scans", "attendance_corrections", "point_awards", "record_late_entries")
KEYS = {
    "postgresql": [
        """CREATE FUNCTION attendance_keys_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            INSERT INTO attendance_keys (id, volunteer_id, checked_in_at, open)
            VALUES (NEW.id, NEW.volunteer_id, NEW.checked_in_at, NEW.state = 'open');
          ELSIF TG_OP = 'UPDATE' THEN
            UPDATE attendance_keys SET open = (NEW.state = 'open') WHERE id = NEW.id;
          ELSE
            DELETE FROM attendance_keys WHERE id = OLD.id;
          END IF;
          RETURN NULL;
        END $$""",
        """CREATE TRIGGER attendance_keys_kept AFTER INSERT OR DELETE OR UPDATE OF state
        ON attendances FOR EACH ROW EXECUTE FUNCTION attendance_keys_kept()""",
    ],
    "sqlite": [
        """CREATE TRIGGER attendance_keys_added AFTER INSERT ON attendances BEGIN
        INSERT INTO attendance_keys (id, volunteer_id, checked_in_at, open)
        VALUES (NEW.id, NEW.volunteer_id, NEW.checked_in_at, NEW.state = 'open'); END""",
        """CREATE TRIGGER attendance_keys_state AFTER UPDATE OF state ON attendances BEGIN
        UPDATE attendance_keys SET open = (NEW.state = 'open') WHERE id = NEW.id; END""",
        """CREATE TRIGGER attendance_keys_removed AFTER DELETE ON attendances BEGIN
        DELETE FROM attendance_keys WHERE id = OLD.id; END""",
    ],
}
DROP_KEYS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS attendance_keys_kept ON attendances",
        "DROP FUNCTION IF EXISTS attendance_keys_kept()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS attendance_keys_added",
        "DROP TRIGGER IF EXISTS attendance_keys_state",
        "DROP TRIGGER IF EXISTS attendance_keys_removed",
    ],
}


def _run(statements: dict) -> None:
    for statement in statements[op.get_bind().dialect.name]:
        op.execute(statement)


def _point(table: str, old: str, new: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"fk_{table}_attendance_id_{old}", type_="foreignkey")
        batch.create_foreign_key(f"fk_{table}_attendance_id_{new}", new, ["attendance_id"], ["id"])


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "attendance_keys",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checked_in_at", linli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_keys")),
    )
    op.execute(
        "INSERT INTO attendance_keys (id, volunteer_id, checked_in_at, open) "
        "SELECT id, volunteer_id, checked_in_at, state = 'open' FROM attendances"
    )
    op.create_index(
        "uq_attendance_keys_open",
        "attendance_keys",
        ["volunteer_id"],
        unique=True,
        sqlite_where=sa.text("open = 1"),
        postgresql_where=sa.text("open"),
    )
    for table in REFERRING:
        _point(table, "attendances", "attendance_keys")
    with op.batch_alter_table("attendances") as batch:
        batch.drop_index("uq_attendances_open")
    if conn.dialect.name == "postgresql":
        today = datetime.now(UTC).astimezone(partitions.TZ).date()
        partitions.partition(conn, ATTENDANCES, today=today)
    _run(KEYS)


def downgrade() -> None:
    conn = op.get_bind()
    _run(DROP_KEYS)
    if conn.dialect.name == "postgresql":
        partitions.unpartition(conn, ATTENDANCES)
    with op.batch_alter_table("attendances") as batch:
        batch.create_index(
            "uq_attendances_open",
            ["volunteer_id"],
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )
    for table in REFERRING:
        _point(table, "attendance_keys", "attendances")
    op.drop_index("uq_attendance_keys_open", table_name="attendance_keys")
    op.drop_table("attendance_keys")
