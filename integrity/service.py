"""The subsidy defence (防造假), in the order a scan meets it (docs/integrity.md):

- who was online when (`heard`): every staff device's scans and counter views mark the minute;
- an offline scan accepted by the door is paid automatically only if it arrives within the hub's
  grace after its slot or activity ended, and its device was not heard from online between the
  scan's claimed time and its upload (`judge_offline`); otherwise it is held: its meal's subsidy
  reserved and not reported, its attendance earning nothing;
- a hub admin approves or rejects a hold (`decide`); anomalies that hold nothing are flagged by
  the day's sweep (`integrity.detect`) and dismissed once looked at;
- sensitive acts are audited (`audit`): printing a diner's card, deciding a hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from integrity import repository
from integrity.models import AuditEntry, IntegrityFlag, IntegritySettings
from linli import scope
from linli.errors import FieldError, conflict, forbidden, invalid, not_found
from meals import counter, counter_day
from orgs import service as orgs_service
from volunteer import activities
from volunteer import attendance as attendances

GRACE_MINUTES = 180  # a hub's default: an offline meal uploaded within 3 h of its slot's end is paid
GRACE_RANGE = (0, 1440)
# a scan claimed for a moment, then the device talked to the server online more than this later,
# and only then uploaded the scan: it was not made offline (a tablet uploads as soon as it is back)
ONLINE_MARGIN = timedelta(minutes=2)
NOTE_MAX = 200

_heard: dict[tuple[int, int], datetime] = {}  # (runtime, staff user) → the minute last written


def heard(rt, staff_user_id: int | None, now: datetime, session: Session | None = None) -> None:
    """Mark the minute in which a staff member's device talked to the server online (written once
    a minute per staff member and process), in the request's `session` if it has one."""
    if staff_user_id is None:
        return
    minute = now.replace(second=0, microsecond=0)
    key = (id(rt), staff_user_id)
    if _heard.get(key) == minute:
        return
    if session is not None:
        repository.add_presence(session, staff_user_id, minute)
    else:
        with rt.tx() as own:
            repository.add_presence(own, staff_user_id, minute)
    _heard[key] = minute


def grace(session: Session, path: str) -> timedelta:
    minutes = repository.grace_minutes(session, path)
    return timedelta(minutes=GRACE_MINUTES if minutes is None else minutes)


def offline_reason(
    session: Session,
    staff_user_id: int | None,
    claimed_at: datetime,
    ended_at: datetime,
    received_at: datetime,
    path: str,
) -> str | None:
    """Why an accepted offline scan is held, or None if it is paid automatically."""
    if staff_user_id is not None and repository.heard_between(
        session, staff_user_id, claimed_at + ONLINE_MARGIN, received_at - ONLINE_MARGIN
    ):
        return "device_online"
    if received_at > ended_at + grace(session, path):
        return "late_upload"
    return None


def judge_offline(
    session: Session, device, result: dict, *, claimed_at: datetime, received_at: datetime, tz
) -> dict:
    """An accepted scan from an offline batch: paid as usual, or held for a hub's review. Returns
    what the answer adds (`held`, `hold_reason`, `hold_id`)."""
    if result["outcome"] == "meal_served":
        meal_id = result["meal"]["id"]
        ended_at, path = counter.slot_end(session, meal_id, tz)
        subject = f"meal:{meal_id}"
    elif result["outcome"] in ("checked_in", "checked_out"):
        activity = activities.get(session, result["activity"]["id"])
        ended_at, path = activity.ends_at, orgs_service.get(session, activity.org_id).path
        subject = f"attendance:{result['attendance_id']}"
    else:
        return {}
    reason = offline_reason(session, device.staff_user_id, claimed_at, ended_at, received_at, path)
    if reason is None:
        return {}
    existing = repository.held_flag(session, subject)
    if existing is not None:  # a check-out of an attendance held at its check-in
        return {"held": True, "hold_reason": existing.kind, "hold_id": existing.id}
    if subject.startswith("meal:"):
        counter_day.hold(session, result["meal"]["id"])
        result["meal"]["status"] = "held"
    else:
        attendances.hold(session, result["attendance_id"], reason)
    flag_id = repository.add_flag(
        session,
        kind=reason,
        subject=subject,
        org_path=path,
        status="held",
        detail={
            "device": device.label,
            "claimed_at": claimed_at.isoformat(),
            "received_at": received_at.isoformat(),
            "ended_at": ended_at.isoformat(),
        },
        detected_at=received_at,
    )
    return {"held": True, "hold_reason": reason, "hold_id": flag_id}


def flag(session: Session, *, kind: str, subject: str, path: str, detail: dict, now: datetime) -> int | None:
    """An anomaly that holds nothing: seen once per kind and subject."""
    return repository.add_flag(
        session, kind=kind, subject=subject, org_path=path, status="open", detail=detail, detected_at=now
    )


def decide(
    session: Session,
    flag_id: int,
    *,
    action: str,
    note: str | None,
    staff_user_id: int,
    admin_paths: list[str],
    now: datetime,
) -> IntegrityFlag:
    """A hub admin's decision, audited: a hold approved (the meal's subsidy paid and reported, the
    attendance counted) or rejected with a reason (the meal voided and its subsidy back in the
    budgets, the attendance annulled); or an anomaly that held nothing dismissed."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX or (action == "reject" and not note):
        raise invalid(
            [FieldError("note", "required", "请填写理由（1到200字） A reason of 1 to 200 characters")]
        )
    row = repository.flag(session, flag_id, for_update=True)
    if row is None:
        raise not_found("待审核记录 Hold", "hold_not_found")
    scope.require(admin_paths, row.org_path, "您无权审核此记录 This is not your hub's to review")
    if row.status != ("open" if action == "dismiss" else "held"):
        raise conflict(
            "hold_decided" if row.status not in ("held", "open") else "not_held",
            "该记录已处理 Already decided"
            if row.status not in ("held", "open")
            else "待审核的请批准或驳回，异常提示请忽略 Approve or reject a hold; dismiss an anomaly",
        )
    kind, _, subject_id = row.subject.partition(":")
    if kind == "meal" and action != "dismiss":
        if action == "approve":
            counter_day.release(session, int(subject_id))
        else:
            counter_day.reject_held(
                session, int(subject_id), reason=note, staff_user_id=staff_user_id, now=now
            )
    elif kind == "attendance" and action != "dismiss":
        (attendances.release if action == "approve" else attendances.reject_held)(
            session, int(subject_id), row.id, now=now
        )
    row.status = {"approve": "approved", "reject": "rejected", "dismiss": "dismissed"}[action]
    row.decided_by, row.decided_at, row.note = staff_user_id, now, note or None
    audit(session, f"flag.{row.status}", row.subject, row.org_path, staff_user_id, now, {"flag_id": row.id})
    session.flush()
    return row


def audit(
    session: Session,
    action: str,
    subject: str,
    path: str,
    staff_user_id: int | None,
    now: datetime,
    detail: dict,
) -> None:
    session.add(
        AuditEntry(
            action=action, subject=subject, org_path=path, staff_user_id=staff_user_id, at=now, detail=detail
        )
    )


def flags(session: Session, paths: list[str], **filters) -> list[IntegrityFlag]:
    return repository.flags(session, paths, **filters)


def audit_log(session: Session, paths: list[str], **filters) -> list[AuditEntry]:
    return repository.audit(session, paths, **filters)


def history(session: Session, subject: str, *, before_id: int, limit: int) -> list[AuditEntry]:
    """A row's history (a diner, a meal point, an agreement: "diner:7"), the latest first; the
    caller has checked who may see it."""
    return repository.history(session, subject, before_id=before_id, limit=limit)


def settings_of(session: Session, org_id: int, *, staff_paths: list[str], station_ids) -> int:
    """The offline grace (minutes) that holds at a hub, for those who work in it."""
    org = orgs_service.get(session, org_id)
    if not scope.works_in(staff_paths, orgs_service.station_paths(session, station_ids or ()), org.path):
        raise forbidden(f"您不在“{org.name}”工作 You do not work for this hub", scope.OUTSIDE)
    return int(grace(session, org.path).total_seconds() // 60)


def set_grace(
    session: Session, org_id: int, minutes: int, *, staff_user_id: int, admin_paths: list[str], now: datetime
) -> int:
    org = orgs_service.get(session, org_id)
    orgs_service.require_admin_of(admin_paths, org)
    if not GRACE_RANGE[0] <= minutes <= GRACE_RANGE[1]:
        raise invalid(
            [FieldError("offline_grace_minutes", "out_of_range", "应为0到1440分钟 0 to 1440 minutes")]
        )
    row = repository.settings(session, org_id)
    if row is None:
        session.add(
            IntegritySettings(
                org_id=org_id, offline_grace_minutes=minutes, updated_by=staff_user_id, updated_at=now
            )
        )
    else:
        row.offline_grace_minutes, row.updated_by, row.updated_at = minutes, staff_user_id, now
    audit(
        session,
        "settings.changed",
        f"org:{org_id}",
        org.path,
        staff_user_id,
        now,
        {"offline_grace_minutes": minutes},
    )
    session.flush()
    return minutes


def audit_many(session: Session, rows: list[dict]) -> None:
    """Many audit rows at once (one INSERT): each a dict of `audit`'s fields (action, subject,
    org_path, staff_user_id, at, detail)."""
    if rows:
        repository.insert_audits(session, rows)
