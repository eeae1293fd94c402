"""Earning (积分获取): service time and points from verified attendance, by a hub's versioned rules.

An attendance is settled by comparing what it should have earned (from its current state, by the
rule version in force when it closed) with what it has earned so far, and posting the difference.
The close event and every correction settle the same way, so their jobs may run in any order or
twice and the result is the same. A flagged attendance (a forgotten check-out) earns nothing until a
coordinator corrects it. Hours added by hand go to a separate account and earn no points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from orgs.models import Organization
from points import ledger
from points.ledger import TransferInput
from points.models import Account, Award, Lot, PointsRule, StarLevel, Transfer
from volunteer.models import ACTIVITY_KINDS, Activity, Attendance, AttendanceCorrection, Volunteer

DEFAULT_RULE = {
    "points_per_hour": {"default": 10},
    "rounding_minutes": 15,
    "minimum_minutes": 30,
    "daily_cap": 60,
    "campaigns": [],
    "delivery_points": 5,
    "expiry_years": 1,  # points expire at the end of the year after the year they were earned
    "star_hours": [100, 300, 600, 1000, 1500],  # the national community-volunteer standard
}
EARNING_KINDS = ("service", "adjustment", "delivery")  # what the daily cap counts


@dataclass(frozen=True)
class Rule:
    id: int | None  # None: the defaults above
    points_per_hour: dict
    rounding_minutes: int
    minimum_minutes: int
    daily_cap: int
    campaigns: list
    delivery_points: int
    expiry_years: int | None
    star_hours: list

    def points(self, kind: str, minutes: int, day: date) -> int:
        """Points for `minutes` of service of `kind` on `day`, before the daily cap."""
        if minutes < self.minimum_minutes:
            return 0
        counted = minutes // self.rounding_minutes * self.rounding_minutes
        per_hour = self.points_per_hour.get(kind, self.points_per_hour.get("default", 10))
        return counted * per_hour // 60 * self.multiplier(day) // 100

    def multiplier(self, day: date) -> int:
        """The best campaign running on `day`, in percent (100: none)."""
        iso = day.isoformat()
        return max(
            [c["percent"] for c in self.campaigns if c["starts_on"] <= iso <= c["ends_on"]], default=100
        )

    def lot_expiry(self, day: date, tz: ZoneInfo) -> datetime | None:
        if self.expiry_years is None:
            return None
        return datetime.combine(date(day.year + self.expiry_years + 1, 1, 1), time(), tz).astimezone(UTC)

    def stars(self, minutes: int) -> int:
        return sum(1 for hours in self.star_hours if minutes >= hours * 60)


def rule_of(row: PointsRule | None) -> Rule:
    if row is None:
        return Rule(id=None, **DEFAULT_RULE)
    return Rule(id=row.id, **{k: getattr(row, k) for k in DEFAULT_RULE})


def current_rule(session: Session, hub_id: int, at: datetime) -> Rule:
    """The hub's rule version in force at `at` (the defaults before its first version)."""
    row = session.scalar(
        select(PointsRule)
        .where(PointsRule.hub_id == hub_id, PointsRule.created_at <= at)
        .order_by(PointsRule.version.desc())
        .limit(1)
    )
    return rule_of(row)


def create_rule(
    session: Session, hub_id: int, values: dict, *, created_by: int | None, now: datetime
) -> PointsRule:
    """A new version of the hub's rules: fields not given keep the previous version's values."""
    previous = session.scalar(
        select(PointsRule).where(PointsRule.hub_id == hub_id).order_by(PointsRule.version.desc()).limit(1)
    )
    merged = {**(DEFAULT_RULE if previous is None else {k: getattr(previous, k) for k in DEFAULT_RULE})}
    merged |= values
    check_rule(merged)
    row = PointsRule(
        hub_id=hub_id,
        version=(previous.version + 1) if previous else 1,
        created_by=created_by,
        created_at=now,
        **merged,
    )
    session.add(row)
    session.flush()
    return row


def check_rule(r: dict) -> None:
    errors = []
    for k in DEFAULT_RULE:
        if r[k] is None and k != "expiry_years":
            errors.append(FieldError(k, "required", "不能为空 Must not be null"))
    if errors:
        raise invalid(errors)

    def bad(field, message):
        errors.append(FieldError(field, "out_of_range", message))

    per_hour = r["points_per_hour"]
    if (
        not isinstance(per_hour, dict)
        or any(k != "default" and k not in ACTIVITY_KINDS for k in per_hour)
        or any(not isinstance(v, int) or not 0 <= v <= 1000 for v in per_hour.values())
    ):
        bad(
            "points_per_hour",
            "按活动类型填写0到1000的整数 Whole points 0-1000 per activity kind (or default)",
        )
    if not 1 <= r["rounding_minutes"] <= 240:
        bad("rounding_minutes", "取整分钟应为1到240 Rounding must be 1 to 240 minutes")
    if not 0 <= r["minimum_minutes"] <= 1440:
        bad("minimum_minutes", "最短时长应为0到1440分钟 Minimum must be 0 to 1440 minutes")
    if not 0 <= r["daily_cap"] <= 100_000:
        bad("daily_cap", "每日上限应为0到100000 Daily cap must be 0 to 100000 (0: none)")
    if not 0 <= r["delivery_points"] <= 1000:
        bad("delivery_points", "送餐积分应为0到1000 Delivery points must be 0 to 1000")
    if r["expiry_years"] is not None and not 0 <= r["expiry_years"] <= 10:
        bad("expiry_years", "有效年数应为0到10，或不过期 Expiry must be 0 to 10 years, or null for never")
    hours = r["star_hours"]
    if not isinstance(hours, list) or len(hours) != 5 or hours != sorted(set(hours)) or hours[0] <= 0:
        bad("star_hours", "五个递增的小时数 Five increasing hour thresholds")
    campaigns = r["campaigns"] if isinstance(r["campaigns"], list) else [None]
    for i, c in enumerate(campaigns):
        try:
            starts, ends = date.fromisoformat(c["starts_on"]), date.fromisoformat(c["ends_on"])
            ok = (
                starts <= ends
                and isinstance(c["percent"], int)
                and not isinstance(c["percent"], bool)
                and 100 <= c["percent"] <= 1000
            )
            if ok:  # stored in one form, so the day comparison in `multiplier` holds
                campaigns[i] = {
                    "name": str(c.get("name", ""))[:50],
                    "starts_on": starts.isoformat(),
                    "ends_on": ends.isoformat(),
                    "percent": c["percent"],
                }
        except (TypeError, KeyError, ValueError, AttributeError):
            ok = False
        if not ok:
            bad(
                f"campaigns[{i}]",
                "活动需起止日期和100到1000的百分比 A campaign needs starts_on <= ends_on and percent 100-1000",
            )
    if errors:
        raise invalid(errors)


def rules_of(session: Session, hub_id: int) -> list[PointsRule]:
    return list(
        session.scalars(select(PointsRule).where(PointsRule.hub_id == hub_id).order_by(PointsRule.version))
    )


def hub_of(path: str) -> int:
    """The hub of an organization path "/base/hub/org/team/" (the base itself above hubs)."""
    ids = [int(p) for p in path.strip("/").split("/")]
    return ids[1] if len(ids) > 1 else ids[0]


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
    session.execute(
        select(Volunteer.id)
        .where(Volunteer.id.in_(select(Attendance.volunteer_id).where(Attendance.id.in_(ids))))
        .order_by(Volunteer.id)
        .with_for_update()
    )
    done = set(session.scalars(select(Award.key).where(Award.key.in_(causes))))
    rows = {
        a.id: (a, kind, path)
        for a, kind, path in session.execute(
            select(Attendance, Activity.kind, Organization.path)
            .join(Activity, Activity.id == Attendance.activity_id)
            .join(Organization, Organization.id == Activity.org_id)
            .where(Attendance.id.in_(ids))
        )
    }
    earned = {
        a: [int(m), int(p)]
        for a, m, p in session.execute(
            select(Award.attendance_id, func.sum(Award.minutes), func.sum(Award.points))
            .where(Award.attendance_id.in_(ids))
            .group_by(Award.attendance_id)
        )
    }
    hubs = {hub_of(path) for _, _, path in rows.values()}
    versions = list(
        session.scalars(select(PointsRule).where(PointsRule.hub_id.in_(hubs)).order_by(PointsRule.version))
    )
    days = {local_day(a.checked_in_at, tz) for a, _, _ in rows.values()}
    volunteers = {a.volunteer_id for a, _, _ in rows.values()}
    today: dict[tuple[int, date], dict[int | None, int]] = {}  # (volunteer, day) -> attendance -> points
    for v, d, a, p in session.execute(
        select(Award.volunteer_id, Award.day, Award.attendance_id, func.sum(Award.points))
        .where(Award.volunteer_id.in_(volunteers), Award.day.in_(days), Award.kind.in_(EARNING_KINDS))
        .group_by(Award.volunteer_id, Award.day, Award.attendance_id)
    ):
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
    posted = iter(post_awards(session, [spec for spec in specs if spec is not None], now=now, tz=tz))
    return [None if spec is None else next(posted) for spec in specs]


def award_by_key(session: Session, key: str) -> Award | None:
    return session.scalar(select(Award).where(Award.key == key))


def settle_correction(session: Session, correction_id: int, *, now: datetime, tz: ZoneInfo) -> Award | None:
    attendance_id = session.scalar(
        select(AttendanceCorrection.attendance_id).where(AttendanceCorrection.id == correction_id)
    )
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
            from points import shop

            shop.release_reservations(session, volunteer_id, points, now)
        available = dict(
            session.execute(
                select(
                    Account.id, Account.credits_posted - Account.debits_posted - Account.debits_pending
                ).where(Account.id.in_(takers))
            ).all()
        )
    corrected = set(
        session.scalars(
            select(Transfer.id).where(
                Transfer.id.in_(
                    [f"{a.corrects}:{x}" for a in specs if a.corrects for x in ("minutes", "points")]
                )
            )
        )
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
) -> Award:
    """Hours a hub adds by hand (e.g. from a paper sign-in sheet): kept apart from verified service,
    marked as such, no points and no stars."""
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
    if session.scalar(select(Award.id).where(Award.key == key)) is not None:
        return None
    rule = current_rule(session, hub_id, at)
    day = local_day(at, tz)
    points = rule.delivery_points * rule.multiplier(day) // 100
    if rule.daily_cap:
        today = session.scalar(
            select(func.coalesce(func.sum(Award.points), 0)).where(
                Award.volunteer_id == volunteer_id, Award.day == day, Award.kind.in_(EARNING_KINDS)
            )
        )
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
    served = dict(
        session.execute(
            select(Account.volunteer_id, Account.credits_posted - Account.debits_posted).where(
                Account.key.in_([f"service_minutes:volunteer:{v}" for v in rules])
            )
        ).all()
    )
    have = set(
        session.execute(
            select(StarLevel.volunteer_id, StarLevel.level).where(StarLevel.volunteer_id.in_(rules))
        ).all()
    )
    new = [
        {"volunteer_id": v, "level": level, "minutes": served.get(v, 0), "reached_at": now}
        for v, rule in rules.items()
        for level in range(1, rule.stars(served.get(v, 0)) + 1)
        if (v, level) not in have
    ]
    if new:
        session.execute(insert(StarLevel), new)


def star_level(session: Session, volunteer_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.max(StarLevel.level), 0)).where(StarLevel.volunteer_id == volunteer_id)
    )


# A volunteer's standing ---------------------------------------------------------------------


def standing(session: Session, volunteer_id: int) -> dict:
    """Balance, reserved points, service time, stars and progress, points by expiry date."""
    accounts = {
        a.key: a
        for a in session.scalars(
            select(Account).where(
                Account.key.in_(
                    [
                        f"points:volunteer:{volunteer_id}",
                        f"service_minutes:volunteer:{volunteer_id}",
                        f"service_minutes:volunteer_manual:{volunteer_id}",
                    ]
                )
            )
        )
    }
    points = accounts.get(f"points:volunteer:{volunteer_id}")
    minutes = accounts.get(f"service_minutes:volunteer:{volunteer_id}")
    manual = accounts.get(f"service_minutes:volunteer_manual:{volunteer_id}")
    # one round trip: the level reached, and the star thresholds of the rule behind the last award
    last_rule = (
        select(Award.rule_id).where(Award.volunteer_id == volunteer_id).order_by(Award.id.desc()).limit(1)
    ).scalar_subquery()
    level, star_hours = session.execute(
        select(
            select(func.coalesce(func.max(StarLevel.level), 0))
            .where(StarLevel.volunteer_id == volunteer_id)
            .scalar_subquery(),
            select(PointsRule.star_hours).where(PointsRule.id == last_rule).scalar_subquery(),
        )
    ).one()
    star_hours = star_hours or DEFAULT_RULE["star_hours"]
    served = minutes.balance if minutes else 0
    next_level = None
    if level < len(star_hours):
        hours = star_hours[level]
        next_level = {"level": level + 1, "hours": hours, "minutes_to_go": max(0, hours * 60 - served)}
    expiring = []
    if points is not None:
        expiring = [
            {"expires_at": at, "points": int(n)}
            for at, n in session.execute(
                select(Lot.expires_at, func.sum(Lot.remaining))
                .where(Lot.account_id == points.id, Lot.remaining > 0, Lot.expires_at.is_not(None))
                .group_by(Lot.expires_at)
                .order_by(Lot.expires_at)
                .limit(5)
            )
        ]
    return {
        "balance": points.balance if points else 0,
        "available": points.available if points else 0,
        "reserved": points.debits_pending if points else 0,
        "service_minutes": served,
        "manual_minutes": manual.balance if manual else 0,
        "star_level": level,
        "next_level": next_level,
        "expiring": expiring,
    }


def transfers_of(
    session: Session, volunteer_id: int, before_seq: int, limit: int
) -> list[tuple[Transfer, int]]:
    """The volunteer's transfers on both ledgers, newest first, each with its signed amount."""
    ids = list(session.scalars(select(Account.id).where(Account.volunteer_id == volunteer_id)))
    if not ids:
        return []
    q = select(Transfer).where(Transfer.debit_account_id.in_(ids) | Transfer.credit_account_id.in_(ids))
    if before_seq:
        q = q.where(Transfer.seq < before_seq)
    rows = session.scalars(q.order_by(Transfer.seq.desc()).limit(limit))
    return [(t, t.amount if t.credit_account_id in ids else -t.amount) for t in rows]


def take_back_delivery(session: Session, *, delivery_key: str, now: datetime, tz: ZoneInfo) -> Award | None:
    """A delivery undone (its meal voided or reversed): the award's points taken back, once."""
    original = session.scalar(select(Award).where(Award.key == f"delivery:{delivery_key}"))
    key = f"delivery-undone:{delivery_key}"
    if (
        original is None
        or not original.points
        or session.scalar(select(Award.id).where(Award.key == key)) is not None
    ):
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
