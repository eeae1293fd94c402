"""Earning: service time and points from attendance events, by versioned rules per hub."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from linli.errors import LinliError
from points import awards, ledger, rules, standing
from points.models import Award, Lot, StarLevel, Transfer
from tests.fixtures.builders import file_volunteer, staff_token, staff_user
from tests.fixtures.hub import START, TZ, Hub
from tests.fixtures.runtime import drain
from volunteer.models import Attendance


@pytest.fixture
def hub(client, rt):
    return Hub(client, rt)


def test_a_check_out_earns_minutes_and_points_once(hub):
    with freeze_time(START) as frozen:
        hub.scan()
        frozen.tick(timedelta(minutes=140))
        assert hub.scan()["outcome"] == "checked_out"
        assert drain(hub.rt) == 1
    # 140 minutes, counted in whole quarter hours (135) at 10 points an hour: 22 points
    assert hub.balances() == (140, 22)
    with hub.rt.tx() as s:
        attendance_id = s.scalar(select(Attendance.id))
    from workers.jobs import attendance_closed

    attendance_closed(attendance_id)  # the same event delivered again
    assert hub.balances() == (140, 22)
    with hub.rt.tx() as s:
        [award] = s.scalars(select(Award)).all()
        assert (award.kind, award.minutes, award.points, award.rule_id) == ("service", 140, 22, None)
        # the lot lasts to the end of the year after (Asia/Shanghai): 2032-01-01 00:00 local
        assert s.scalar(select(Lot.expires_at)) == datetime(2031, 12, 31, 16, 0, tzinfo=UTC)


def test_corrections_post_the_difference_pointing_at_what_they_correct(hub, client):
    a = hub.attendance(120)
    hub.settle(a)
    assert hub.balances() == (120, 20)
    with hub.rt.tx() as s:
        correction = _correct(s, a, 60)
    assert hub.settle(a, f"correction:{correction}").minutes == -60
    assert hub.balances() == (60, 10)
    with hub.rt.tx() as s:
        back = s.get(
            Transfer, s.scalar(select(Transfer.seq).where(Transfer.id == f"correction:{correction}:points"))
        )
        assert (
            back.corrects_id == f"attendance:{a}:points"
            and back.amount == 10
            and back.reason == "adjustment_takeback"
        )
        annul = _correct(s, a, None)
    hub.settle(a, f"correction:{annul}")
    assert hub.balances() == (0, 0)
    # the events again, in any order: nothing moves
    hub.settle(a, f"correction:{correction}")
    hub.settle(a)
    assert hub.balances() == (0, 0)


def _correct(s, attendance_id, minutes):
    from accounts.models import StaffUser
    from volunteer import attendance

    user = s.scalar(select(StaffUser.id).where(StaffUser.username == "counter"))
    return attendance.correct(
        s,
        attendance_id=attendance_id,
        minutes=minutes,
        annul=minutes is None,
        reason="核对签到表 checked against the paper sheet",
        staff_user_id=user,
        staff_paths=["/"],
        now=START + timedelta(hours=8),
    ).id


def test_points_already_spent_are_not_taken_back(hub):
    a = hub.attendance(120)
    hub.settle(a)
    with hub.rt.tx() as s:
        mine = ledger.volunteer_account(s, "points", hub.volunteer, START)
        shop = ledger.hub_account(s, "points", "hub_shop", hub.county.hub_a, START)
        assert ledger.create_transfers(
            s,
            [ledger.TransferInput(id="order:1", debit_account_id=mine, credit_account_id=shop, amount=15)],
            START,
        ) == ["created"]
        annul = _correct(s, a, None)
    award = hub.settle(a, f"correction:{annul}")
    assert award.points == -5 and "15分已兑换" in award.note and "作废" in award.note
    assert hub.balances() == (0, 0)


def test_a_flagged_attendance_earns_only_once_corrected(hub):
    a = hub.attendance(150, flagged=True)
    hub.settle(a)
    assert hub.balances() == (0, 0)
    with hub.rt.tx() as s:
        c = _correct(s, a, 90)
    hub.settle(a, f"correction:{c}")
    assert hub.balances() == (90, 15)


def test_rule_versions_apply_from_their_time_and_never_rewrite_history(hub):
    v1 = hub.rule(START - timedelta(days=1), points_per_hour={"default": 10, "meal_service": 20}, daily_cap=0)
    a = hub.attendance(60)
    hub.settle(a)
    v2 = hub.rule(START + timedelta(hours=3), points_per_hour={"default": 10, "meal_service": 30})
    b = hub.attendance(60, start=START + timedelta(hours=4))
    hub.settle(b)
    with hub.rt.tx() as s:
        got = {x.attendance_id: (x.points, x.rule_id) for x in s.scalars(select(Award))}
    assert got == {a: (20, v1), b: (30, v2)}
    with hub.rt.tx() as s:  # a correction to the first is judged by the first's rule
        c = _correct(s, a, 120)
    assert hub.settle(a, f"correction:{c}").points == 20
    assert hub.balances() == (180, 70)


def test_rounding_minimum_campaigns_and_the_daily_cap():
    rule = rules.rule_of(None)
    day = date(2030, 6, 3)
    assert rule.points("meal_service", 29, day) == 0  # under the 30-minute minimum
    assert rule.points("meal_service", 44, day) == 5  # 30 minutes counted
    assert rule.points("meal_service", 45, day) == 7
    double = rules.Rule(
        **{
            **rule.__dict__,
            "campaigns": [{"starts_on": "2030-06-01", "ends_on": "2030-06-03", "percent": 200}],
        }
    )
    assert double.points("meal_service", 60, day) == 20
    assert double.points("meal_service", 60, date(2030, 6, 4)) == 10


def test_the_daily_cap_counts_every_attendance_of_the_local_day(hub):
    hub.rule(START - timedelta(days=1), daily_cap=30)
    first = hub.attendance(120)  # 20 points
    second = hub.attendance(120, start=START + timedelta(hours=3))  # 20 more, 10 allowed
    next_day = hub.attendance(60, start=START + timedelta(hours=14))  # 00:30 the next local day
    for a in (first, second, next_day):
        hub.settle(a)
    with hub.rt.tx() as s:
        got = [x.points for x in s.scalars(select(Award).order_by(Award.id))]
    assert got == [20, 10, 10]


def test_manual_hours_are_kept_apart(hub):
    with hub.rt.tx() as s:
        awards.add_manual_hours(
            s,
            volunteer_id=hub.volunteer,
            hub_id=hub.county.hub_a,
            minutes=600,
            day=date(2030, 5, 1),
            note="纸质签到表补录",
            key="manual:1",
            now=START,
            tz=TZ,
            today=date(2030, 6, 3),
        )
        manual = ledger.account_by_key(s, f"service_minutes:volunteer_manual:{hub.volunteer}")
        assert manual.balance == 600 and manual.kind == "volunteer_manual"
    assert hub.balances() == (0, 0)


def test_hours_by_hand_only_for_the_hubs_volunteers_on_a_day_begun_and_24_hours_a_day(hub, client, clock):
    """Before: another hub's admin added hours to any volunteer of the county (201), for a day to
    come, and as many 24-hour entries for one day as they liked."""
    clock.at = START + timedelta(hours=8)  # 18:30 on 3 June, local
    staff_user(hub.rt, "admin_a", "admin", org_id=hub.county.hub_a)
    staff_user(hub.rt, "admin_b", "admin", org_id=hub.county.hub_b)
    admin_a, admin_b = staff_token(client, "admin_a"), staff_token(client, "admin_b")
    theirs = file_volunteer(hub.rt, "13900000301", hub.county.team_b, name="赵美玲")

    def add(who, volunteer, minutes, day="2030-06-03", hub_id=hub.county.hub_a):
        return client.post(
            f"/api/v1/volunteers/{volunteer}/manual-hours",
            json={
                "hub_id": hub_id,
                "minutes": minutes,
                "day": day,
                "note": "纸质签到表补录",
                "request_id": str(uuid.uuid4()),
            },
            headers=who,
        )

    for who, volunteer, hub_id in (
        (admin_b, hub.volunteer, hub.county.hub_b),  # B's own hub, A's volunteer
        (admin_a, theirs, hub.county.hub_a),  # A's hub, B's volunteer
    ):
        r = add(who, volunteer, 60, hub_id=hub_id)
        assert r.status_code == 403 and r.json()["code"] == "outside_your_scope", r.text
        assert "王秀英" not in r.text and "赵美玲" not in r.text
    assert add(admin_a, 999_999, 60).json()["code"] == "volunteer_not_found"
    future = add(admin_a, hub.volunteer, 60, day="2030-06-04")
    assert future.status_code == 422 and [e["code"] for e in future.json()["errors"]] == ["future_day"]
    hub.settle(hub.attendance(120))  # two verified hours that day
    assert add(admin_a, hub.volunteer, 1200).status_code == 201
    over = add(admin_a, hub.volunteer, 121)
    assert over.status_code == 422 and [e["code"] for e in over.json()["errors"]] == ["over_day_limit"]
    assert add(admin_a, hub.volunteer, 120).status_code == 201  # the day is full: 24 hours
    assert add(admin_a, hub.volunteer, 1, day="2030-06-02").status_code == 201  # another day
    with hub.rt.tx() as s:
        manual = ledger.account_by_key(s, f"service_minutes:volunteer_manual:{hub.volunteer}")
        assert manual.balance == 1200 + 120 + 1
        assert s.scalar(select(func.count()).select_from(Award).where(Award.volunteer_id == theirs)) == 0


def test_star_levels_are_recorded_when_reached_and_kept(hub):
    hub.rule(START - timedelta(days=1), star_hours=[1, 2, 3, 4, 5])
    a = hub.attendance(130)
    hub.settle(a)
    with hub.rt.tx() as s:
        assert sorted(s.scalars(select(StarLevel.level))) == [1, 2]
        assert standing.star_level(s, hub.volunteer) == 2
        annul = _correct(s, a, None)
    hub.settle(a, f"correction:{annul}")
    with hub.rt.tx() as s:
        assert standing.star_level(s, hub.volunteer) == 2  # a level once reached stays


def test_a_rule_is_checked_field_by_field(hub):
    with pytest.raises(LinliError) as err:
        hub.rule(START, rounding_minutes=0, star_hours=[5, 1], campaigns=[{"starts_on": "x"}])
    assert {e.field for e in err.value.errors} == {"rounding_minutes", "star_hours", "campaigns[0]"}


def test_a_close_and_a_correction_settled_at_once_credit_once(hub):
    """Both jobs read what was earned only after locking the volunteer, so neither pays twice."""
    import threading

    a = hub.attendance(120)
    with hub.rt.tx() as s:
        c = _correct(s, a, 90)
    barrier = threading.Barrier(2)

    def run(cause):
        barrier.wait()
        hub.settle(a, cause)

    threads = [
        threading.Thread(target=run, args=(cause,)) for cause in (f"attendance:{a}", f"correction:{c}")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hub.balances() == (90, 15)


def test_taking_back_reserved_points_cancels_the_order(hub):
    from points import shop

    a = hub.attendance(120)
    hub.settle(a)
    with hub.rt.tx() as s:
        item = shop.create_item(s, hub.county.hub_a, shop.ItemInput(name="大米", price=20, stock=1), START)
        order, _ = shop.place_order(
            s, volunteer_id=hub.volunteer, item_id=item.id, quantity=1, request_id=None, now=START, tz=TZ
        )
        annul = _correct(s, a, None)
    award = hub.settle(a, f"correction:{annul}")
    assert award.points == -20 and "已兑换" not in award.note
    assert hub.balances() == (0, 0)
    with hub.rt.tx() as s:
        assert shop.get_order(s, order.id).status == "cancelled"
        assert shop.get_item(s, item.id).stock == 1


def test_campaign_dates_are_stored_in_one_form(hub):
    hub.rule(
        START - timedelta(days=1),
        campaigns=[{"starts_on": "20300601", "ends_on": "2030-W23-7", "percent": 200}],
    )
    a = hub.attendance(60)
    assert hub.settle(a).points == 20
    with pytest.raises(LinliError) as err:
        hub.rule(START, campaigns=[{"starts_on": "2030-06-01", "ends_on": "2030-06-02", "percent": 150.5}])
    assert err.value.errors[0].field == "campaigns[0]"
