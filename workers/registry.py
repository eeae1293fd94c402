"""What follows what happened (事件登记): the one table from an outbox event to its job.

Domains emit events by name (`linli.outbox.emit(event="attendance.closed", ...)`), in the past
tense, and never name a function of the workers; the relay looks the job up here when it moves a
committed event to RQ. A new event needs one line here; a test checks that every event a domain
emits is in this table.
"""

from __future__ import annotations

from collections.abc import Callable

from workers import jobs

JOBS: dict[str, Callable] = {
    "login_code.issued": jobs.send_login_code,
    "volunteer.id_number_reused": jobs.notify_id_number_reused,
    "card_sheet.requested": jobs.make_card_sheet,
    "attendance.closed": jobs.attendance_closed,
    "attendance.corrected": jobs.attendance_corrected,
    "attendance.reviewed": jobs.attendance_reviewed,
    "meal.delivered": jobs.meal_delivered,
    "meal.delivery_undone": jobs.meal_delivery_undone,
    "notice.created": jobs.send_notice,
    "report.requested": jobs.build_report,
    "report.ready": jobs.notify_partner,
    "identity_keys.rotation_requested": jobs.rotate_identity_keys,
    "record_export.requested": jobs.build_record_export,
}

# Events whose arguments are a secret (a login code): kept only until they are delivered. The
# relay blanks the outbox row's arguments once RQ has the job, RQ drops the job when it succeeds,
# and keeps a failed one only as long as the code lives.
SECRET = {"login_code.issued"}
