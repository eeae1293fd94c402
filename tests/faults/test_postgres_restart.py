"""PostgreSQL stopped and started again under load (故障注入): a PostgreSQL server of the test's own
(initdb into a temporary folder, run as the `postgres` user), the app under uvicorn, tablets
scanning diners' cards from several threads. While the database is down clients get 503; the
engine reconnects by itself; a tablet retries with the same scan id; and every meal acknowledged
to a tablet is in the database exactly once."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from linli.runtime import Runtime
from migrations import driver as migrate
from tests.fixtures.canteen import all_day_point
from tests.fixtures.runtime import LiveServer

pytestmark = pytest.mark.slow  # fault injection: left out of `make test-quick`

PG_BIN = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())


class OwnPostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="linli-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            PG_BIN / "initdb", "-D", self.dir / "data", "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def _as_postgres(self, *argv) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, argv)], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.dir / "data", "-o", options, "-l", self.dir / "log", "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.dir / "data", "-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres():
    pg = OwnPostgres()
    pg.start()
    yield pg
    pg.remove()


def test_postgres_restarted_under_load_gives_503_then_recovers_and_loses_no_acknowledged_meal(
    rt, own_postgres
):
    from accounts import service as accounts_service
    from meals.models import Meal
    from orgs import service as orgs_service

    settings = dataclasses.replace(rt.settings, database_url=own_postgres.url)
    migrate.upgrade(settings.sqlalchemy_url)
    own = Runtime(settings, redis=rt.redis)
    now = own.clock.now()
    with own.tx() as s:
        base = orgs_service.create_root(s, name="县基地", now=now)
        org = orgs_service.create_child(s, parent_id=base.id, name="泉塘志愿者协会", join_mode=None, now=now)
        point, diners = all_day_point(s, org.id, now, 300, "fault")
        user = accounts_service.create_staff_user(
            s,
            username="counter",
            password="x" * 12,
            role="coordinator",
            org_id=org.id,
            station_id=point.station_id,
            now=now,
        )
        token = accounts_service.issue_token(s, now=now, ttl_seconds=3600, staff_user_id=user.id).token

    statuses: list[int] = []
    acknowledged: dict[int, str] = {}  # diner → the scan id whose answer was meal_served
    lock = threading.Lock()
    queue = list(diners)

    def tablet(server_url: str) -> None:
        with httpx.Client(
            base_url=server_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        ) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    diner = queue.pop()
                scan_id = str(uuid.uuid4())
                for _ in range(200):  # the tablet retries the same scan until it has an answer
                    try:
                        r = http.post(
                            "/api/v1/scans",
                            json={
                                "payload": own.codes.diner_card(diner, 1),
                                "station_id": point.station_id,
                                "scan_id": scan_id,
                            },
                        )
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    with lock:
                        statuses.append(r.status_code)
                    if r.status_code == 200:
                        assert r.json()["outcome"] == "meal_served", r.text
                        with lock:
                            acknowledged[diner] = scan_id
                        break
                    assert r.status_code == 503, r.text
                    time.sleep(0.05)

    with LiveServer(own) as server:
        threads = [threading.Thread(target=tablet, args=(server.url,)) for _ in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(acknowledged) >= 40, statuses[-5:]
        own_postgres.stop()  # lunch rush, and the database goes away
        time.sleep(1.5)
        own_postgres.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)

    assert 503 in statuses  # clients were told the database is away
    assert set(statuses) <= {200, 503}
    assert set(acknowledged) == set(diners)
    own.engine.dispose()  # connections from before the restart, never used since (scans use the door's)
    with own.tx() as s:
        meals = dict(s.execute(select(Meal.diner_id, func.count()).group_by(Meal.diner_id)).all())
        from scans.models import Scan

        stored = set(s.scalars(select(Scan.scan_id).where(Scan.outcome == "meal_served")))
    assert meals == dict.fromkeys(diners, 1)  # every acknowledged meal exactly once, nothing else
    assert set(acknowledged.values()) <= stored
    own.close()
