"""Behind PgBouncer in transaction pooling (连接池): with LINLI_DATABASE_POOLER=transaction the scan
door (its direct path too), the counter, points awards and reports work with more clients than
server connections, each statement keeps its deadline, and `linli cron` leads through its direct
URL; without the setting the prepared direct path breaks (so the setting is needed). PgBouncer is
started from deploy/pgbouncer/pgbouncer.ini (tests/fixtures/pgbouncer.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from linli.clock import FixedClock
from linli.db import Direct, const, timed_out
from linli.leader import PostgresLock
from linli.runtime import Runtime
from linli.settings import SettingsError, load_settings
from meals.models import Meal
from points import verification
from points.models import Award
from scans import door, fast
from tests.fixtures.builders import (
    file_volunteer,
    make_activity,
    make_county,
    make_station,
    staff_token,
    staff_user,
)
from tests.fixtures.canteen import LUNCH, Canteen
from tests.fixtures.hub import START
from tests.fixtures.pgbouncer import PgBouncer
from tests.fixtures.processes import LINLI, cron_lock_holder
from tests.fixtures.runtime import LiveServer, drain
from tests.scans import test_parity as parity
from volunteer import activities
from workers import context

pytestmark = pytest.mark.slow  # a PgBouncer process (and a `linli cron` one)

PORT = 6432 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])  # a port for each xdist worker
SERVER_CONNECTIONS = 2  # PgBouncer's pool: fewer than the clients below
VOLUNTEERS = 8


@pytest.fixture
def bouncer(rt):
    if rt.settings.is_sqlite:
        pytest.skip("PgBouncer pools PostgreSQL's connections: none to pool embedded (SQLite)")
    workdir = tempfile.mkdtemp(prefix="pgbouncer-")  # PgBouncer runs as postgres: a directory it reaches
    try:
        with PgBouncer(rt.settings.database_url, PORT, workdir, pool_size=SERVER_CONNECTIONS) as bouncer:
            yield bouncer
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def through(rt, bouncer, **changes) -> Runtime:
    """A runtime whose database is PgBouncer's, with the pooler setting unless `changes` say not."""
    settings = rt.settings.with_(
        database_url=bouncer.url, database_pooler="transaction", database_direct_url=rt.settings.database_url
    )
    return Runtime(settings.with_(**changes), redis=rt.redis, clock=FixedClock(START))


@pytest.fixture
def pooled(rt, bouncer):
    pooled = through(rt, bouncer)
    pooled.connections = 0  # client connections to PgBouncer that the engine opened
    event.listen(pooled.engine, "connect", lambda *_: setattr(pooled, "connections", pooled.connections + 1))
    context.set_runtime(pooled)  # the jobs `drain` runs
    yield pooled
    context.set_runtime(rt)
    pooled.close()


def _in_parallel(calls):
    with ThreadPoolExecutor(VOLUNTEERS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_scans_on_the_direct_path_and_their_awards_through_pgbouncer(pooled, monkeypatch):
    county = make_county(pooled)
    station = make_station(pooled, county.org_a)
    activity = make_activity(pooled, county.org_a, station, START, hours=6, capacity=VOLUNTEERS)
    staff_user(pooled, "counter", "coordinator", org_id=county.org_a, station_id=station)
    volunteers = [file_volunteer(pooled, f"139000001{n:02d}", county.open_team) for n in range(VOLUNTEERS)]
    with pooled.tx() as s:
        for v in volunteers:
            activities.sign_up(s, activity_id=activity, volunteer_id=v, now=START - timedelta(days=1))
    settled = []  # whether the direct path settled each scan (else the full judgement did)

    def spy(*args, **kwargs):
        answer = real(*args, **kwargs)
        settled.append(answer is not None)
        return answer

    real = fast.settle
    monkeypatch.setattr(fast, "settle", spy)
    with LiveServer(pooled) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        tablet = staff_token(http, "counter")

        def scan(volunteer):
            body = {"payload": pooled.codes.volunteer_card(volunteer, 1), "station_id": station}
            r = http.post("/api/v1/scans", json={**body, "scan_id": str(uuid.uuid4())}, headers=tablet)
            assert r.status_code == 200, r.text
            return r.json()["outcome"]

        outcomes = _in_parallel([lambda v=v: scan(v) for v in volunteers * 2])  # in, and a double tap
        pooled.clock.at = START + timedelta(hours=2)
        outcomes += _in_parallel([lambda v=v: scan(v) for v in volunteers])
    assert sorted(outcomes) == sorted(["checked_in", "duplicate"] * VOLUNTEERS + ["checked_out"] * VOLUNTEERS)
    assert settled.count(True) >= 2 * VOLUNTEERS  # double taps and check-outs at least: the direct path
    assert pooled.connections > SERVER_CONNECTIONS
    assert drain(pooled) >= VOLUNTEERS  # each check-out's award, through PgBouncer too
    with pooled.tx() as s:
        assert s.scalar(select(func.count()).select_from(Award)) == VOLUNTEERS
        assert verification.verify(s) == []


@pytest.mark.parametrize("sequence", list(parity.SEQUENCES), ids=list(parity.SEQUENCES))
def test_the_direct_path_unprepared_gives_the_full_judgements_answers_and_rows(pooled, sequence, monkeypatch):
    """tests/scans/test_parity.py through PgBouncer: the direct path's statements bound by psycopg
    and sent after their deadline (text results, not prepared) answer and store as before."""
    county = make_county(pooled)
    stations = {
        "here": make_station(pooled, county.org_a),
        "there": make_station(pooled, county.org_a, "活动室"),
    }
    activity = make_activity(pooled, county.org_a, stations["here"], parity.START, hours=2.5, capacity=3)
    make_activity(
        pooled, county.org_a, stations["there"], parity.START + timedelta(hours=1), title="探访长者"
    )
    fast_one, full_one = (
        file_volunteer(pooled, phone, county.open_team) for phone in ("13900000001", "13900000002")
    )
    with pooled.tx() as s:
        for v in (fast_one, full_one):
            activities.sign_up(s, activity_id=activity, volunteer_id=v, now=parity.START - timedelta(days=1))
    steps = parity.SEQUENCES[sequence]
    in_full, judged_in_full = door.scan_in_full, []
    monkeypatch.setattr(door, "scan_in_full", lambda *a: judged_in_full.append(a) or in_full(*a))
    fast_answers = [parity._scan(pooled, door.scan_online, fast_one, stations, *step) for step in steps]
    monkeypatch.undo()
    accepted = sum(a["outcome"] != "rejected" for a in fast_answers)
    assert len(steps) - len(judged_in_full) == accepted > 0  # the direct path settled each
    full_answers = [parity._scan(pooled, door.scan_in_full, full_one, stations, *step) for step in steps]
    assert parity._lane(pooled, fast_one, fast_answers) == parity._lane(pooled, full_one, full_answers)


def test_counter_meals_and_their_report_through_pgbouncer(pooled):
    pooled.clock.at = LUNCH
    with LiveServer(pooled) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        canteen = Canteen(pooled, http)
        diners = [canteen.grandma, canteen.grandpa]
        outcomes = _in_parallel([lambda d=d: canteen.scan(canteen.card(d))["outcome"] for d in diners * 4])
        assert sorted(outcomes).count("meal_served") == 2
        admin = staff_token(http, "admin_a")
        june = {"period_start": "2030-06-01", "period_end": "2030-06-30"}
        r = http.post(
            "/api/v1/reports",
            json={"kind": "meal_usage", "format": "json", "internal": True, **june},
            headers=admin,
        )
        assert r.status_code in (200, 202), r.text
        drain(pooled)
        status = http.get(f"/api/v1/reports/{r.json()['id']}", headers=admin).json()
        assert status["status"] == "done", status
        body = http.get(status["file"], headers=admin).json()
    summary = next(sheet for sheet in body["sheets"] if sheet["key"] == "summary")
    assert summary["totals"]["meals"] == 2
    with pooled.tx() as s:
        assert s.scalar(select(func.count()).select_from(Meal)) == 2


def test_every_statement_keeps_its_deadline_through_pgbouncer(rt, bouncer):
    quick = through(rt, bouncer, statement_timeout=0.3)
    try:
        with pytest.raises(OperationalError) as raised, quick.tx() as s:
            s.execute(select(func.pg_sleep(1)))
        assert timed_out(raised.value)
        with pytest.raises(OperationalError) as raised, quick.statements() as direct:  # the scans' path
            direct.execute(select(func.pg_sleep(const(1))), {})
        assert timed_out(raised.value)
        with quick.statements() as direct:  # and a statement within it answers
            assert direct.execute(select(func.pg_sleep(const(0))), {}).fetchone() is not None
        with quick.tx() as s:  # the deadline is the transaction's, not left on the server connection
            assert s.execute(text("SHOW statement_timeout")).scalar() == "300ms"
        with psycopg.connect(bouncer.url, autocommit=True) as other:
            assert other.execute("SHOW statement_timeout").fetchone()[0] == "0"
    finally:
        quick.close()


def test_without_the_setting_the_prepared_direct_path_breaks_through_pgbouncer(rt, bouncer):
    """What LINLI_DATABASE_POOLER=transaction is for: a statement prepared on one server connection
    is asked for, or prepared again, on another (PgBouncer 1.18 does not follow prepared statements)."""
    with pytest.raises(OperationalError, match="unsupported startup parameter: options"):
        through(rt, bouncer, database_pooler="").engine.connect()  # the deadline as a startup option
    plain = through(rt, bouncer, database_pooler="", statement_timeout=0)
    with pytest.raises(OperationalError, match="unsupported startup parameter: options"):
        plain.door_engine.connect()  # the door's generic plans are a startup option too
    statement = select(func.count()).select_from(Meal)

    @contextmanager
    def statements():  # the door's Direct path, on connections without a startup option
        with plain.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield Direct(conn)

    try:
        with pytest.raises(psycopg.errors.ProgrammingError, match="prepared statement"):
            with statements() as one, statements() as two:
                for direct in (one, two, one, two):  # the pool's last used server connection, in turn
                    direct.execute(statement, {}).fetchone()
    finally:
        plain.close()
    pooled = through(rt, bouncer)
    try:
        with pooled.statements() as one, pooled.statements() as two:
            for direct in (one, two, one, two):
                assert direct.execute(statement, {}).fetchone()[0] == 0
    finally:
        pooled.close()


def test_cron_leads_on_its_direct_url_while_its_work_goes_through_pgbouncer(rt, bouncer, tmp_path):
    assert not PostgresLock(bouncer.url).acquire()  # a session lock cannot be had through the pooler
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": bouncer.url,
        "LINLI_DATABASE_POOLER": "transaction",
        "LINLI_DATABASE_DIRECT_URL": rt.settings.database_url,
        "LINLI_REDIS_URL": rt.settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys),
    }
    log = tmp_path / "cron.err"
    cron = subprocess.Popen([LINLI, "cron"], env=env, stderr=log.open("w"), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while "became leader" not in log.read_text() and time.monotonic() < deadline and cron.poll() is None:
            time.sleep(0.1)
        assert "became leader" in log.read_text(), log.read_text()
        holder = cron_lock_holder(rt.engine)
        assert holder == cron.pid
    finally:
        cron.terminate()
        cron.wait(timeout=20)


def test_the_pooler_settings_are_read_and_checked(tmp_path):
    env = {"LINLI_VAR_DIR": str(tmp_path), "LINLI_DATABASE_URL": "postgresql://linli@127.0.0.1:6432/linli"}
    assert not load_settings(env).pooled  # by default: prepared statements, the deadline per connection
    pooled = load_settings({**env, "LINLI_DATABASE_POOLER": "transaction"})
    assert pooled.pooled and pooled.direct_url == env["LINLI_DATABASE_URL"]
    direct = "postgresql://linli@db-primary:5432/linli"
    assert load_settings({**env, "LINLI_DATABASE_DIRECT_URL": direct}).direct_url == direct
    with pytest.raises(SettingsError, match="LINLI_DATABASE_POOLER"):
        load_settings({**env, "LINLI_DATABASE_POOLER": "statement"})
