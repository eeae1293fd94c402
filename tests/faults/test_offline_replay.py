"""Offline tablets with clocks minutes wrong, uploading their scans late, again, and cut off
halfway (故障注入: 离线平板重传). Tablets at two stations capture volunteers' cards and diners'
cards while offline; one is 4 minutes slow, one 5 minutes fast (beyond the 120 seconds of skew
allowed, so its last scans are judged at the upload time plus 120 s), one a minute fast. Their
batches go to `POST /api/v1/scans/batch` of the app under uvicorn: once each (the clean upload),
again, cut off halfway (only the first part sent, or the connection dropped by a client timeout
while the server is still judging) and then sent whole, in interleavings Hypothesis chooses. The
final state, a normalised dump of attendances, scans, meals and subsidies, budgets and (after the
jobs have run) awards and the ledger, is the clean upload's, and so are the answers each tablet
gets.

One volunteer (V6) checks in at one counter tablet and out at the other: whichever uploads first,
the check-out ends the session the check-in began (a scan arriving before later offline scans of
the same volunteer has them judged again after it).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from linli.db import Base
from meals import service as meals
from points import verification
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
    valid_id,
)
from tests.fixtures.database import truncate
from tests.fixtures.runtime import LiveServer, drain
from workers import jobs

pytestmark = pytest.mark.slow  # fault injection: left out of `make test-quick`

TZ_OFFSET = timedelta(hours=8)  # Asia/Shanghai
DAY = date(2030, 6, 4)  # a Tuesday
UPLOAD = datetime(2030, 6, 4, 13, 5, tzinfo=UTC) - TZ_OFFSET  # 13:05 local: the network is back
PHONES = {
    "V1": "13807310041",
    "V2": "13807310042",
    "V3": "13807310043",
    "V4": "13807310044",
    "V5": "13807310045",
    "V6": "13807310046",
}
NAMES = {"V1": "赵一", "V2": "钱二", "V3": "孙三", "V4": "李四", "V5": "周五", "V6": "吴六"}
DINERS = {"D1": "王桂英", "D2": "李国华", "D3": "张秀兰", "D4": "陈德胜", "D5": "刘玉珍", "D6": "杨德福"}


def local(hhmm: str) -> datetime:
    h, m, *s = (int(x) for x in hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, h, m, s[0] if s else 0, tzinfo=UTC) - TZ_OFFSET


# What each tablet captured: (true local time, whose card). The tablet stamps it with its own clock.
TABLETS = {
    "T1": {  # the activity room's desk, 4 minutes slow: the morning visit, 09:00-11:00
        "user": "desk",
        "skew": timedelta(minutes=-4),
        "scans": [
            ("08:55", "V1"),  # early: counted from 09:00
            ("09:08", "V2"),
            ("09:08:20", "V2"),  # a double tap: duplicate
            ("09:09", "garbage"),  # not a Linli code
            ("09:10", "V3"),  # never checks out: closed by the job, flagged
            ("10:40", "V1"),
            ("10:58", "V2"),
        ],
    },
    "T2": {  # the canteen counter, 5 minutes fast (beyond the 2 minutes allowed)
        "user": "counter",
        "skew": timedelta(minutes=5),
        "scans": [
            ("07:40", "D3"),  # breakfast
            ("10:55", "V4"),  # the lunch shift, 11:00-13:30
            ("11:35", "D1"),
            ("11:40", "D2"),
            ("11:41", "D1"),  # served already: refused, flagged
            ("12:10", "D4"),
            ("13:03", "D5"),  # the tablet says 13:08: judged at 13:07 (upload + 120 s)
            ("13:03:30", "V4"),  # likewise: checked out at 13:07
            ("11:02", "V6"),  # checks in here (11:07 by this clock), out at the other tablet
        ],
    },
    "T3": {  # a second tablet at the counter, a minute fast
        "user": "counter2",
        "skew": timedelta(minutes=1),
        "scans": [
            ("08:10", "D6"),
            ("08:20", "D2"),  # breakfast here, lunch at the other tablet
            ("11:05", "V5"),
            ("12:15", "D6"),
            ("12:30:30", "V5"),
            ("12:40", "V6"),  # out here (12:41 by this clock): 94 minutes
        ],
    },
}


# Another device at the counter, where the morning's volunteers V1 and V2 serve lunch (11:00-13:30)
# after the visit: the same volunteers on two tablets, each session whole on one.
LUNCH_DESK = {
    "user": "counter2",
    "skew": timedelta(minutes=1),
    "scans": [("11:10", "V1"), ("11:30", "V2"), ("12:30", "V2"), ("12:45", "V1")],
}
DEVICES = {**TABLETS, "T4": LUNCH_DESK}


class World:
    """A county with an activity room (a visit 09:00-11:00) and a canteen whose counter has a
    lunch shift (11:00-13:30); its tablets' coordinators, volunteers and diners. Built the same way
    after every reset, so its ids are the same each time."""

    def __init__(self, rt, http) -> None:
        self.rt = rt
        now = UPLOAD - timedelta(hours=8)
        county = make_county(rt)
        self.room = make_station(rt, county.org_a, name="活动室")
        with rt.tx() as s:
            point = meals.create_meal_point(
                s,
                org_id=county.org_a,
                name="泉心食堂",
                address="泉塘街道泉心路1号",
                daily_capacity=300,
                slots=[
                    meals.SlotInput("breakfast", "07:00", "09:00", 800),
                    meals.SlotInput("lunch", "11:00", "13:30", 1200),
                ],
                now=now,
            )
            self.counter = point.station_id
            for name, kind, order, schedule in (
                (
                    "县民政助餐补贴",
                    "government",
                    1,
                    [{"categories": ["tekun"], "slots": ["lunch"], "amount": 900}],
                ),
                (
                    "泉心社会企业",
                    "enterprise",
                    2,
                    [{"categories": ["*"], "slots": ["breakfast", "lunch"], "amount": 200}],
                ),
            ):
                meals.create_agreement(
                    s,
                    meals.AgreementInput(
                        name=name,
                        funder_kind=kind,
                        stack_order=order,
                        starts_on=DAY - timedelta(days=30),
                        ends_on=DAY + timedelta(days=30),
                        budget_cap=1_000_000,
                        schedule=schedule,
                        meal_point_ids=[point.id],
                    ),
                    now,
                )
            self.people = {}
            for n, (key, name) in enumerate(DINERS.items()):
                self.people[key] = meals.register_diner(
                    s,
                    rt.signer,
                    meals.DinerInput(
                        name=name,
                        birth_date=date(1945, 3, 1),
                        community="泉塘社区",
                        id_number=valid_id(f"43012119450301{n:03d}"),
                        home_point_id=point.id,
                        consent=True,
                        categories=("tekun",) if key in ("D1", "D4") else (),
                    ),
                    created_by=None,
                    now=now,
                    today=DAY,
                ).id
        for key, phone in PHONES.items():
            self.people[key] = file_volunteer(rt, phone, county.open_team, name=NAMES[key])
        make_activity(rt, county.org_a, self.room, local("09:00"), hours=2, title="探访长者")
        make_activity(rt, county.org_a, self.counter, local("11:00"), hours=2.5)
        staff_user(rt, "desk", "coordinator", org_id=county.org_a, station_id=self.room)
        for user in ("counter", "counter2"):
            staff_user(rt, user, "coordinator", org_id=county.org_a, station_id=self.counter)
        self.http = http
        self.headers = {
            t: {**staff_token(http, spec["user"]), "x-device-id": f"tablet-{t}"}
            for t, spec in DEVICES.items()
        }
        self.batches = {t: self.batch(t) for t in DEVICES}

    def batch(self, tablet: str) -> list[dict]:
        spec = DEVICES[tablet]
        station = self.room if tablet == "T1" else self.counter
        scans = []
        for n, (at, who) in enumerate(spec["scans"]):
            if who == "garbage":
                payload = "https://example.com/not-a-card"
            elif who.startswith("V"):
                payload = self.rt.codes.volunteer_card(self.people[who], 1)
            else:
                payload = self.rt.codes.diner_card(self.people[who], 1)
            scans.append(
                {
                    "payload": payload,
                    "station_id": station,
                    "scan_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"linli-test/{tablet}/{n}")),
                    "scanned_at": (local(at) + spec["skew"]).isoformat(),
                }
            )
        return scans

    def upload(self, tablet: str, scans: list[dict], timeout: float | None = None) -> list[dict] | None:
        """POST a batch; with a read timeout, the tablet gives up (the server may go on judging)."""
        try:
            r = self.http.post(
                "/api/v1/scans/batch",
                json={"scans": scans},
                headers=self.headers[tablet],
                timeout=httpx.Timeout(30, read=timeout) if timeout else 30,
            )
        except httpx.TimeoutException:
            return None
        assert r.status_code == 200, r.text
        return r.json()["results"]


def settle(rt, live) -> None:
    """Wait for requests the tablets gave up on, then run what follows the uploads: the job that
    closes forgotten check-outs, the relay and the workers' jobs (awards)."""
    deadline = time.monotonic() + 30
    while live.server.server_state.tasks:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert jobs.close_forgotten_checkouts() in (0, 1)
    drain(rt)
    drain(rt)  # the notices the award jobs made (points awarded)


_IDS = re.compile(r"(attendance:|attendance-closed-|meal:)(\d+)")
TABLES = [
    "attendances",
    "scans",
    "meals",
    "meal_subsidies",
    "funding_agreements",
    "point_awards",
    "ledger_accounts",
    "ledger_transfers",
    "point_lots",
    "star_levels",
    "outbox",
    "integrity_flags",
]
REFS = {
    "attendance_id": "attendances",
    "meal_id": "meals",
    "account_id": "ledger_accounts",
    "debit_account_id": "ledger_accounts",
    "credit_account_id": "ledger_accounts",
}
# when an upload arrived; the order the ledger recorded transfers in; an outbox job's arguments
# (raw ids: its job id, normalised, names the same cause)
LEFT_OUT = {"received_at", "seq", "args"}


def dump(rt) -> tuple[dict, dict]:
    """The tables the uploads and their jobs change, with surrogate ids replaced by what the rows
    are (an attendance: volunteer, activity, check-in; a meal: diner, day, slot, scan; an account:
    its key) and the time each upload was received left out. Returns the dump and the names."""
    with rt.engine.connect() as conn:
        rows = {t: [dict(r._mapping) for r in conn.execute(select(Base.metadata.tables[t]))] for t in TABLES}
    names = {
        "attendances": {
            r["id"]: f"{r['volunteer_id']}@{r['activity_id']}@{r['checked_in_at']}"
            for r in rows["attendances"]
        },
        "meals": {
            r["id"]: f"{r['diner_id']}@{r['service_day']}@{r['slot']}@{r['scan_id']}" for r in rows["meals"]
        },
        "ledger_accounts": {r["id"]: r["key"] for r in rows["ledger_accounts"]},
    }
    out = {}
    for table, found in rows.items():
        keep_id = table == "ledger_transfers"  # its id is the cause's key, not a number
        out[table] = sorted(
            repr(
                normal({k: v for k, v in row.items() if k not in LEFT_OUT and (keep_id or k != "id")}, names)
            )
            for row in found
        )
    return out, names


def normal(value, names, key=None, within=None):
    """Ids of attendances, meals and accounts replaced by their names, dicts sorted, received_at
    left out (a scan's stored answer holds it), and a hold's id (its flag's subject names it)."""
    if isinstance(value, dict):
        return {
            k: normal(v, names, k, "meal" if k == "meal" else within)
            for k, v in sorted(value.items())
            if k not in ("received_at", "hold_id")
        }
    if isinstance(value, list):
        return [normal(v, names, key, within) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if key in REFS:
            return names[REFS[key]][value]
        if key == "id" and within == "meal":
            return names["meals"][value]
    if isinstance(value, str):
        return _IDS.sub(
            lambda m: m[1] + names["meals" if m[1] == "meal:" else "attendances"][int(m[2])], value
        )
    return value


def answers(rt, results: list[dict]) -> list[dict]:
    """A tablet's answers, normalised as the dump is (attendances and meals are numbered in the
    order they were made, which depends on the interleaving)."""
    _, names = dump(rt)
    return normal(results, names)


def reset(rt) -> None:
    truncate(rt)
    rt.redis.flushdb()


def test_offline_batches_replayed_and_cut_off_end_as_the_clean_upload(rt, clock):
    clock.at = UPLOAD - timedelta(hours=8)
    with LiveServer(rt) as live, httpx.Client(base_url=live.url) as http:
        world = World(rt, http)
        clock.at = UPLOAD  # the network is back: every upload is received now
        clean = {t: world.upload(t, world.batches[t]) for t in TABLETS}
        settle(rt, live)
        baseline, _ = dump(rt)
        clean_answers = {t: answers(rt, clean[t]) for t in TABLETS}

        # what the clean upload says, at the tablets' clocks
        outcomes = {t: [(r["outcome"], r["reason"]) for r in clean[t]] for t in TABLETS}
        assert outcomes["T1"] == [
            ("checked_in", None),
            ("checked_in", None),
            ("duplicate", None),
            ("rejected", "invalid_code"),
            ("checked_in", None),
            ("checked_out", None),
            ("checked_out", None),
        ]
        assert [r["minutes"] for r in clean["T1"][5:]] == [96, 110]  # 09:00-10:36 and 09:04-10:54, slow clock
        assert outcomes["T2"][4] == ("rejected", "already_served")
        assert [o for o, _ in outcomes["T2"]].count("meal_served") == 5
        assert clean["T2"][6]["meal"]["served_at"] == (UPLOAD + timedelta(seconds=120)).isoformat()
        assert clean["T2"][7]["minutes"] == 127  # 11:00 to 13:07: the fast clock held to upload + 120 s
        assert [r["outcome"] for r in clean["T3"]] == ["meal_served"] * 2 + [
            "checked_in",
            "meal_served",
            "checked_out",
            "checked_out",
        ]
        assert clean["T3"][4]["minutes"] == 85  # 11:06 to 12:31:30
        assert clean["T2"][8]["outcome"] == "checked_in" and clean["T3"][5]["minutes"] == 94
        with rt.tx() as s:
            assert verification.verify(s) == []
        # six attendances (V3's closed by the job, flagged, earning nothing until corrected), each
        # settled once; minutes and points posted for the other five
        assert len(baseline["attendances"]) == len(baseline["point_awards"]) == 6
        assert len(baseline["ledger_transfers"]) == 10
        assert sum("forgot_checkout" in row for row in baseline["attendances"]) == 1

        # (b) every batch sent again, in another order: the same answers, nothing changes
        for t in reversed(TABLETS):
            assert answers(rt, world.upload(t, world.batches[t])) == clean_answers[t]
        settle(rt, live)
        assert dump(rt)[0] == baseline

        # (c) cut off halfway and sent again whole, interleaved as Hypothesis chooses
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        # V6's check-out (T3) uploaded whole before the tablet with the check-in (T2)
        @example(
            cuts=(3, 4, 2), dropped=(False, False, False), order=["T3", "T3", "T2", "T2", "T1", "T1", "T1"]
        )
        @given(
            cuts=st.tuples(*(st.integers(1, len(spec["scans"]) - 1) for spec in TABLETS.values())),
            dropped=st.tuples(*(st.booleans() for _ in TABLETS)),
            order=st.permutations(["T1", "T1", "T2", "T2", "T3", "T3", "T1", "T2", "T3"]).map(
                lambda o: o[:7]
            ),
        )
        def interleaved(cuts, dropped, order):
            reset(rt)
            clock.at = UPLOAD - timedelta(hours=8)
            world = World(rt, http)
            clock.at = UPLOAD
            seen: dict[str, int] = {}
            last: dict[str, list[dict]] = {}
            for t in order:
                n = seen[t] = seen.get(t, 0) + 1
                i = list(TABLETS).index(t)
                if n == 1 and dropped[i]:  # the connection drops while the server is judging
                    world.upload(t, world.batches[t], timeout=0.02)
                elif n == 1:  # only the first part got through
                    world.upload(t, world.batches[t][: cuts[i]])
                else:
                    last[t] = world.upload(t, world.batches[t])
            for t in TABLETS:  # a tablet that has not yet sent its whole batch does so now
                if t not in last:
                    last[t] = world.upload(t, world.batches[t])
            settle(rt, live)
            assert dump(rt)[0] == baseline
            # what each tablet is told when it sends its batch again: the clean upload's answers
            # (a tablet that uploaded V6's check-out before the check-in arrived was told
            # checked_in then; its scan has been judged again since)
            assert {t: answers(rt, world.upload(t, world.batches[t])) for t in TABLETS} == clean_answers
            assert {t: answers(rt, last[t]) for t in TABLETS if t != "T3"} == {
                t: clean_answers[t] for t in TABLETS if t != "T3"
            }

        interleaved()


def test_a_volunteer_on_two_tablets_ends_the_same_whichever_uploads_first(rt, clock):
    """V1 and V2 visit in the morning (the slow desk, T1, with V2's double tap) and serve lunch at
    the counter (T4): whichever tablet uploads first, and however often, the same state. Also when
    the desk's upload is cut off after the morning check-ins and the counter uploads meanwhile:
    the lunch scans are refused as checked in elsewhere until the desk's check-outs arrive, and are
    then judged again."""
    with LiveServer(rt) as live, httpx.Client(base_url=live.url) as http:
        states = []
        for order in (["T1", "T4"], ["T4", "T1"], ["T4", "T1", "T4", "T1"], ["T1:3", "T4", "T1"]):
            reset(rt)
            clock.at = UPLOAD - timedelta(hours=8)
            world = World(rt, http)
            clock.at = UPLOAD
            got = {}
            for step in order:
                t, _, cut = step.partition(":")
                got[t] = world.upload(t, world.batches[t][: int(cut) if cut else None])
            if cut_off := order[0] == "T1:3":  # the counter uploaded while V1 and V2 were still in
                assert [r["reason"] for r in got["T4"]] == ["checked_in_elsewhere"] * 4
                got["T4"] = world.upload("T4", world.batches["T4"])  # what it is told when it asks again
            assert got["T1"][2]["outcome"] == "duplicate"  # the double tap, whatever came before
            assert [r["minutes"] for r in got["T1"][5:]] == [96, 110]
            assert [r["minutes"] for r in got["T4"][2:]] == [60, 95]
            settle(rt, live)
            states.append(dump(rt)[0])
        assert cut_off and all(state == states[0] for state in states[1:])
