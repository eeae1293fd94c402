"""The read replica (只读副本, LINLI_DATABASE_REPLICA_URL): a primary and a streaming standby of our
own on loopback (initdb, pg_basebackup -R), never the suite's server. Reads that may lag go to the
standby; a report of an ended period waits for its replay, or reads the primary; a standby down or
lagging sends reads to the primary, and /readyz says so, still 200."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from api.app import create_app
from linli.runtime import Runtime
from linli.settings import SettingsError, load_settings
from migrations import driver as migrate
from orgs import service as orgs_service
from orgs.models import Organization
from reports import service as reports
from reports.models import Report
from tests.fixtures.builders import staff_token, staff_user
from workers import context, jobs

pytestmark = pytest.mark.slow  # two PostgreSQL servers of its own

# PostgreSQL's server programs, as Debian installs them (.ci/run): the newest version there
BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent")
)
# the ports given to this test (two more per pytest-xdist worker)
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
PRIMARY, STANDBY = 5441 + 2 * WORKER, 5442 + 2 * WORKER


def _pg(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [str(BIN / args[0]), *args[1:]]
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


def _start(data: Path, port: int) -> None:
    _pg("pg_ctl", "-D", str(data), "-l", str(data / "log"), "-w", "-t", "60", "-o", f"-p {port}", "start")


def _stop(data: Path) -> None:
    _pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)


@pytest.fixture(scope="module")
def cluster():
    if not os.environ.get("LINLI_DATABASE_URL", "").startswith("postgres"):
        pytest.skip("a read replica is PostgreSQL's (LINLI_DATABASE_URL not PostgreSQL: SQLite has none)")
    if not (BIN / "initdb").exists():
        pytest.skip("PostgreSQL's initdb not installed (/usr/lib/postgresql/<version>/bin)")
    top = Path(tempfile.mkdtemp(prefix="linli-replica-"))  # the postgres user must reach it
    if os.geteuid() == 0:
        shutil.chown(top, "postgres")
    primary, standby = top / "primary", top / "standby"
    try:
        _pg("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "--no-sync")
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nwal_level = replica\n"
                "max_wal_senders = 4\nfsync = off\nshared_buffers = 32MB\n"
            )
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        _start(primary, PRIMARY)
        _pg(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(PRIMARY), "-U", "postgres", "-D", str(standby), "-R"
        )
        _start(standby, STANDBY)
        url = f"postgresql://postgres@127.0.0.1:{PRIMARY}/postgres"
        migrate.upgrade("postgresql+psycopg://" + url.split("://", 1)[1])
        yield {
            "primary": url,
            "replica": f"postgresql://postgres@127.0.0.1:{STANDBY}/postgres",
            "standby": standby,
        }
    finally:
        _stop(standby)
        _stop(primary)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def rrt(cluster, settings):
    """A runtime on our primary with the standby as its read replica (the suite's Redis)."""
    rt = Runtime(
        settings.with_(database_url=cluster["primary"], replica_url=cluster["replica"], replica_max_lag=0)
    )
    rt.replica.check_every = 0  # each read checks again: the test changes the standby under it
    rt.redis.flushdb()
    context.set_runtime(rt)
    yield rt
    context.set_runtime(None)
    rt.close()


def _standby(rt: Runtime, sql: str) -> None:
    with rt.replica.engine.connect() as conn:
        conn.execute(text(sql))
        conn.commit()


def _on_standby(session) -> bool:
    return session.scalar(text("SELECT pg_is_in_recovery()"))


def _caught_up(rt: Runtime) -> None:
    for _ in range(400):  # counted, not timed: the standby replays what is there
        if rt.replica.check().used:
            return
        time.sleep(0.05)
    raise AssertionError(rt.replica.state)


def test_reads_go_to_the_replica_and_to_the_primary_when_it_lags_or_is_down(rrt, cluster, caplog):
    rt = rrt
    now = rt.clock.now()
    with rt.tx() as s:
        base = orgs_service.create_root(s, name="县民政局", now=now)
        hub = orgs_service.create_child(s, parent_id=base.id, name="星沙街道枢纽", join_mode=None, now=now)
    staff_user(rt, "replica_admin", "admin", org_id=base.id)
    _caught_up(rt)

    # healthy: a read is the standby's; a write is never there
    with rt.read() as reads:
        assert _on_standby(reads)
        assert reads.get(Organization, hub.id).name == "星沙街道枢纽"
    with rt.tx() as s:
        assert not _on_standby(s)
    tz = rt.settings.tz
    first, last = reports.last_month(now.astimezone(tz).date())
    scope = ({"org_path": hub.path, "meal_point_ids": [], "internal": False}, None, hub.id)

    def ask(kind: str) -> int:
        with rt.tx() as s:
            asked = reports.ReportAsk(kind, first, last, "json")
            return reports.request(s, None, asked, now=now, tz=tz, scope=scope, monthly=True)[0].id

    report_id = ask("programme_summary")  # last month's: ended, kept as final
    _caught_up(rt)
    client = TestClient(app=create_app(rt))
    with client:
        auth = staff_token(client, "replica_admin")
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["replica"]["used"] is True
        assert ready["replica"]["state"] == "ok" and ready["replica"]["lag_seconds"] == 0
        # a list page is the standby's: behind (replay paused) yet within the limit, it does not
        # show a report asked for on the primary since
        rt.replica.max_lag = 3600
        _standby(rt, "SELECT pg_wal_replay_pause()")
        second = ask("meal_usage")
        listed = client.get("/api/v1/reports", headers=auth)
        assert listed.status_code == 200 and [i["id"] for i in listed.json()["items"]] == [report_id]
        assert client.get(f"/api/v1/dashboards/hubs/{hub.id}", headers=auth).status_code == 200
        _standby(rt, "SELECT pg_wal_replay_resume()")
        rt.replica.max_lag = 0
        _caught_up(rt)
        listed = client.get("/api/v1/reports", headers=auth)
        assert [i["id"] for i in listed.json()["items"]] == [report_id, second]

    # a report of an ended period is read with every write before its build (the standby behind,
    # by a pause, yet within the limit)
    rt.replica.max_lag = 3600
    _standby(rt, "SELECT pg_wal_replay_pause()")
    with rt.tx() as s:
        s.get(Organization, hub.id).name = "星沙街道综合枢纽"  # what the report's header shows

    # ... it waits for the standby to replay that far: asked while replay is paused, it is
    # answered by the standby, with the new name, once replay goes on
    rt.replica.replay_wait = 120.0
    seen: dict = {}

    def read_latest():
        with rt.read(latest=True) as reads:
            seen["standby"] = _on_standby(reads)
            seen["name"] = reads.get(Organization, hub.id).name

    waiting = threading.Thread(target=read_latest)
    waiting.start()
    asking = (
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_last_wal_replay_lsn() >=%'"
        " AND pid <> pg_backend_pid()"
    )
    for _ in range(400):
        with rt.replica.engine.connect() as conn:
            if asked := conn.scalar(text(asking)):
                break
        time.sleep(0.05)
    assert asked and "name" not in seen  # it is waiting on the standby
    _standby(rt, "SELECT pg_wal_replay_resume()")
    waiting.join(60)
    assert seen == {"standby": True, "name": "星沙街道综合枢纽"}

    # ... and when the standby has not replayed it in time, the build reads the primary
    _standby(rt, "SELECT pg_wal_replay_pause()")
    with rt.tx() as s:
        s.get(Organization, hub.id).name = "星沙枢纽"
    rt.replica.replay_wait = 0.2
    with caplog.at_level(logging.INFO, logger="linli.replica"):
        jobs.build_report(report_id)
    assert "this read goes to the primary" in caplog.text
    with rt.tx() as s:
        built = s.get(Report, report_id)
        assert built.status == "done" and "星沙枢纽" in built.content.decode()

    # lagging past LINLI_REPLICA_MAX_LAG (here 0): reads go to the primary, /readyz says so, 200
    rt.replica.max_lag = 0
    with rt.read() as reads:
        assert not _on_standby(reads)
    assert rt.replica.state.state == "lagging" and rt.replica.state.since is not None
    with client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["replica"]["used"] is False
        assert ready.json()["replica"]["state"] == "lagging"
    _standby(rt, "SELECT pg_wal_replay_resume()")
    _caught_up(rt)
    with rt.read() as reads:
        assert _on_standby(reads) and reads.get(Organization, hub.id).name == "星沙枢纽"

    # the standby down: list pages, dashboards and reports are answered from the primary, no 5xx
    with client:
        assert client.get("/api/v1/reports", headers=auth).status_code == 200  # a pooled connection
        _stop(cluster["standby"])
        with rt.read() as reads:
            assert not _on_standby(reads)
        r = client.get("/api/v1/reports", headers=auth)
        assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [report_id, second]
        assert client.get(f"/api/v1/dashboards/hubs/{hub.id}", headers=auth).status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert ready.json()["replica"]["used"] is False
        assert ready.json()["replica"]["state"].startswith("unreachable")
    _start(cluster["standby"], STANDBY)
    _caught_up(rt)
    with rt.read() as reads:
        assert _on_standby(reads)


def test_a_replica_is_refused_with_sqlite_and_must_be_postgresql():
    env = {"LINLI_DATABASE_REPLICA_URL": "postgresql://linli@replica/linli", "LINLI_SECRET_KEY": "x" * 20}
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings({**env, "LINLI_DATABASE_URL": "sqlite:///var/linli.db"})
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings(
            {
                **env,
                "LINLI_DATABASE_URL": "postgresql://linli@db/linli",
                "LINLI_DATABASE_REPLICA_URL": "mysql://x",
            }
        )
    pg = load_settings(
        {**env, "LINLI_DATABASE_URL": "postgresql://linli@db/linli", "LINLI_REPLICA_MAX_LAG": "10"}
    )
    assert (
        pg.sqlalchemy_replica_url == "postgresql+psycopg://linli@replica/linli" and pg.replica_max_lag == 10
    )
    assert load_settings({"LINLI_SECRET_KEY": "x" * 20, "LINLI_REDIS_URL": "redis://x"}).replica_url == ""
