"""RQ job functions (任务). Plain, synchronous, module-level; arguments are JSON values.

Each runs its effects once per job id: `job_runs` is written in the same transaction as the
effects, so a job RQ delivers twice does nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import get_current_job
from sqlalchemy import delete, select

from accounts.models import AuthToken, LoginCode
from accounts.sender import configured_sender
from linli import outbox
from workers.context import runtime

log = logging.getLogger("linli.jobs")


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job else None


def send_login_code(phone: str, code: str) -> None:
    rt = runtime()
    job_id = _job_id()
    with rt.tx() as session:
        if job_id and outbox.already_ran(session, job_id):
            return
        configured_sender(rt.redis).send(phone, code)
        if job_id:
            outbox.mark_ran(session, job_id, rt.clock.now())


def prune() -> dict:
    """Daily housekeeping: delivered outbox rows, old login codes, long-dead tokens, job marks."""
    rt = runtime()
    now = rt.clock.now()
    with rt.tx() as session:
        counts = {
            "outbox": session.execute(
                delete(outbox.OutboxMessage).where(outbox.OutboxMessage.enqueued_at < now - timedelta(days=7))
            ).rowcount,
            "login_codes": session.execute(
                delete(LoginCode).where(LoginCode.created_at < now - timedelta(days=1))
            ).rowcount,
            "auth_tokens": session.execute(
                delete(AuthToken).where(AuthToken.expires_at < now - timedelta(days=30))
            ).rowcount,
            "job_runs": session.execute(
                delete(outbox.JobRun).where(outbox.JobRun.finished_at < now - timedelta(days=30))
            ).rowcount,
        }
        from reports import service as reports

        counts["report_files"] = reports.expire_files(session, now)
    log.info("pruned", extra={"counts": counts})
    return counts


def make_card_sheet(file_id: int) -> None:
    """A printable A4 sheet of a team's volunteer cards (`volunteer.cards`)."""
    from volunteer import cards

    rt = runtime()
    try:
        with rt.tx() as session:
            cards.make_sheet(session, rt.codes, file_id, rt.clock.now())
    except Exception as exc:  # the requester sees `failed` with the reason, not `pending` forever
        with rt.tx() as session:
            cards.sheet_failed(session, file_id, f"{type(exc).__name__}: {exc}", rt.clock.now())
        raise


def close_forgotten_checkouts() -> int:
    """Every few minutes: close attendances left open after their activity (flagged for review)."""
    from volunteer import attendance

    rt = runtime()
    with rt.tx() as session:
        return attendance.close_forgotten(
            session, now=rt.clock.now(), grace_minutes=rt.settings.checkout_grace_minutes
        )


def generate_shift_activities(days: int = 14) -> int:
    """Daily: activities for every recurring shift for the next `days` days (idempotent)."""
    from volunteer import activities

    rt = runtime()
    made = 0
    with rt.tx() as session:
        today = rt.clock.now().astimezone(rt.settings.tz).date()
        for shift in activities.all_shifts(session):
            made += len(
                activities.generate_shift_activities(
                    session, shift, tz=rt.settings.tz, first_day=today, days=days, now=rt.clock.now()
                )
            )
    return made


def attendance_closed(attendance_id: int) -> None:
    """Service minutes and points for a closed attendance (from its outbox event)."""
    from points import awards

    rt = runtime()
    with rt.tx() as session:
        awards.settle_attendance(
            session, attendance_id, f"attendance:{attendance_id}", now=rt.clock.now(), tz=rt.settings.tz
        )


def attendance_corrected(correction_id: int) -> None:
    """A coordinator's correction: the difference, posted as an adjustment."""
    from points import awards

    rt = runtime()
    with rt.tx() as session:
        awards.settle_correction(session, correction_id, now=rt.clock.now(), tz=rt.settings.tz)


def meal_delivered(meal_id: int, volunteer_id: int) -> None:
    """The delivery award of the hub the meal point belongs to, for the volunteer at the door."""
    from meals.models import Meal, MealPoint
    from orgs.models import Organization
    from points import awards

    rt = runtime()
    with rt.tx() as session:
        meal = session.get(Meal, meal_id)
        path = session.scalar(
            select(Organization.path)
            .join(MealPoint, MealPoint.org_id == Organization.id)
            .where(MealPoint.id == meal.meal_point_id)
        )
        awards.award_delivery(
            session,
            volunteer_id=volunteer_id,
            hub_id=awards.hub_of(path),
            delivery_key=f"meal:{meal_id}",
            at=meal.served_at,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )


def meal_delivery_undone(meal_id: int) -> None:
    """A delivered meal voided or reversed: the volunteer's delivery award taken back."""
    from points import awards

    rt = runtime()
    with rt.tx() as session:
        awards.take_back_delivery(
            session, delivery_key=f"meal:{meal_id}", now=rt.clock.now(), tz=rt.settings.tz
        )


def ledger_verify() -> dict:
    """Nightly: recompute every balance from its transfers and record the result."""
    from points import verification

    rt = runtime()
    with rt.tx() as session:
        check = verification.run_check(session, rt.clock.now(), rt.clock)
        result = {"ok": check.ok, "problems": len(check.problems), "transfers": check.transfers}
    (log.info if result["ok"] else log.error)("ledger verified", extra=result)
    return result


EXPIRY_NOTICE = timedelta(days=30)


def points_nightly() -> dict:
    """Nightly: uncollected orders and timed-out reservations are released, lots past their date
    expire (an explicit transfer each), and volunteers are told 30 days before points expire."""
    from points import ledger, shop

    rt = runtime()
    now = rt.clock.now()
    day = now.astimezone(rt.settings.tz).date().isoformat()
    with rt.tx() as session:
        orders = shop.expire_orders(session, now)
    with rt.tx() as session:
        reservations = ledger.sweep_pending(session, now)
    with rt.tx() as session:
        expired = ledger.expire_lots(session, now, day)
    with rt.tx() as session:
        notices = ledger.lots_to_notify(session, now, EXPIRY_NOTICE)
        for volunteer_id, account_id, expires_at, points in notices:
            outbox.emit(
                session,
                func="workers.jobs.notify_points_expiring",
                job_id=f"points-expiring-{account_id}-{expires_at:%Y%m%d%H%M}",
                args=[volunteer_id, points, expires_at.isoformat()],
                now=now,
            )
    result = {
        "orders": orders,
        "reservations": reservations,
        "points_expired": expired,
        "notices": len(notices),
    }
    log.info("points nightly", extra=result)
    return result


def notify_points_expiring(volunteer_id: int, points: int, expires_at: str) -> None:
    from datetime import datetime

    from volunteer.models import Volunteer

    rt = runtime()
    job_id = _job_id()
    with rt.tx() as session:
        if job_id and outbox.already_ran(session, job_id):
            return
        volunteer = session.get(Volunteer, volunteer_id)
        if volunteer is not None:
            local = datetime.fromisoformat(expires_at).astimezone(rt.settings.tz)
            last_day = (local - timedelta(seconds=1)).date()
            configured_sender(rt.redis).notify(
                volunteer.phone,
                f"【邻里】您有{points}积分将于{last_day:%Y年%m月%d日}后过期，请及时到积分超市兑换。"
                f" {points} points expire after {last_day.isoformat()}.",
            )
        if job_id:
            outbox.mark_ran(session, job_id, rt.clock.now())


def close_meal_days() -> int:
    """Every evening, after the last slot: close the day at every meal point (and any earlier day
    left open, e.g. while the scheduler was down). Returns how many days were closed."""

    from meals import counter_day
    from meals.models import DayClose, Meal, MealAdjustment, MealPoint

    rt = runtime()
    now = rt.clock.now()
    today = now.astimezone(rt.settings.tz).date()
    closed = 0
    with rt.tx() as session:
        open_days = session.execute(
            select(Meal.meal_point_id, Meal.service_day)
            .where(
                Meal.service_day <= today,
                ~select(DayClose.id)
                .where(DayClose.meal_point_id == Meal.meal_point_id, DayClose.service_day == Meal.service_day)
                .exists(),
            )
            .distinct()
        ).all()
        adjusted_days = session.execute(  # a reversal dated a day with no meals must be closed too
            select(MealAdjustment.meal_point_id, MealAdjustment.made_on)
            .where(
                MealAdjustment.made_on <= today,
                ~select(DayClose.id)
                .where(
                    DayClose.meal_point_id == MealAdjustment.meal_point_id,
                    DayClose.service_day == MealAdjustment.made_on,
                )
                .exists(),
            )
            .distinct()
        ).all()
        open_days = set(open_days) | set(adjusted_days)
        points = set(session.scalars(select(MealPoint.id)))
        for point_id, day in sorted(set(open_days) | {(p, today) for p in points}):
            closed += counter_day.close_day(session, point_id, day, now) is not None
    return closed


def build_report(report_id: int) -> None:
    """Build a report's file. A failure is recorded and raised, so RQ retries it with back-off;
    after the last attempt the report is `failed` with the reason shown to whoever asked."""
    from reports import service as reports
    from reports.models import Report

    rt = runtime()
    with rt.tx() as session:
        if reports.start(session, report_id) is None:
            return
    try:
        with rt.tx() as session:
            report = session.get(Report, report_id)
            reports.build(session, report, now=rt.clock.now(), tz=rt.settings.tz)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        log.exception("report %s failed", report_id)
        with rt.tx() as session:
            last = reports.failed(session, report_id, reason, rt.clock.now())
        if not last:
            raise


def notify_partner(report_id: int) -> None:
    """POST the partner's webhook: the report is ready. Signed with HMAC-SHA256 over the body
    (`X-Linli-Signature: sha256=<hex>`); a refused or unreachable URL raises, so RQ retries."""
    import urllib.request

    from reports import service as reports
    from reports.models import PartnerWebhook, Report

    rt = runtime()
    with rt.tx() as session:
        report = session.get(Report, report_id)
        hook = session.get(PartnerWebhook, report.partner_id)
        if hook is None:
            return
        body = reports.notice(report, rt.settings.base_url)
        secret = reports.webhook_secret(rt.signer, hook.partner_id, hook.secret_version)
        url, partner_id = hook.url, hook.partner_id
    problem = reports.webhook_problem(url, allow_private=rt.settings.demo)
    if problem:  # the name may resolve elsewhere now
        log.warning("webhook of partner %s not sent: %s", partner_id, problem)
        return
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Linli-Event": "report.ready",
            "X-Linli-Signature": reports.sign(secret, body),
        },
    )

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # a redirect could lead inside the network
            return None

    with urllib.request.build_opener(NoRedirects).open(request, timeout=10) as answer:
        if answer.status >= 300:
            raise RuntimeError(f"webhook answered {answer.status}")


def monthly_reports() -> int:
    """Daily at 02:00 local; on the first of the month, last month's reports for every partner
    and hub are queued (asking again builds nothing more)."""
    from reports import service as reports

    rt = runtime()
    now = rt.clock.now()
    if now.astimezone(rt.settings.tz).day != 1:
        return 0
    with rt.tx() as session:
        return reports.monthly(session, now=now, tz=rt.settings.tz)
