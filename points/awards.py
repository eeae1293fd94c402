"""Earning (积分获取): service time and points from verified attendance, by a hub's versioned rules.

An attendance is settled by comparing what it should have earned (from its current state, by the
rule version in force when it closed) with what it has earned so far, and posting the difference.
The close event and every correction settle the same way, so their jobs may run in any order or
twice and the result is the same. A flagged attendance (a forgotten check-out) earns nothing until a
coordinator corrects it. Hours added by hand go to a separate account and earn no points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from points import ledger, notices, repository, shop
from points import repository_awards as repo
from points.ledger import TransferInput
from points.models import Award
from points.rules import Rule, current_rule, hub_of, rule_of
from volunteer import service as volunteer_service

EARNING_KINDS = ("service", "adjustment", "delivery")  # what the daily cap counts
DAY_MINUTES = 24 * 60  # service a volunteer's day can hold, verified and added by hand


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


# Settling -------------------------------------------------------------------------------------


def settle_attendance(
    session: Session, attendance_id: int, cause: str, *, now: datetime, tz: ZoneInfo
) -> Award | None:
    """Post what the attendance should have earned minus what it has earned, under the key `cause`
    ("attendance:12" for the close, "correction:5" for a correction). Returns the award, or None if
    there was nothing to do (still open, already settled, nothing changed)."""
    return settle(session, [(attendance_id, cause)], now=now, tz=tz)[0]


def settle(
    session: Session, items: list[tuple[int, str]], *, now: datetime, tz: ZoneInfo
) -> list[Award | None]:
    """Settle many attendances in one go (a few statements for the whole batch, as the ledger
    does); one award or None per item, in order. Items are judged in order: an earlier one counts
    towards a later one's daily cap."""
    causes = [cause for _, cause in items]
    ids = {a for a, _ in items}
    # Settle each volunteer's attendances one transaction at a time: lock their rows (in id order,
    # before any ledger account) and only then read what was earned and what the day holds.
    volunteer_service.lock_volunteers_of_attendances(session, ids)
    done = repo.keys_awarded(session, causes)
    rows = {
        a.id: (a, kind, path)
        for a, kind, path in volunteer_service.attendances_with_kind_and_path(session, ids)
    }
    earned = repo.earned_by_attendance(session, ids)
    hubs = {hub_of(path) for _, _, path in rows.values()}
    versions = repo.rules_of_hubs(session, hubs)
    days = {local_day(a.checked_in_at, tz) for a, _, _ in rows.values()}
    volunteers = {a.volunteer_id for a, _, _ in rows.values()}
    today: dict[tuple[int, date], dict[int | None, int]] = {}  # (volunteer, day) -> attendance -> points
    for v, d, a, p in repo.points_by_day(session, volunteers, days, EARNING_KINDS):
        today.setdefault((v, d), {})[a] = int(p)
    specs: list[AwardSpec | None] = []
    for attendance_id, cause in items:
        row = rows.get(attendance_id)
        if cause in done or row is None or row[0].state == "open":
            specs.append(None)
            continue
        done.add(cause)
        attendance, kind, path = row
        hub_id = hub_of(path)
        at = attendance.checked_out_at or attendance.checked_in_at
        rule = rule_of(
            next((r for r in reversed(versions) if r.hub_id == hub_id and r.created_at <= at), None)
        )
        day = local_day(attendance.checked_in_at, tz)
        verified = attendance.state != "annulled" and not attendance.flagged
        target_minutes = (attendance.minutes or 0) if verified else 0
        target_points = rule.points(kind, target_minutes, day)
        day_points = today.setdefault((attendance.volunteer_id, day), {})
        if rule.daily_cap:
            others = sum(p for a, p in day_points.items() if a != attendance.id)
            target_points = max(0, min(target_points, rule.daily_cap - others))
        so_far = earned.setdefault(attendance.id, [0, 0])
        minutes, points = target_minutes - so_far[0], target_points - so_far[1]
        closing = f"attendance:{attendance.id}"
        if not minutes and not points and cause != closing:
            specs.append(None)
            continue
        so_far[0] += minutes
        so_far[1] += points
        day_points[attendance.id] = day_points.get(attendance.id, 0) + points
        state = (
            "" if verified else " 作废 annulled" if attendance.state == "annulled" else " 待核实 unverified"
        )
        specs.append(
            AwardSpec(
                key=cause,
                kind="service" if cause == closing else "adjustment",
                volunteer_id=attendance.volunteer_id,
                hub_id=hub_id,
                day=day,
                minutes=minutes,
                points=points,
                rule=rule,
                attendance_id=attendance.id,
                note=f"{kind} {target_minutes}分钟{state}",
                corrects=None if cause == closing else closing,
            )
        )
    made = post_awards(session, [spec for spec in specs if spec is not None], now=now, tz=tz)
    notices.points_awarded(session, made, now)  # in the inbox with the award, once per award
    posted = iter(made)
    return [None if spec is None else next(posted) for spec in specs]


def award_by_key(session: Session, key: str) -> Award | None:
    return repo.award_by_key(session, key)


def settle_correction(session: Session, correction_id: int, *, now: datetime, tz: ZoneInfo) -> Award | None:
    attendance_id = volunteer_service.attendance_of_correction(session, correction_id)
    if attendance_id is None:
        return None
    return settle_attendance(session, attendance_id, f"correction:{correction_id}", now=now, tz=tz)


@dataclass
class AwardSpec:
    key: str  # the cause, unique: "attendance:12", "correction:5", "delivery:...", "commendation:3"
    kind: str
    volunteer_id: int
    hub_id: int
    day: date
    minutes: int  # negative: taken back
    points: int
    rule: Rule
    attendance_id: int | None = None
    note: str = ""
    minutes_account: str = "volunteer"  # or volunteer_manual: hours added by hand
    corrects: str | None = None  # the award whose transfers this one corrects


def post_award(session: Session, *, now: datetime, tz: ZoneInfo, **spec) -> Award:
    return post_awards(session, [AwardSpec(**spec)], now=now, tz=tz)[0]


def post_awards(session: Session, specs: list[AwardSpec], *, now: datetime, tz: ZoneInfo) -> list[Award]:
    """Record the awards and post their minutes and points in one ledger batch. Points already
    spent cannot be taken back: an award taking back more than is available takes what is there,
    and its note says how many were not."""
    if not specs:
        return []
    wanted: dict[str, dict] = {}
    for a in specs:
        if a.minutes:
            wanted[f"service_minutes:{a.minutes_account}:{a.volunteer_id}"] = {
                "ledger": "service_minutes",
                "kind": a.minutes_account,
                "volunteer_id": a.volunteer_id,
            }
            wanted[f"service_minutes:hub_issued:{a.hub_id}"] = {
                "ledger": "service_minutes",
                "kind": "hub_issued",
                "hub_id": a.hub_id,
            }
        if a.points:
            wanted[f"points:volunteer:{a.volunteer_id}"] = {
                "ledger": "points",
                "kind": "volunteer",
                "volunteer_id": a.volunteer_id,
            }
            wanted[f"points:hub_issued:{a.hub_id}"] = {
                "ledger": "points",
                "kind": "hub_issued",
                "hub_id": a.hub_id,
            }
    accounts = ledger.ensure_accounts(session, wanted, now)
    ledger.lock_accounts(session, list(accounts.values()))  # all at once, in id order
    takers = {accounts[f"points:volunteer:{a.volunteer_id}"]: a.volunteer_id for a in specs if a.points < 0}
    available = {}
    if takers:
        owed = {}
        for a in specs:
            if a.points < 0:
                owed[a.volunteer_id] = owed.get(a.volunteer_id, 0) - a.points
        for volunteer_id, points in owed.items():
            # points reserved by open orders are not spent: cancel those orders rather than let
            # the volunteer keep points they should give back
            shop.release_reservations(session, volunteer_id, points, now)
        available = repository.available(session, takers)
    corrected = repo.transfer_ids(
        session, [f"{a.corrects}:{x}" for a in specs if a.corrects for x in ("minutes", "points")]
    )
    inputs = []
    for a in specs:
        if a.minutes:
            mine = accounts[f"service_minutes:{a.minutes_account}:{a.volunteer_id}"]
            hub = accounts[f"service_minutes:hub_issued:{a.hub_id}"]
            inputs.append(_move(f"{a.key}:minutes", hub, mine, a.minutes, a, corrected))
        if a.points:
            mine = accounts[f"points:volunteer:{a.volunteer_id}"]
            if a.points < 0 and available[mine] < -a.points:
                a.note += f"；{-a.points - available[mine]}分已兑换无法收回 already spent, not taken back"
                a.points = -available[mine]
            if a.points:
                available[mine] = available.get(mine, 0) + a.points
                hub = accounts[f"points:hub_issued:{a.hub_id}"]
                inputs.append(
                    _move(f"{a.key}:points", hub, mine, a.points, a, corrected, a.rule.lot_expiry(a.day, tz))
                )
    results = ledger.create_transfers(session, inputs, now)
    refused = [
        (t.id, r) for t, r in zip(inputs, results, strict=True) if r not in (ledger.CREATED, ledger.EXISTS)
    ]
    if refused:
        raise RuntimeError(f"awards refused by the ledger: {refused[:5]}")
    made = [
        Award(
            key=a.key,
            volunteer_id=a.volunteer_id,
            hub_id=a.hub_id,
            kind=a.kind,
            day=a.day,
            minutes=a.minutes,
            points=a.points,
            rule_id=a.rule.id,
            attendance_id=a.attendance_id,
            note=a.note[:200],
            created_at=now,
        )
        for a in specs
    ]
    session.add_all(made)
    session.flush()
    rules = {a.volunteer_id: a.rule for a in specs if a.minutes > 0 and a.minutes_account == "volunteer"}
    if rules:
        record_stars(session, rules, now)
    return made


def _move(
    tid: str, hub: int, mine: int, amount: int, a: AwardSpec, corrected: set, lot_expires_at=None
) -> TransferInput:
    """A credit to the volunteer, or (negative) a debit back to the hub."""
    debit, credit = (hub, mine) if amount > 0 else (mine, hub)
    corrects = f"{a.corrects}:{tid.rsplit(':', 1)[1]}" if a.corrects else None
    return TransferInput(
        id=tid,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=abs(amount),
        reason=f"{a.kind}_award" if amount > 0 else f"{a.kind}_takeback",
        reference=a.key,
        corrects_id=corrects if corrects in corrected else None,
        lot_expires_at=lot_expires_at if amount > 0 else None,
    )


def add_manual_hours(
    session: Session,
    *,
    volunteer_id: int,
    hub_id: int,
    minutes: int,
    day: date,
    note: str,
    key: str,
    now: datetime,
    tz,
    today: date,
) -> Award:
    """Hours a hub adds by hand (e.g. from a paper sign-in sheet): kept apart from verified service,
    marked as such, no points and no stars. Only for a day that has begun (`today`: the local day),
    and a day holds at most `DAY_MINUTES` of a volunteer's service in all: verified and added by
    hand, at every hub (a hub's rules cap points, and hand-added hours earn none, so the day's
    length is the limit). The volunteer's row is locked while counting, so two requests at once
    cannot both fill the day."""
    if day > today:
        raise invalid([FieldError("day", "future_day", "不能为将来的日期补录 The day has not come yet")])
    volunteer_service.lock(session, volunteer_id)
    left = DAY_MINUTES - repo.minutes_on_day(session, volunteer_id, day)
    if minutes > left:
        raise invalid(
            [
                FieldError(
                    "minutes",
                    "over_day_limit",
                    f"当天已记录{DAY_MINUTES - left}分钟，最多还能补录{max(left, 0)}分钟"
                    f" The day already holds {DAY_MINUTES - left} minutes; at most {max(left, 0)} more",
                )
            ]
        )
    return post_award(
        session,
        key=key,
        kind="manual",
        volunteer_id=volunteer_id,
        hub_id=hub_id,
        day=day,
        minutes=minutes,
        points=0,
        rule=rule_of(None),
        note=note,
        minutes_account="volunteer_manual",
        now=now,
        tz=tz,
    )


def award_delivery(
    session: Session, *, volunteer_id: int, hub_id: int, delivery_key: str, at: datetime, now: datetime, tz
) -> Award | None:
    """The fixed award of a hub's rule for one home delivery (within the daily cap)."""
    key = f"delivery:{delivery_key}"
    if repo.award_exists(session, key):
        return None
    rule = current_rule(session, hub_id, at)
    day = local_day(at, tz)
    points = rule.delivery_points * rule.multiplier(day) // 100
    if rule.daily_cap:
        today = repo.points_on_day(session, volunteer_id, day, EARNING_KINDS)
        points = max(0, min(points, rule.daily_cap - today))
    return post_award(
        session,
        key=key,
        kind="delivery",
        volunteer_id=volunteer_id,
        hub_id=hub_id,
        day=day,
        minutes=0,
        points=points,
        rule=rule,
        note="送餐上门 home delivery",
        now=now,
        tz=tz,
    )


# Stars ----------------------------------------------------------------------------------------


def record_stars(session: Session, rules: dict[int, Rule], now: datetime) -> None:
    """Record each star level newly reached by these volunteers (levels once reached stay)."""
    served = repo.served_minutes(session, rules)
    have = repo.star_levels_of(session, rules)
    new = [
        {"volunteer_id": v, "level": level, "minutes": served.get(v, 0), "reached_at": now}
        for v, rule in rules.items()
        for level in range(1, rule.stars(served.get(v, 0)) + 1)
        if (v, level) not in have
    ]
    if new:
        repo.insert_star_levels(session, new)


def take_back_delivery(session: Session, *, delivery_key: str, now: datetime, tz: ZoneInfo) -> Award | None:
    """A delivery undone (its meal voided or reversed): the award's points taken back, once."""
    original = repo.award_by_key(session, f"delivery:{delivery_key}")
    key = f"delivery-undone:{delivery_key}"
    if original is None or not original.points or repo.award_exists(session, key):
        return None
    return post_award(
        session,
        key=key,
        kind="adjustment",
        volunteer_id=original.volunteer_id,
        hub_id=original.hub_id,
        day=local_day(now, tz),
        minutes=0,
        points=-original.points,
        rule=current_rule(session, original.hub_id, now),
        note="送餐记录作废，收回积分 delivery undone",
        corrects=original.key,
        now=now,
        tz=tz,
    )
