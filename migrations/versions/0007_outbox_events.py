"""outbox: rows name the event that happened, not the worker function that follows it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# every function an outbox row could name before, and its event (workers.registry)
EVENTS = {
    "workers.jobs.send_login_code": "login_code.issued",
    "workers.jobs.make_card_sheet": "card_sheet.requested",
    "workers.jobs.attendance_closed": "attendance.closed",
    "workers.jobs.attendance_corrected": "attendance.corrected",
    "workers.jobs.meal_delivered": "meal.delivered",
    "workers.jobs.meal_delivery_undone": "meal.delivery_undone",
    "workers.jobs.notify_points_expiring": "points.expiring",
    "workers.jobs.build_report": "report.requested",
    "workers.jobs.notify_partner": "report.ready",
}


def _rename(old: str, new: str, mapping: dict[str, str]) -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(old, new_column_name=new)
    for before, after in mapping.items():
        op.execute(f"UPDATE outbox SET {new} = '{after}' WHERE {new} = '{before}'")


def upgrade() -> None:
    _rename("func", "event", EVENTS)


def downgrade() -> None:
    _rename("event", "func", {event: func for func, event in EVENTS.items()})
