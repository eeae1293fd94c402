"""Earning rules (积分规则): a hub's versioned rules (points per hour by activity kind, rounding,
minimum, daily cap, campaigns, delivery points, expiry, star thresholds). A new version never
changes awards already made: each award keeps the version in force when its attendance closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from points import repository_awards
from points.models import PointsRule
from volunteer.schemas import ACTIVITY_KINDS

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
    return rule_of(repository_awards.rule_in_force(session, hub_id, at))


def create_rule(
    session: Session, hub_id: int, values: dict, *, created_by: int | None, now: datetime
) -> PointsRule:
    """A new version of the hub's rules: fields not given keep the previous version's values."""
    previous = repository_awards.latest_rule(session, hub_id)
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
    return repository_awards.rules_of(session, hub_id)


def hub_of(path: str) -> int:
    """The hub of an organization path "/base/hub/org/team/" (the base itself above hubs)."""
    ids = [int(p) for p in path.strip("/").split("/")]
    return ids[1] if len(ids) > 1 else ids[0]
