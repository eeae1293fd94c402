"""RQ job functions (任务). Plain, synchronous, module-level; arguments are JSON values.

Each job opens a transaction, calls a domain's service, and is done: the work itself lives in
the domains. Jobs that follow an event are found by its name in `workers.registry`; the periodic
ones are in `workers.cron`. A job's effects happen once per job id: `job_runs` is written in the
same transaction as the effects, so a job RQ delivers twice does nothing the second time.
"""

from __future__ import annotations

import logging
import time

from rq import get_current_job
from sqlalchemy.orm import Session

from accounts import service as accounts
from accounts.sender import configured_sender
from grants import money as grant_money
from grants import rounds
from integrity import detect
from linli import outbox, partitions
from linli.progress import Lines
from meals import counter_day, delivery
from points import awards, ledger, notices, shop, verification
from points.rules import hub_of
from records import exports as record_exports
from reports import record_exports as record_export_files
from reports import service as reports
from reports import webhooks
from volunteer import activities, attendance, cards, identity
from volunteer import notices as inbox
from volunteer import service as volunteer_service
from workers.context import runtime

log = logging.getLogger("linli.jobs")


def _first_run(session: Session) -> bool:
    """Whether this job id runs for the first time; marks it run in the job's transaction (a job
    whose effect is outside the database, a text message, must not repeat it)."""
    job = get_current_job()
    if job is None:
        return True
    if outbox.already_ran(session, job.id):
        return False
    outbox.mark_ran(session, job.id, runtime().clock.now())
    return True


# --- after an event (workers.registry) ---------------------------------------------------------


def send_login_code(phone: str, code: str) -> None:
    rt = runtime()
    with rt.tx() as session:
        if _first_run(session):
            configured_sender(rt.redis).send(phone, code)


def notify_id_number_reused(holder_id: int, new_phone: str) -> None:
    """Tell a resident ID number's holder that a new registration gave it (`volunteer.service.register`)."""
    rt = runtime()
    with rt.tx() as session:
        notice = volunteer_service.id_reuse_notice(session, holder_id, new_phone)
        if notice and _first_run(session):
            configured_sender(rt.redis).notify(*notice)


def rotate_identity_keys(batch: int = 200, rounds: int = 50) -> dict:
    """Re-encrypt identity numbers under the current key (`linli keys rotate-ids`), a batch per
    transaction, so writers wait for one batch at most; rows a writer holds or changes meanwhile
    are taken by a later round (their new value is under the current key already). Idempotent:
    a second run finds nothing to do. Values under a key no longer configured stay and are
    counted in `left` (logged)."""
    rt = runtime()
    keys, done, idle = rt.id_keys, 0, 0
    while idle < rounds:
        with rt.tx() as session:
            moved, _ = identity.rotate_batch(session, keys, limit=batch)
        done += moved
        if moved:
            idle = 0
            continue
        with rt.tx() as session:
            left = identity.count_not_under(session, keys.current)
        if not left:
            break
        idle += 1
        time.sleep(0.05)
    else:
        log.warning("identity rotation: %s values are not under key %s", left, keys.current)
    result = {"reencrypted": done, "key_id": keys.current}
    log.info("identity rotation done", extra={"counts": result})
    return result


def make_card_sheet(file_id: int) -> None:
    """A printable A4 sheet of a team's volunteer cards (`volunteer.cards`)."""
    rt = runtime()
    try:
        with rt.tx() as session:
            cards.make_sheet(session, rt.codes, file_id, rt.clock.now())
    except Exception as exc:  # the requester sees `failed` with the reason, not `pending` forever
        with rt.tx() as session:
            cards.sheet_failed(session, file_id, f"{type(exc).__name__}: {exc}", rt.clock.now())
        raise


def attendance_closed(attendance_id: int) -> None:
    """Service minutes and points for a closed attendance."""
    rt = runtime()
    with rt.tx() as session:
        awards.settle_attendance(
            session, attendance_id, f"attendance:{attendance_id}", now=rt.clock.now(), tz=rt.settings.tz
        )


def attendance_corrected(correction_id: int) -> None:
    """A coordinator's correction: the difference, posted as an adjustment."""
    rt = runtime()
    with rt.tx() as session:
        awards.settle_correction(session, correction_id, now=rt.clock.now(), tz=rt.settings.tz)


def attendance_reviewed(attendance_id: int, review_id: int) -> None:
    """A held attendance approved or rejected (integrity): settled again."""
    rt = runtime()
    with rt.tx() as session:
        awards.settle_attendance(
            session, attendance_id, f"attendance-review:{review_id}", now=rt.clock.now(), tz=rt.settings.tz
        )


def meal_delivered(meal_id: int, volunteer_id: int) -> None:
    """The delivery award of the hub the meal point belongs to, for the volunteer at the door."""
    rt = runtime()
    with rt.tx() as session:
        path, served_at = delivery.delivered_meal(session, meal_id)
        awards.award_delivery(
            session,
            volunteer_id=volunteer_id,
            hub_id=hub_of(path),
            delivery_key=f"meal:{meal_id}",
            at=served_at,
            now=rt.clock.now(),
            tz=rt.settings.tz,
        )


def meal_delivery_undone(meal_id: int) -> None:
    """A delivered meal voided or reversed: the volunteer's delivery award taken back."""
    rt = runtime()
    with rt.tx() as session:
        awards.take_back_delivery(
            session, delivery_key=f"meal:{meal_id}", now=rt.clock.now(), tz=rt.settings.tz
        )


def send_notice(notice_id: int) -> None:
    """A notice's SMS, at most once (`volunteer.notices`): claimed and committed, then sent,
    then marked sent. Nothing is sent if it is claimed already (a retry after a worker died in
    the middle), switched off, or waiting for the end of quiet hours (the sweep sends it then)."""
    rt = runtime()
    with rt.tx() as session:
        sms = inbox.claim_sms(session, notice_id, now=rt.clock.now(), tz=rt.settings.tz)
    if sms is None:
        return
    try:
        configured_sender(rt.redis).notify(sms.phone, sms.text)
    except Exception as exc:  # it may or may not have gone out: not sent again
        log.warning("notice %s: the sender failed: %s", notice_id, type(exc).__name__)
        with rt.tx() as session:
            inbox.sms_failed(session, notice_id, f"{type(exc).__name__}: {exc}", rt.clock.now())
        return
    with rt.tx() as session:
        inbox.sms_sent(session, notice_id, rt.clock.now())


def build_report(report_id: int) -> None:
    """Build a report's file: its figures read on the read replica (`Runtime.read`; an ended
    period's, kept as final, once the replica has every write before the build), the file kept on
    the primary. A failure is recorded and raised, so RQ retries it with back-off; after the last
    attempt the report is `failed` with the reason shown to whoever asked."""
    rt = runtime()
    with rt.tx() as session:
        report = reports.start(session, report_id)
        if report is None:
            return
    try:
        now, tz = rt.clock.now(), rt.settings.tz
        with Lines(f"报表 report {report_id}", reports.BUILD_STEPS, log.info) as progress:
            with rt.read(latest=reports.ended(report, now, tz)) as reads:
                content = reports.compose(reads, report, now=now, tz=tz, step=progress.step)
            with rt.tx() as session:
                reports.store(session, report_id, content, now=now)
    except Exception as exc:
        log.exception("report %s failed", report_id)
        with rt.tx() as session:
            last = reports.failed(session, report_id, f"{type(exc).__name__}: {exc}", rt.clock.now())
        if not last:
            raise


def build_record_export(export_id: int) -> None:
    """Build a national export's file (`reports.record_exports`), kept encrypted. A failure is
    recorded and raised, so RQ retries it; after the last attempt the export is `failed`."""
    rt = runtime()
    with rt.tx() as session:
        if record_exports.start(session, export_id) is None:
            return
    label, steps = f"全国系统导出 record export {export_id}", record_export_files.BUILD_STEPS
    try:
        with rt.tx() as session, Lines(label, steps, log.info) as progress:
            record_export_files.build(
                session, export_id, keys=rt.id_keys, now=rt.clock.now(), tz=rt.settings.tz, step=progress.step
            )
    except Exception as exc:
        log.exception("record export %s failed", export_id)
        with rt.tx() as session:
            last = record_exports.failed(session, export_id, type(exc).__name__, rt.clock.now())
        if not last:
            raise


def notify_partner(report_id: int) -> None:
    """POST the partner's webhook: the report is ready. A refused or unreachable URL raises, so
    RQ retries."""
    rt = runtime()
    with rt.tx() as session:
        call = webhooks.delivery(session, rt.signer, report_id, rt.settings.base_url)
    if call is not None:
        at = int(rt.clock.now().timestamp())  # signed with the time it is sent (each retry anew)
        refused = webhooks.send(call, at=at, allow_private=rt.settings.demo)
        if refused:
            log.warning("webhook of partner %s not sent: %s", call.partner_id, refused)


# --- periodic (workers.cron) -------------------------------------------------------------------


def prune() -> dict:
    """Daily housekeeping: delivered outbox rows, old login codes, long-dead tokens, job marks,
    report files and national export files past their time."""
    rt = runtime()
    now = rt.clock.now()
    with rt.tx() as session:
        counts = outbox.prune(session, now) | accounts.prune(session, now)
        counts["report_files"] = reports.expire_files(session, now)
        counts["record_export_files"] = record_exports.expire_files(session, now)
    log.info("pruned", extra={"counts": counts})
    return counts


def close_forgotten_checkouts() -> int:
    """Every few minutes: close attendances left open after their activity (flagged for review)."""
    rt = runtime()
    with rt.tx() as session:
        return attendance.close_forgotten(
            session, now=rt.clock.now(), grace_minutes=rt.settings.checkout_grace_minutes
        )


def generate_shift_activities(days: int = 14) -> int:
    """Daily: activities for every recurring shift for the next `days` days (idempotent)."""
    rt = runtime()
    with rt.tx() as session:
        return activities.generate_for_all_shifts(session, tz=rt.settings.tz, days=days, now=rt.clock.now())


def ledger_verify() -> dict:
    """Nightly: recompute every balance from its transfers and record the result."""
    rt = runtime()
    also = [grant_money.verify]
    with (
        rt.tx() as session,
        Lines("核对账本 ledger verify", verification.PHASES + len(also) + 1, log.info) as progress,
    ):
        check = verification.run_check(session, rt.clock.now(), rt.clock, also=also, step=progress.step)
        result = {"ok": check.ok, "problems": len(check.problems), "transfers": check.transfers}
    (log.info if result["ok"] else log.error)("ledger verified", extra=result)
    return result


def points_nightly() -> dict:
    """Nightly, each in its own transaction: uncollected orders and timed-out reservations are
    released, lots past their date expire (an explicit transfer each), and volunteers are told
    30 days before points expire."""
    rt = runtime()
    now = rt.clock.now()
    with rt.tx() as session:
        orders = shop.expire_orders(session, now)
    with rt.tx() as session:
        reservations = ledger.sweep_pending(session, now)
    with rt.tx() as session:
        expired = ledger.expire_lots(session, now, now.astimezone(rt.settings.tz).date().isoformat())
    with rt.tx() as session:
        told = notices.emit_expiry_notices(session, now, rt.settings.tz)
    result = {"orders": orders, "reservations": reservations, "points_expired": expired, "notices": told}
    log.info("points nightly", extra=result)
    return result


def partitions_ahead() -> list[str]:
    """Daily: this month's and the next `partitions.AHEAD` months' partitions of every table
    partitioned by month (PostgreSQL; nothing on SQLite). Idempotent."""
    rt = runtime()
    with rt.tx() as session:
        made = partitions.ensure_ahead(session.connection(), rt.clock.now().astimezone(rt.settings.tz).date())
    if made:
        log.info("partitions made", extra={"partitions": made})
    return made


def close_meal_days() -> int:
    """Every 15 minutes: close the day at every meal point whose day is over (21:30 local, or its
    last slot's end if later; `counter_day.closes_at`), and any earlier day left open. Returns how
    many days were closed."""
    rt = runtime()
    with rt.tx() as session:
        return counter_day.close_open_days(session, rt.clock.now(), rt.settings.tz)


def grants_take_effect() -> int:
    """Every 15 minutes: rounds whose public notice has ended are granted, each approved proposal
    made a project (once). Returns how many projects were made."""
    rt = runtime()
    with rt.tx() as session:
        return rounds.take_effect(session, rt.clock.now())


def integrity_sweep() -> int:
    """Daily at 21:45 local: the day's anomalies flagged for the hubs (integrity.detect)."""
    rt = runtime()
    now = rt.clock.now()
    with rt.tx() as session:
        return detect.sweep(session, now.astimezone(rt.settings.tz).date(), now=now, tz=rt.settings.tz)


def monthly_reports() -> int:
    """Daily at 02:00 local; on the first of the month, last month's reports for every partner
    and hub are queued (asking again builds nothing more)."""
    rt = runtime()
    now = rt.clock.now()
    if now.astimezone(rt.settings.tz).day != 1:
        return 0
    with rt.tx() as session:
        return reports.monthly(session, now=now, tz=rt.settings.tz)


def remind_activities() -> int:
    """Every 15 minutes: a reminder to each volunteer signed up for an activity starting within
    24 hours (once per volunteer and activity)."""
    rt = runtime()
    with rt.tx() as session:
        return inbox.remind(session, now=rt.clock.now(), tz=rt.settings.tz)


def send_due_notices() -> int:
    """Every 5 minutes: SMS held back by quiet hours (or whose job was lost) that are due now,
    each as `send_notice` sends one; claims a dead worker left are given up (`unknown`)."""
    rt = runtime()
    with rt.tx() as session:
        ids = inbox.due(session, rt.clock.now())
    for notice_id in ids:
        send_notice(notice_id)
    return len(ids)
