"""A scoped world (one hub, one meal point, one partner's agreement, a few diners and a volunteer,
a month of meals, scans, attendances and ledger transfers), built through the services and the
API like the other tests, and data outside it (other counties: hubs, meal points, partners,
volunteers; other months at the same point) grown in bulk, for the EXPLAIN tests (tests/scale)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text

from cli.demo_scale import County, load_county
from linli import partitions
from meals import delivery
from meals.models import Diner
from points import ledger
from tests.fixtures.builders import file_volunteer, make_activity, staff_token, staff_user, volunteer_token
from tests.fixtures.month import Month
from tests.fixtures.runtime import drain
from volunteer.models import Volunteer

PHONE = "13807319001"
JULY_1 = datetime(2030, 7, 1, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai
JULY_2 = JULY_1 + timedelta(days=1)
SETTLED = datetime(2030, 7, 5, 2, 0, tzinfo=UTC)  # June is settled: its reports and dashboards


class World(Month):
    """Month's meal point (hub A, partner1's agreement, 14 diners, June's meals, a closed day),
    and a volunteer serving at its station: a shift on 1 July checked in and out and awarded, a
    shift on 2 July checked in; grandma's lunch brought home on the settled day, a run to take."""

    def __init__(self, rt, client, clock):
        super().__init__(rt, client, clock)
        self.clock = clock
        staff_user(rt, "county", "admin", org_id=self.county.base)
        self.volunteer = file_volunteer(rt, PHONE, self.county.open_team, name="周志愿")
        for start in (JULY_1, JULY_2):
            make_activity(rt, self.county.org_a, self.station, start, hours=6, capacity=5)
        clock.at = JULY_1
        assert self.volunteer_scan()["outcome"] == "checked_in"
        clock.at = JULY_1 + timedelta(hours=3)
        assert self.volunteer_scan()["outcome"] == "checked_out"
        drain(rt)  # the shift's award: transfers on both ledgers
        clock.at = JULY_2
        assert self.volunteer_scan()["outcome"] == "checked_in"
        with rt.tx() as s:
            grandma = s.get(Diner, self.grandma)
            grandma.delivery, grandma.address = True, "泉塘街道助餐路1号"
            day = SETTLED.astimezone(rt.settings.tz).date()
            self.run = delivery.plan(s, self.point.id, day, "lunch", SETTLED)[0].id

    def token(self, who: str) -> dict:
        """A fresh token (at the clock's time) of a staff user, or of the volunteer."""
        return volunteer_token(self.rt, PHONE) if who == "volunteer" else staff_token(self.client, who)

    def volunteer_scan(self, headers=None) -> dict:
        return self.card_scan(
            self.rt.codes.volunteer_card(self.volunteer, 1), headers or self.token("counter")
        )

    def card_scan(self, payload: str, headers: dict) -> dict:
        r = self.client.post(
            "/api/v1/scans",
            json={"payload": payload, "station_id": self.station, "scan_id": str(uuid.uuid4())},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def report(self, headers: dict, **ask) -> None:
        r = self.client.post(
            "/api/v1/reports", json={"kind": "meal_usage", "format": "json", **ask}, headers=headers
        )
        assert r.status_code in (200, 202), r.text
        drain(self.rt)
        status = self.client.get(f"/api/v1/reports/{r.json()['id']}", headers=headers).json()
        assert status["status"] == "done", status


def grow(rt, world: World, counties: range, days: int = 60, shifts: int = 15) -> None:
    """Data outside the world's scope: each county in `counties` (cli.demo_scale's, from 2) with its
    hubs, 3 meal points, 3 partners, 2,000 volunteers and `days` of lunches before today; 300 of its
    volunteers `shifts` closed attendances each (with their scan, award, minutes transfer and outbox
    row); its points' day closes and bookings; a tenth of its diners' lunches brought home, and a
    delivery run at each point each day; and at the world's own meal point, its diners' lunches of
    60 days in 2027-2028 (other months) with partner1's subsidy."""
    with rt.tx() as s:  # every month the data lands in has its partition, as `linli cron` keeps them
        today = rt.clock.now().astimezone(rt.settings.tz).date()
        partitions.ensure_months(s.connection(), today - timedelta(days=days + 31), today)
        partitions.ensure_months(s.connection(), date(2027, 1, 1), date(2028, 12, 31))
    for k in counties:
        with rt.tx() as s:
            first_volunteer = (s.scalar(select(func.max(Volunteer.id))) or 0) + 1
            load_county(s, rt, volunteers=2000, days=days, organizations=24, county=County(k))
            root = s.scalar(
                text("SELECT id FROM organizations WHERE name = :n AND parent_id IS NULL"),
                {"n": County(k).base},
            )
            sites = s.execute(
                text(
                    "SELECT o.parent_id, mp.org_id, mp.station_id, mp.id"
                    " FROM meal_points mp JOIN organizations o ON o.id = mp.org_id"
                    " WHERE o.path LIKE (SELECT path FROM organizations WHERE id = :r) || '%' ORDER BY mp.id"
                ),
                {"r": root},
            ).all()
            # nine teams more under each organization, with the volunteers the demo left unfiled:
            # about eight filings a team, as at county scale (10,000 filings, 1,184 teams)
            s.execute(
                text(
                    "INSERT INTO organizations (parent_id, kind, name, path, join_mode, created_at)"
                    " SELECT o.id, 'team', o.name || '第' || n || '队', o.path, 'open', :now"
                    " FROM organizations o CROSS JOIN generate_series(2, 10) n"
                    " WHERE o.kind = 'organization'"
                    " AND o.path LIKE (SELECT path FROM organizations WHERE id = :r) || '%'"
                ),
                {"r": root, "now": rt.clock.now()},
            )
            s.execute(
                text(
                    "UPDATE organizations SET path = path || id || '/' WHERE kind = 'team' AND path NOT LIKE '%/' || id || '/'"
                )
            )
            s.execute(
                text(
                    """
                    INSERT INTO filings (volunteer_id, team_id, status, created_at, decided_at)
                    SELECT v.id, t.id, 'approved', :now, :now
                    FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM volunteers v
                          WHERE id >= :first AND NOT EXISTS (SELECT FROM filings f WHERE f.volunteer_id = v.id)) v
                    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM organizations
                          WHERE kind = 'team' AND name LIKE '%第%队'
                          AND path LIKE (SELECT path FROM organizations WHERE id = :r) || '%') t
                      ON t.k = mod(v.k, :teams) + 1
                    """
                ),
                {"r": root, "now": rt.clock.now(), "first": first_volunteer, "teams": 9 * 24},
            )
        hub, points = sites[0][0], [site[3] for site in sites]
        start = rt.clock.now() - timedelta(days=shifts + 1)
        with rt.tx() as s:
            now, tag = rt.clock.now(), f"bulk{k}"
            volunteers = list(s.scalars(select(Volunteer.id).where(Volunteer.id >= first_volunteer)))
            accounts = ledger.ensure_accounts(
                s,
                {
                    f"service_minutes:volunteer:{v}": {
                        "ledger": "service_minutes",
                        "kind": "volunteer",
                        "volunteer_id": v,
                    }
                    for v in volunteers[:300]
                },
                now,
            )
            issuer = ledger.hub_account(s, "service_minutes", "hub_issued", hub, now)
            # a shift a day at each meal point's station; each of 300 volunteers at one point's
            s.execute(
                text(
                    "INSERT INTO activities (org_id, station_id, title, kind, starts_at, ends_at, capacity,"
                    " walk_ins, created_at, description)"
                    " SELECT site.org, site.station, :tag, 'meal_service', :start + d * interval '1 day',"
                    " :start + d * interval '1 day' + interval '4 hours', 300, true, :start, ''"
                    " FROM unnest(CAST(:orgs AS bigint[]), CAST(:stations AS bigint[])) site(org, station)"
                    " CROSS JOIN generate_series(0, :shifts - 1) d"
                ),
                {
                    "tag": tag,
                    "start": start,
                    "orgs": [site[1] for site in sites],
                    "stations": [site[2] for site in sites],
                    "shifts": shifts,
                },
            )
            s.execute(
                text(
                    """
                    INSERT INTO attendances (activity_id, volunteer_id, station_id, state, checked_in_at,
                      checked_out_at, minutes, flagged, created_at)
                    SELECT a.id, v.id, a.station_id, 'closed', a.starts_at, a.starts_at + interval '2 hours',
                      120, false, a.starts_at
                    FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM unnest(CAST(:volunteers AS bigint[])) id) v
                    JOIN (SELECT id, station_id, starts_at, dense_rank() OVER (ORDER BY station_id) AS k
                          FROM activities WHERE title = :tag) a ON a.k = v.k % :sites + 1
                    """
                ),
                {"tag": tag, "volunteers": volunteers[:300], "sites": len(sites)},
            )
            ours = "FROM attendances a WHERE a.activity_id IN (SELECT id FROM activities WHERE title = :tag)"
            s.execute(  # every scan id is a key first (scan_keys, migration 0030)
                text(
                    "INSERT INTO scan_keys (scan_id, effective_at)"
                    f" SELECT :tag || '-' || a.id, a.checked_in_at {ours}"
                ),
                {"tag": tag},
            )
            s.execute(
                text(
                    "INSERT INTO scans (scan_id, station_id, device, payload, code_kind, volunteer_id,"
                    " attendance_id, outcome, result, scanned_at, received_at, effective_at, flagged, offline)"
                    f" SELECT :tag || '-' || a.id, a.station_id, 'tablet', 'card', 'volunteer', a.volunteer_id,"
                    " a.id, 'checked_in', CAST('{}' AS json), a.checked_in_at, a.checked_in_at,"
                    f" a.checked_in_at, false, false {ours}"
                ),
                {"tag": tag},
            )
            s.execute(
                text(
                    "INSERT INTO point_awards (key, volunteer_id, hub_id, kind, day, minutes, points,"
                    " attendance_id, note, created_at)"
                    " SELECT :tag || '-' || a.id, a.volunteer_id, :hub, 'service',"
                    f" CAST(a.checked_in_at AS date), a.minutes, 0, a.id, '', a.checked_out_at {ours}"
                ),
                {"tag": tag, "hub": hub},
            )
            s.execute(
                text(
                    "INSERT INTO outbox (job_id, event, args, queue, created_at, enqueued_at, attempts)"
                    " SELECT :tag || '-' || a.id, 'attendance.closed', CAST('{}' AS json), 'default',"
                    f" a.checked_out_at, a.checked_out_at, 1 {ours}"
                ),
                {"tag": tag},
            )
            s.execute(
                text(
                    "INSERT INTO transfer_ids (id, created_at) SELECT :tag || '-' || a.id, a.checked_out_at"
                    " FROM attendances a JOIN ledger_accounts acc"
                    " ON acc.volunteer_id = a.volunteer_id AND acc.ledger = :ledger"
                    " WHERE a.activity_id IN (SELECT id FROM activities WHERE title = :tag)"
                ),
                {"tag": tag, "ledger": "service_minutes"},
            )
            s.execute(
                text(
                    "INSERT INTO ledger_transfers (id, ledger, kind, debit_account_id, credit_account_id,"
                    " amount, reason, reference, created_at)"
                    " SELECT :tag || '-' || a.id, 'service_minutes', 'single', :issuer, acc.id, a.minutes,"
                    " 'service_award', 'attendance:' || a.id, a.checked_out_at"
                    " FROM attendances a JOIN ledger_accounts acc"
                    " ON acc.volunteer_id = a.volunteer_id AND acc.ledger = :ledger"
                    " WHERE a.activity_id IN (SELECT id FROM activities WHERE title = :tag)"
                ),
                {"tag": tag, "issuer": issuer, "ledger": "service_minutes"},
            )
            for side, column in (
                ("credit_account_id", "credits_posted"),
                ("debit_account_id", "debits_posted"),
            ):
                s.execute(
                    text(
                        f"UPDATE ledger_accounts a SET {column} = a.{column} + b.total"
                        f" FROM (SELECT {side} AS account, sum(amount) AS total FROM ledger_transfers"
                        f" WHERE id LIKE :tag || '-%' GROUP BY {side}) b WHERE a.id = b.account"
                    ),
                    {"tag": tag},
                )
            assert len(accounts) == min(300, len(volunteers))
            s.execute(
                text(
                    "INSERT INTO meal_day_closes (meal_point_id, service_day, meals, subsidized, diners,"
                    " price_total, paid_total, subsidy_total, by_funder, voided, closed_at)"
                    " SELECT meal_point_id, service_day, count(*), count(*) FILTER (WHERE subsidized),"
                    " count(DISTINCT diner_id), sum(price), sum(paid), sum(subsidy), CAST('{}' AS json), 0, :now"
                    " FROM meals WHERE meal_point_id = ANY(:points) GROUP BY meal_point_id, service_day"
                ),
                {"points": points, "now": now},
            )
            s.execute(
                text(
                    "INSERT INTO meal_bookings (diner_id, meal_point_id, service_day, slot, mode, status, created_at)"
                    " SELECT diner_id, meal_point_id, service_day, slot, mode, 'served', served_at"
                    " FROM meals WHERE meal_point_id = ANY(:points)"
                ),
                {"points": points},
            )
            # home delivery: a run a day at each point for its one community, as `delivery.plan`
            # makes them, over the days of lunches and today
            s.execute(
                text(
                    "UPDATE diners SET delivery = true, address = '助餐路1号'"
                    " WHERE home_point_id = ANY(:points) AND id % 10 = 0"
                ),
                {"points": points},
            )
            s.execute(
                text(
                    "INSERT INTO meal_delivery_runs (meal_point_id, service_day, slot, community, created_at)"
                    " SELECT p, CAST(:today AS date) - d, 'lunch', '社区' || p, :now"
                    " FROM unnest(CAST(:points AS bigint[])) p CROSS JOIN generate_series(0, :days) d"
                ),
                {"points": points, "today": today, "days": days, "now": now},
            )
            # the world's own point and partner, other months: its diners' lunches in 2027-2028,
            # 2 yuan of each paid by partner1's agreement
            s.execute(
                text(
                    """
                    WITH m AS (
                      INSERT INTO meals (meal_point_id, diner_id, slot, service_day, mode, price, subsidy, paid,
                        subsidized, status, served_at, served_by)
                      SELECT :point, d, 'lunch', day, 'dine_in', 1200, 200, 1000, true, 'served',
                        day + time '03:40', 'bulk'
                      FROM unnest(CAST(:diners AS bigint[])) d
                      CROSS JOIN generate_series(DATE '2027-01-01' + (:k - 2) * 60,
                                                 DATE '2027-01-01' + (:k - 2) * 60 + 59, interval '1 day') day
                      RETURNING id, meal_point_id, diner_id, service_day)
                    INSERT INTO meal_subsidies (meal_id, agreement_id, amount, tier, meal_point_id, diner_id,
                      service_day, voided)
                    SELECT id, :agreement, 200, '*', meal_point_id, diner_id, service_day, false FROM m
                    """
                ),
                {"point": world.point.id, "diners": world.diners, "k": k, "agreement": world.enterprise},
            )
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
