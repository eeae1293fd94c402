"""A volunteer's service record (志愿服务记录) and the rules of entering it.

Service rows come from attendances; their hours are what the points ledger counted for each
(`points.awards` settles every close and correction by the hub's rule version in force, and the
closing award names that version), so the record, the phone's standing and the certificates say
the same minutes. An entry made more than `ENTRY_DAYS` after the activity's day (a correction, an
annulment, hours added by hand, a training) is allowed only to an admin over the organization,
with a reason, and is marked late (`LateEntry`); a correction keeps the old value, who and why
(`volunteer.models.AttendanceCorrection`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from accounts.principal import Principal
from linli import scope
from linli.errors import FieldError, forbidden, invalid, not_found
from orgs import service as orgs_service
from points import recognition
from points.rules import DEFAULT_RULE
from records import repository
from records.models import (
    COMMENT_MAX,
    ENTRY_DAYS,
    RATINGS,
    REASON_MAX,
    TITLE_MAX,
    TRAINING_MINUTES,
    Evaluation,
    LateEntry,
    Training,
)
from volunteer import attendance as attendance_service
from volunteer import service as volunteer_service

LATE_ADMIN_ONLY = "late_entry_admin_only"


def hours(minutes: int) -> str:
    """Minutes as hours with two decimals, rounded half up: 80 → "1.33"."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP))


# The 20-day rule ------------------------------------------------------------------------------


def days_late(activity_day: date, today: date) -> int:
    """Days past the entry window (0: within `ENTRY_DAYS` of the activity's day)."""
    return max(0, (today - activity_day).days - ENTRY_DAYS)


def require_late_allowed(principal: Principal, org_path: str, reason: str | None, field: str) -> str:
    """A late entry: 403 `late_entry_admin_only` unless the caller administers the organization,
    422 `late_reason_required` on `field` without a reason. Returns the reason."""
    if not scope.covers(principal.admin_paths, org_path):
        raise forbidden(
            f"活动已过{ENTRY_DAYS}天，仅管理员可补录 More than {ENTRY_DAYS} days after the activity:"
            " an admin only",
            LATE_ADMIN_ONLY,
        )
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise invalid(
            [
                FieldError(
                    field,
                    "late_reason_required",
                    f"逾期补录须说明理由（1到{REASON_MAX}字） A late entry needs a reason (1-{REASON_MAX})",
                )
            ]
        )
    return reason


def _mark(session: Session, **fields) -> None:
    session.add(LateEntry(**fields))
    session.flush()


def correct_attendance(
    session: Session,
    principal: Principal,
    *,
    attendance_id: int,
    minutes: int | None,
    annul: bool,
    reason: str,
    staff_user_id: int,
    now: datetime,
    tz: ZoneInfo,
):
    """`volunteer.attendance.correct` under the 20-day rule: late, only an admin over the
    activity's organization (its reason is the correction's), and the correction is marked."""
    row = repository.attendance_with_day(session, attendance_id)
    late = 0
    if row is not None:
        attendance, _starts_at, ends_at, org = row
        day = ends_at.astimezone(tz).date()
        late = days_late(day, now.astimezone(tz).date())
        if late:
            if attendance.station_id not in principal.bound_station_ids:
                orgs_service.require_staff_of(principal.staff_paths, org)  # scope first, as `correct`
            require_late_allowed(principal, org.path, reason, "reason")
    correction = attendance_service.correct(
        session,
        attendance_id=attendance_id,
        minutes=minutes,
        annul=annul,
        reason=reason,
        staff_user_id=staff_user_id,
        staff_paths=principal.staff_paths,
        bound_station_ids=principal.bound_station_ids,
        now=now,
    )
    if late:
        _mark(
            session,
            kind="annulment" if annul else "correction",
            ref_id=correction.id,
            volunteer_id=attendance.volunteer_id,
            attendance_id=attendance.id,
            activity_day=day,
            days_late=late,
            reason=correction.reason,
            entered_by=staff_user_id,
            entered_at=now,
        )
    return correction


def mark_manual_hours(session: Session, award, *, staff_user_id: int, today: date) -> None:
    """Hours just added by hand for a day past the window (the route is for admins; the note,
    which says where the hours come from, is the reason): marked late."""
    late = days_late(award.day, today)
    if late:
        _mark(
            session,
            kind="manual_hours",
            ref_id=award.id,
            volunteer_id=award.volunteer_id,
            attendance_id=None,
            activity_day=award.day,
            days_late=late,
            reason=award.note,
            entered_by=staff_user_id,
            entered_at=award.created_at,
        )


# Training and evaluations ---------------------------------------------------------------------


def _org_and_volunteer(session: Session, principal: Principal, org_id: int, volunteer_id: int):
    org = orgs_service.find(session, org_id)
    if org is None:
        raise not_found("组织 Organization", "org_not_found")
    orgs_service.require_staff_of(principal.staff_paths, org)
    volunteer_service.require_reached(session, volunteer_id, [org.path])
    return org


def add_training(
    session: Session,
    principal: Principal,
    *,
    volunteer_id: int,
    org_id: int,
    title: str,
    minutes: int,
    day: date,
    late_reason: str | None,
    staff_user_id: int,
    now: datetime,
    today: date,
) -> Training:
    title = (title or "").strip()
    errors = []
    if not 1 <= len(title) <= TITLE_MAX:
        errors.append(FieldError("title", "length", f"培训名称1到{TITLE_MAX}字 Title of 1 to {TITLE_MAX}"))
    if not TRAINING_MINUTES[0] <= minutes <= TRAINING_MINUTES[1]:
        errors.append(FieldError("minutes", "out_of_range", "培训时长应为1到6000分钟 1 to 6000 minutes"))
    if day > today:
        errors.append(FieldError("day", "future_day", "不能为将来的日期记录 The day has not come yet"))
    elif day.year < 2000:
        errors.append(FieldError("day", "out_of_range", "日期不合理 Implausible date"))
    if errors:
        raise invalid(errors)
    org = _org_and_volunteer(session, principal, org_id, volunteer_id)
    late = days_late(day, today)
    reason = require_late_allowed(principal, org.path, late_reason, "late_reason") if late else None
    training = Training(
        volunteer_id=volunteer_id,
        org_id=org.id,
        title=title,
        minutes=minutes,
        day=day,
        recorded_by=staff_user_id,
        recorded_at=now,
    )
    session.add(training)
    session.flush()
    if late:
        _mark(
            session,
            kind="training",
            ref_id=training.id,
            volunteer_id=volunteer_id,
            attendance_id=None,
            activity_day=day,
            days_late=late,
            reason=reason,
            entered_by=staff_user_id,
            entered_at=now,
        )
    return training


def add_evaluation(
    session: Session,
    principal: Principal,
    *,
    volunteer_id: int,
    org_id: int,
    period_start: date,
    period_end: date,
    rating: str,
    comment: str,
    staff_user_id: int,
    now: datetime,
    today: date,
) -> Evaluation:
    comment = (comment or "").strip()
    errors = []
    if period_end < period_start:
        errors.append(FieldError("period_end", "before_start", "结束日期须不早于开始日期 End before start"))
    elif period_end > today or period_start.year < 2000:
        errors.append(
            FieldError("period_end", "out_of_range", "期间须在2000年至今天之间 Period must end by today")
        )
    if rating not in RATINGS:
        errors.append(
            FieldError(
                "rating", "invalid_choice", "评价应为 excellent、good、pass 或 fail Rating is one of those"
            )
        )
    if len(comment) > COMMENT_MAX:
        errors.append(FieldError("comment", "length", f"评语最多{COMMENT_MAX}字 At most {COMMENT_MAX}"))
    if errors:
        raise invalid(errors)
    org = _org_and_volunteer(session, principal, org_id, volunteer_id)
    evaluation = Evaluation(
        volunteer_id=volunteer_id,
        org_id=org.id,
        period_start=period_start,
        period_end=period_end,
        rating=rating,
        comment=comment,
        evaluated_by=staff_user_id,
        evaluated_at=now,
    )
    session.add(evaluation)
    session.flush()
    return evaluation


def trainings(session: Session, volunteer_id: int, *, paths=None, before_id: int, limit: int):
    return repository.trainings(session, volunteer_id, paths=paths, before_id=before_id, limit=limit)


def evaluations(session: Session, volunteer_id: int, *, paths=None, before_id: int, limit: int):
    return repository.evaluations(session, volunteer_id, paths=paths, before_id=before_id, limit=limit)


def require_staff_reach(session: Session, principal: Principal, volunteer_id: int) -> None:
    """Staff may read a volunteer's training and evaluations when they reach the volunteer."""
    volunteer_service.require_reached(session, volunteer_id, principal.staff_paths)


# The record -----------------------------------------------------------------------------------

RECORD_LIST_MAX = 200  # training, evaluations, commendations shown in a record (newest first)


def _rule_view(award, rule) -> dict | None:
    """The rule version that counted a row (None: not settled yet)."""
    if award is None:
        return None
    source = DEFAULT_RULE if rule is None else {k: getattr(rule, k) for k in DEFAULT_RULE}
    return {
        "id": None if rule is None else rule.id,
        "version": 0 if rule is None else rule.version,  # 0: the defaults
        "rounding_minutes": source["rounding_minutes"],
        "minimum_minutes": source["minimum_minutes"],
        "daily_cap": source["daily_cap"],
    }


def record(session: Session, volunteer_id: int, tz: ZoneInfo) -> dict:
    """The volunteer's whole record: basic information, every service row (newest first) with its
    counted minutes, points, rule, corrections and late mark; totals by year (of the activity's
    local day), organization and activity kind; training, commendations, evaluations."""
    volunteer = volunteer_service.get(session, volunteer_id)
    rows = repository.service_rows(session, volunteer_id)
    ids = [r.Attendance.id for r in rows]
    counted = repository.counted(session, ids)
    rules = repository.rules_used(session, ids)
    fixes: dict[int, list] = {}
    for c in repository.corrections(session, ids):
        fixes.setdefault(c.attendance_id, []).append(c)
    late = repository.late_entries(session, volunteer_id)
    late_by_ref = {(e.kind, e.ref_id): e for e in late}
    service, by_year, by_org, by_kind = [], {}, {}, {}
    for r in rows:
        a = r.Attendance
        minutes, points = counted.get(a.id, (0, 0))
        award, rule = rules.get(a.id, (None, None))
        state = (
            "annulled"
            if a.state == "annulled"
            else "unverified"
            if a.flagged
            else "counted"
            if award is not None
            else "pending"
        )
        corrections = [
            {
                "id": c.id,
                "minutes_before": c.minutes_before,
                "minutes_after": c.minutes_after,
                "annulled": c.annulled,
                "reason": c.reason,
                "corrected_by": c.corrected_by,
                "corrected_at": c.corrected_at,
                "late": _late_view(late_by_ref.get(("annulment" if c.annulled else "correction", c.id))),
            }
            for c in fixes.get(a.id, [])
        ]
        day = a.checked_in_at.astimezone(tz).date()  # the day the ledger counts it on
        service.append(
            {
                "id": a.id,
                "activity": r.title,
                "activity_kind": r.kind,
                "org_id": r.org_id,
                "organization": r.org_name,
                "place": r.place,
                "starts_at": a.checked_in_at,
                "ends_at": a.checked_out_at,
                "day": day,
                "minutes": minutes,
                "hours": hours(minutes),
                "points": points,
                "state": state,
                "rule": _rule_view(award, rule),
                "corrections": corrections,
                "late": next((c["late"] for c in reversed(corrections) if c["late"]), None),
            }
        )
        if minutes:
            for table, key in ((by_year, day.year), (by_org, (r.org_id, r.org_name)), (by_kind, r.kind)):
                table[key] = table.get(key, 0) + minutes
    trainings_ = repository.trainings(
        session, volunteer_id, paths=None, before_id=2**62, limit=RECORD_LIST_MAX
    )
    evaluations_ = repository.evaluations(
        session, volunteer_id, paths=None, before_id=2**62, limit=RECORD_LIST_MAX
    )
    commendations = recognition.commendations_for(session, volunteer_id)[:RECORD_LIST_MAX]
    total = sum(by_year.values())
    return {
        "volunteer": {
            "name": volunteer.name,
            "volunteer_number": str(volunteer.id),
            "id_type": getattr(volunteer, "id_type", None) or ("resident_id" if volunteer.id_last4 else None),
            "id_last4": volunteer.id_last4,
            "filings": [
                {"team_id": t, "team": name, "approved_at": at}
                for t, name, at in repository.filings(session, volunteer_id)
            ],
        },
        "totals": {
            "minutes": total,
            "hours": hours(total),
            "activities": sum(1 for s in service if s["minutes"]),
            "manual_minutes": repository.manual_minutes(session, volunteer_id),
            "training_minutes": sum(t.minutes for t, _ in trainings_),
        },
        "by_year": [{"year": y, "minutes": m, "hours": hours(m)} for y, m in sorted(by_year.items())],
        "by_org": [
            {"org_id": o, "organization": n, "minutes": m, "hours": hours(m)}
            for (o, n), m in sorted(by_org.items(), key=lambda kv: (-kv[1], kv[0][0]))
        ],
        "by_kind": [
            {"kind": k, "minutes": m, "hours": hours(m)}
            for k, m in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "service": service,
        "trainings": [
            {
                "id": t.id,
                "title": t.title,
                "organization": name,
                "day": t.day,
                "minutes": t.minutes,
                "hours": hours(t.minutes),
                "late": _late_view(late_by_ref.get(("training", t.id))),
            }
            for t, name in trainings_
        ],
        "commendations": [
            {
                "id": c.id,
                "title": rnd.title,
                "period_start": rnd.period_start,
                "period_end": rnd.period_end,
                "certificate_id": c.certificate_id,
            }
            for c, rnd in commendations
        ],
        "evaluations": [
            {
                "id": e.id,
                "organization": name,
                "period_start": e.period_start,
                "period_end": e.period_end,
                "rating": e.rating,
                "comment": e.comment,
            }
            for e, name in evaluations_
        ],
    }


def _late_view(entry: LateEntry | None) -> dict | None:
    if entry is None:
        return None
    return {
        "days_late": entry.days_late,
        "reason": entry.reason,
        "entered_by": entry.entered_by,
        "entered_at": entry.entered_at,
    }
