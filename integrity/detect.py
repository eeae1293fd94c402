"""The day's sweep (每日核查): anomalies that hold nothing, flagged once for a hub to look at
(`GET /api/v1/integrity/flags`). Each kind, what it catches and why, is in docs/integrity.md."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from statistics import median

from sqlalchemy.orm import Session

from integrity import repository
from integrity.service import flag

TWO_POINTS_WITHIN = timedelta(hours=1)  # one card at two meal points this close: a copied card
VOLUME_HISTORY_DAYS = 28  # a device's usual day, from the four weeks before
VOLUME_MIN_HISTORY = 5  # days with meals, before a device has a "usual"
VOLUME_FACTOR, VOLUME_MARGIN = 3, 20  # far above usual: 3 times the median and 20 meals more


def sweep(session: Session, day: date, *, now: datetime, tz) -> int:
    """Flag the day's anomalies (a local day); returns how many flags are new."""
    found = 0
    found += _two_points(session, day, now)
    found += _volume(session, day, now)
    for meal_id, diner_id, path in repository.meals_while_paused(session, day):
        found += _flag(session, "paused_diner", f"meal:{meal_id}", path, {"diner_id": diner_id}, now)
    start = datetime.combine(day, time(0), tz)
    for attendance_id, minutes, starts_at, ends_at, path in repository.attendances_checked_in(
        session, start, start + timedelta(days=1)
    ):
        length = int((ends_at - starts_at).total_seconds() // 60)
        if minutes > length:
            detail = {"minutes": minutes, "activity_minutes": length}
            found += _flag(session, "long_attendance", f"attendance:{attendance_id}", path, detail, now)
    return found


def _two_points(session: Session, day: date, now: datetime) -> int:
    found, last = 0, {}  # diner → their latest meal so far: (id, point, served_at)
    for meal_id, diner_id, point_id, served_at, _, path in repository.meals_of_day(session, day):
        before = last.get(diner_id)
        if before and before[1] != point_id and served_at - before[2] <= TWO_POINTS_WITHIN:
            detail = {"meal_ids": [before[0], meal_id], "meal_point_ids": [before[1], point_id]}
            found += _flag(session, "card_two_points", f"diner:{diner_id}:{day}", path, detail, now)
        last[diner_id] = (meal_id, point_id, served_at)
    return found


def _volume(session: Session, day: date, now: datetime) -> int:
    history: dict[str, list[int]] = {}
    for device, on, meals in repository.meals_by_device(
        session, day - timedelta(days=VOLUME_HISTORY_DAYS), day
    ):
        if on != day:
            history.setdefault(device, []).append(meals)
    today = {device: meals for device, on, meals in repository.meals_by_device(session, day, day)}
    paths = {}
    for _, _, _, _, device, path in repository.meals_of_day(session, day):
        paths.setdefault(device, path)
    found = 0
    for device, meals in today.items():
        usual = history.get(device, [])
        if len(usual) < VOLUME_MIN_HISTORY:
            continue
        typical = median(usual)
        if meals >= VOLUME_FACTOR * typical and meals >= typical + VOLUME_MARGIN:
            detail = {"device": device, "meals": meals, "usual": typical}
            found += _flag(
                session, "coordinator_volume", f"{device.split(' ')[0]}:{day}", paths[device], detail, now
            )
    return found


def _flag(session: Session, kind: str, subject: str, path: str, detail: dict, now: datetime) -> int:
    return flag(session, kind=kind, subject=subject, path=path, detail=detail, now=now) is not None
