"""Notices to volunteers (通知): an inbox on /me, and one SMS each, never two.

A notice is made by its cause's service, in the cause's transaction (`notify`): the inbox and the
cause commit together or not at all, and `key` names the cause, so a cause seen twice (a job run
again, a request retried) makes one notice. The same transaction emits `notice.created`; its job
(`workers.jobs.send_notice`) sends the SMS through the configured sender (`accounts.sender`).

Never twice (至多一次). Before calling the sender the job moves the notice's SMS from `pending`
to `sending` and commits (`claim_sms`: a conditional update, so of two workers, or a job and the
sweep, one wins); after the sender returns it marks it `sent`. A worker killed between the two
leaves `sending`: a retried job finds it so and sends nothing, and the sweep later marks it
`unknown` (`SENDING_GIVEN_UP`). Whether such a text went out cannot be told without the gateway's
help, and sending it again might send it twice, so it is not sent again; the inbox holds it
either way. (A gateway with idempotency keys could take the notice id and retry safely instead;
the sender interface has none.) A sender that raises marks it `failed`, not retried, for the same
reason.

Quiet hours and opt-out are the volunteer's (`NoticeSettings`): in the quiet window (by default
21:00-08:00 local) the claim leaves the SMS `pending` with `sms_due_at` at the window's end,
and the sweep (`workers.jobs.send_due_notices`, every 5 minutes) sends it then; a kind switched off
is `off` (the inbox keeps it). Both are read when the SMS is claimed, so a change applies to
notices still waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid, not_found
from linli.outbox import emit
from volunteer import repository, repository_notices
from volunteer.models import NOTICE_KINDS, QUIET_HOURS, Notice, NoticeSettings

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
REMIND_AHEAD = timedelta(hours=24)
SENDING_GIVEN_UP = timedelta(minutes=15)  # a claim older than this was a worker that died
LOCAL = ZoneInfo("Asia/Shanghai")  # when a caller gives no zone (LINLI_TIMEZONE's default)


@dataclass(frozen=True)
class Sms:
    phone: str
    text: str


def when(at: datetime, tz: ZoneInfo | None) -> tuple[str, str]:
    """A moment as people read it: ("12月7日 10:30", "Dec 7 10:30"), local time."""
    local = at.astimezone(tz or LOCAL)
    return f"{local.month}月{local.day}日 {local:%H:%M}", f"{local:%b} {local.day} {local:%H:%M}"


def notify(
    session: Session,
    *,
    volunteer_id: int,
    kind: str,
    key: str,
    text: str,
    text_en: str,
    now: datetime,
    known_new: bool = False,
) -> Notice | None:
    """Put a notice in the volunteer's inbox and ask for its SMS, in the caller's transaction.
    None if this cause (`key`) made one already."""
    assert kind in NOTICE_KINDS, kind
    if not known_new and repository_notices.existing_keys(session, [key]):
        return None
    off = kind in _settings(session, volunteer_id)[2]
    notice = Notice(
        volunteer_id=volunteer_id,
        kind=kind,
        key=key,
        text=text,
        text_en=text_en,
        created_at=now,
        sms_state="off" if off else "pending",
        sms_due_at=None if off else now,
    )
    session.add(notice)
    session.flush()
    if not off:
        emit(
            session,
            event="notice.created",
            job_id=f"notice-{notice.id}",
            args=[notice.id],
            now=now,
            known_new=True,
        )
    return notice


# --- the SMS: claimed, then sent (see the module's docstring) -----------------------------------


def claim_sms(session: Session, notice_id: int, *, now: datetime, tz: ZoneInfo) -> Sms | None:
    """The SMS to send now, claimed (`sending`) in this transaction, which the caller commits
    before sending; None when there is nothing to send now: not pending (sent, being sent, off),
    not due yet, in the volunteer's quiet hours (then due at their end), or the kind switched off."""
    notice = repository_notices.notice(session, notice_id)
    if notice is None or notice.sms_state != "pending":
        return None
    quiet_start, quiet_end, sms_off = _settings(session, notice.volunteer_id)
    if notice.kind in sms_off:
        repository_notices.move_sms(session, notice_id, "pending", "off", sms_done_at=now)
        return None
    until = quiet_until(now, quiet_start, quiet_end, tz)
    if until is not None:
        repository_notices.move_sms(session, notice_id, "pending", "pending", sms_due_at=until)
        return None
    volunteer = repository.get(session, notice.volunteer_id)
    if volunteer is None:  # gone: nowhere to send it
        repository_notices.move_sms(session, notice_id, "pending", "failed", sms_done_at=now, sms_error="no volunteer")
        return None
    if not repository_notices.move_sms(
        session, notice_id, "pending", "sending", due_before=now, sms_claimed_at=now
    ):
        return None
    return Sms(volunteer.phone, f"【邻里】{notice.text} {notice.text_en}")


def sms_sent(session: Session, notice_id: int, now: datetime) -> None:
    repository_notices.move_sms(session, notice_id, "sending", "sent", sms_done_at=now)


def sms_failed(session: Session, notice_id: int, error: str, now: datetime) -> None:
    repository_notices.move_sms(session, notice_id, "sending", "failed", sms_done_at=now, sms_error=error[:200])


def due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Notices whose SMS waits and is due (after quiet hours; or its job was lost). Claims that
    were never finished are given up first (`unknown`)."""
    repository_notices.give_up_sending(session, now - SENDING_GIVEN_UP, now)
    return repository_notices.due_ids(session, now, limit)


def quiet_until(now: datetime, start: str, end: str, tz: ZoneInfo) -> datetime | None:
    """When the quiet window [start, end) (local "HH:MM", wrapping midnight if start > end) that
    `now` is in ends; None outside it (or if start == end: no quiet hours)."""
    if start == end:
        return None
    local = now.astimezone(tz)
    t, s, e = local.time().replace(tzinfo=None), time.fromisoformat(start), time.fromisoformat(end)
    if s < e:
        inside, end_day = s <= t < e, local.date()
    else:
        inside = t >= s or t < e
        end_day = local.date() + timedelta(days=1) if t >= s else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, e, tz).astimezone(UTC)


# --- the volunteer's inbox and settings -----------------------------------------------------------


def inbox(session: Session, volunteer_id: int, *, before_id: int | None, limit: int) -> tuple[list[Notice], int]:
    """The volunteer's notices, newest first, and how many are unread."""
    return (
        repository_notices.notices_of(session, volunteer_id, before_id=before_id, limit=limit),
        repository_notices.unread_count(session, volunteer_id),
    )


def read(session: Session, volunteer_id: int, notice_id: int, now: datetime) -> Notice:
    """Mark one of the volunteer's notices read. Another's is not found (the inbox is theirs)."""
    notice = repository_notices.notice(session, notice_id)
    if notice is None or notice.volunteer_id != volunteer_id:
        raise not_found("通知 Notice", "notice_not_found")
    if notice.read_at is None:
        notice.read_at = now
        session.flush()
    return notice


def read_all(session: Session, volunteer_id: int, now: datetime) -> int:
    return repository_notices.mark_read(session, volunteer_id, None, now)


def settings(session: Session, volunteer_id: int) -> tuple[str, str, list[str]]:
    """(quiet_start, quiet_end, kinds not sent by SMS)."""
    return _settings(session, volunteer_id)


def _settings(session: Session, volunteer_id: int) -> tuple[str, str, list[str]]:
    row = repository_notices.settings_of(session, volunteer_id)
    if row is None:
        return QUIET_HOURS[0], QUIET_HOURS[1], []
    return row.quiet_start, row.quiet_end, list(row.sms_off)


def save_settings(
    session: Session, volunteer_id: int, *, quiet_start: str, quiet_end: str, sms_off: list[str], now: datetime
) -> tuple[str, str, list[str]]:
    """Every bad field refused at once (422); nothing written then."""
    errors = [
        FieldError(name, "invalid_time", "时间格式应为 HH:MM Time must be HH:MM")
        for name, value in (("quiet_start", quiet_start), ("quiet_end", quiet_end))
        if not re.fullmatch(HHMM, value)
    ]
    if unknown := [k for k in sms_off if k not in NOTICE_KINDS]:
        errors.append(
            FieldError(
                "sms_off",
                "invalid_choice",
                f"未知的通知类型 Unknown kinds: {', '.join(unknown[:5])}; 可选 one of {', '.join(NOTICE_KINDS)}",
            )
        )
    if errors:
        raise invalid(errors)
    sms_off = sorted(set(sms_off))
    row = repository_notices.settings_of(session, volunteer_id)
    if row is None:
        row = NoticeSettings(volunteer_id=volunteer_id)
        session.add(row)
    row.quiet_start, row.quiet_end, row.sms_off, row.updated_at = quiet_start, quiet_end, sms_off, now
    session.flush()
    return quiet_start, quiet_end, sms_off


# --- the causes this package knows (the points package makes its own) ---------------------------


def filing_decided(session: Session, filing, team_name: str, decision: str, reason: str, now: datetime) -> None:
    if decision == "approved":
        text = f"您加入“{team_name}”的申请已通过，欢迎参加志愿服务。"
        text_en = f"Your application to join {team_name} was approved."
    else:
        text = f"您加入“{team_name}”的申请未通过，理由：{reason}"
        text_en = f"Your application to join {team_name} was not approved. Reason: {reason}"
    notify(
        session,
        volunteer_id=filing.volunteer_id,
        kind=f"filing_{decision}",
        key=f"filing:{filing.id}:{decision}",
        text=text,
        text_en=text_en,
        now=now,
    )


def signup_confirmed(session: Session, signup, activity, now: datetime, tz: ZoneInfo | None) -> None:
    zh, en = when(activity.starts_at, tz)
    place = repository_notices.station_name(session, activity.station_id)
    notify(
        session,
        volunteer_id=signup.volunteer_id,
        kind="signup_confirmed",
        key=f"signup:{signup.id}:confirmed",
        text=f"您已报名“{activity.title}”，{zh}在{place}开始，请准时签到。",
        text_en=f"You are signed up for {activity.title}, {en} at {place}.",
        now=now,
    )


def activity_moved(session: Session, activity, volunteer_ids: list[int], now: datetime, tz: ZoneInfo | None) -> None:
    """Everyone signed up (confirmed or waiting) is told the new time and place; one notice per
    move (the key holds the moment of the move)."""
    zh, en = when(activity.starts_at, tz)
    place = repository_notices.station_name(session, activity.station_id)
    for volunteer_id in volunteer_ids:
        notify(
            session,
            volunteer_id=volunteer_id,
            kind="activity_moved",
            key=f"activity-moved:{activity.id}:{volunteer_id}:{now.isoformat()}",
            text=f"您报名的“{activity.title}”已调整为{zh}在{place}开始。",
            text_en=f"{activity.title}, which you signed up for, now starts {en} at {place}.",
            now=now,
        )


def activity_cancelled(
    session: Session, activity, volunteer_ids: list[int], now: datetime, tz: ZoneInfo | None
) -> None:
    """Everyone signed up (confirmed or waiting) is told the activity, its time and the reason;
    an activity is cancelled once, so one notice each."""
    zh, en = when(activity.starts_at, tz)
    for volunteer_id in volunteer_ids:
        notify(
            session,
            volunteer_id=volunteer_id,
            kind="activity_cancelled",
            key=f"activity-cancelled:{activity.id}:{volunteer_id}",
            text=f"您报名的“{activity.title}”（{zh}）已取消，理由：{activity.cancel_reason}",
            text_en=f"{activity.title} ({en}), which you signed up for, is cancelled. Reason: {activity.cancel_reason}",
            now=now,
        )


def remind(session: Session, *, now: datetime, tz: ZoneInfo, ahead: timedelta = REMIND_AHEAD) -> int:
    """Remind every volunteer with a confirmed sign-up to an activity starting within `ahead`:
    once per volunteer and activity. Returns how many reminders were made."""
    rows = repository_notices.signups_starting(session, now, now + ahead)
    keys = {(v, a): f"reminder:{a}:{v}" for v, a, *_ in rows}
    told = repository_notices.existing_keys(session, list(keys.values()))
    made = 0
    for volunteer_id, activity_id, title, starts_at, place in rows:
        key = keys[(volunteer_id, activity_id)]
        if key in told:
            continue
        zh, en = when(starts_at, tz)
        day = "今天" if starts_at.astimezone(tz).date() == now.astimezone(tz).date() else "明天"
        notify(
            session,
            volunteer_id=volunteer_id,
            kind="activity_reminder",
            key=key,
            text=f"提醒：您报名的“{title}”将于{day}{zh.split(' ')[1]}在{place}开始（{zh}）。",
            text_en=f"Reminder: {title} starts {en} at {place}.",
            now=now,
            known_new=True,
        )
        told.add(key)
        made += 1
    return made
