"""What a counter tablet caches while online to quote a meal while offline (离线暂估规则).

An offline tablet cannot ask the server what a diner pays, yet the coordinator must collect it. So
while online the tablet fetches its point's rules: the slots with their windows and prices, the
agreements paying there in stack order (schedule, weekly and monthly caps, home point only,
budget left), and per diner of the point only what the schedules decide by: the card's version,
the categories some tier names, the registered residence (户籍), the subsidized meals under each
capped agreement this week and this month, the slots already served a subsidized meal today and
whether meals are paused today (no name, birth date, phone, ID or address: the counter sees a
name when it scans). The
tablet applies `subsidy.split` (ported to `api/static/counter_offline.js`) and shows the figure as
provisional (暂估); the upload is judged by the server, whose amounts are the ones that count.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from meals import categories, edits, repository_cash, repository_counter
from meals.models import MealPoint


def rules(session: Session, point: MealPoint, day: date, now: datetime) -> dict:
    slots = sorted(repository_counter.point_slots(session, point.id, day), key=lambda s: s.starts)
    paying = repository_cash.agreements_paying(session, point.id, day)
    versions = edits.schedule_versions(session, [a.id for a in paying])
    agreements = []  # each with the schedule and caps in force on the day
    for a in paying:
        schedule, week_cap, month_cap, _ = edits.schedule_on(a, versions[a.id], day)
        agreements.append((a, schedule, week_cap, month_cap))
    named = {
        c
        for _, schedule, _, _ in agreements
        for tier in schedule
        for c in tier.get("categories", ())
        if c != "*"
    }
    monday = day - timedelta(days=day.weekday())
    capped = [a.id for a, _, week_cap, _ in agreements if week_cap is not None]
    week = repository_cash.week_counts(session, point.id, capped, monday, monday + timedelta(days=6))
    month_capped = [a.id for a, _, _, month_cap in agreements if month_cap is not None]
    first = day.replace(day=1)
    month = repository_cash.week_counts(
        session,
        point.id,
        month_capped,
        first,
        (first + timedelta(days=31)).replace(day=1) - timedelta(days=1),
    )
    county = categories.at_point(session, point)
    served = repository_cash.served_today(session, point.id, day)
    diners = []
    for d in repository_cash.home_diners(session, point.id):
        paused = bool(
            d.paused_from and d.paused_from <= day and (d.paused_until is None or day < d.paused_until)
        )
        diners.append(
            {
                "id": d.id,
                "card_version": d.card_version,
                "categories": sorted(county.of(d, day) & named),
                "residence": d.residence,
                "week_used": {str(a): week[(d.id, a)] for a in capped if (d.id, a) in week},
                "month_used": {str(a): month[(d.id, a)] for a in month_capped if (d.id, a) in month},
                "paused": paused,
                "served_today": served.get(d.id, []),
            }
        )
    return {
        "meal_point_id": point.id,
        "name": point.name,
        "station_id": point.station_id,
        "day": day,
        "fetched_at": now,
        "slots": [{"slot": s.slot, "starts": s.starts, "ends": s.ends, "price": s.price} for s in slots],
        "agreements": [
            {
                "id": a.id,
                "funder": a.name,
                "stack_order": a.stack_order,
                "schedule": schedule,
                "week_cap": week_cap,
                "month_cap": month_cap,
                "home_point_only": a.home_point_only,
                "budget_left": a.budget_cap - a.budget_used,
            }
            for a, schedule, week_cap, month_cap in agreements
        ],
        "diners": diners,
    }
