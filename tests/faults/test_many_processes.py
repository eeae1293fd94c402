"""Many processes share nothing but PostgreSQL and Redis (多进程故障注入): two `linli serve`, three
`linli worker` (a pool for awards, one for reports, one on every queue) and two `linli cron`, all real processes of the project's own commands. Tablets scan volunteers out (their
points awarded by a worker) and in, and serve meals at a counter; phones ask for login codes (each
from its own address, through a trusted proxy). In the middle one server, the pool's worker and
the leading scheduler are killed with SIGKILL; the tablets go on against the other server (as a
reverse proxy would send them), a new worker takes the killed one's place (as systemd's
`Restart=always` would) and the standby scheduler takes over. Then: nothing lost, nothing twice,
exactly one scheduler at any time, and `linli ledger verify` passes. Embedded (SQLite) the
processes share the database file and the suite's embedded redis-server.

It found that a worker killed alone (not its process group) leaves its blocked dequeue (BLPOP,
or BLMOVE on one queue) open in Redis: the RQ scheduler it forked keeps a copy of the socket, and
Redis hands that dead dequeue the next job, which nobody runs (an award, a login code never
done; from several queues it is gone for good, from one it waits in RQ's intermediate list for
maintenance). systemd kills the whole unit (`KillMode=control-group`), so the test kills the
group too; docs/deployment.md keeps one queue per worker so a job taken in the moment of a kill
is recovered.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE
from rq.serializers import JSONSerializer
from rq.worker import Worker as RqWorker
from sqlalchemy import create_engine, func, select, text

from accounts import service as accounts_service
from accounts.models import LoginCode
from linli.leader import scheduler_lock
from linli.outbox import OutboxMessage
from linli.queue import QUEUES, queue
from meals.models import Meal
from points.models import Award, Transfer
from scans.models import Scan
from tests.fixtures.builders import file_volunteer, make_activity, make_county
from tests.fixtures.canteen import all_day_point
from tests.fixtures.processes import LINLI, free_port
from volunteer.models import Attendance

pytestmark = pytest.mark.slow  # seven real processes: left out of `make test-quick`

ROOT = Path(__file__).resolve().parents[2]
OUT, IN, DINERS, PHONES = 30, 10, 60, 30  # volunteers checked out, checked in; meals; login codes


class Proc:
    """A `linli` command as a real process in a process group of its own, its stderr in a file."""

    def __init__(self, env: dict, tmp_path: Path, name: str, *args: str) -> None:
        self.name, self.log = name, tmp_path / f"{name}.log"
        self.proc = subprocess.Popen(
            [LINLI, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def said(self, words: str) -> int:
        return self.log.read_text().count(words)

    def kill(self) -> set[int]:
        """SIGKILL to the process and what it forked (a worker's RQ scheduler), as systemd ends a
        unit whose main process was killed (`KillMode=control-group`); returns their pids."""
        found = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        return {int(pid) for pid in found.stdout.split()}

    def end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _env(settings, tmp_path: Path) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LINLI_")},
        "LINLI_DATABASE_URL": settings.database_url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in settings.secret_keys),
        "LINLI_VAR_DIR": str(tmp_path),
        "LINLI_TRUSTED_PROXIES": "127.0.0.1",  # the phones come through a proxy, each its own address
        "LINLI_SMS_SENDER": "tests.faults.slow_sender:SlowSender",  # every text appended to a file
        "LINLI_TEST_SMS_LOG": str(tmp_path / "sms.log"),
        "PYTHONPATH": str(ROOT),
    }


def _wait(predicate, timeout: float, what, step: float = 0.1):
    end = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < end, what() if callable(what) else what
        time.sleep(step)
    return found


class LockWatch:
    """Samples which process holds the scheduler's lock, every 0.1 s, from a thread."""

    def __init__(self, settings) -> None:
        self.settings, self.seen, self.stop = settings, [], threading.Event()
        self.engine = None if settings.is_sqlite else create_engine(settings.sqlalchemy_url)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def holder(self) -> int | None:
        if self.engine is None:
            return self._file_holder(scheduler_lock(self.settings.database_url).path)
        with self.engine.connect() as conn:
            name = conn.scalar(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 19534 AND l.objid = 1"
                    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        return int(name.rsplit(" ", 1)[1]) if name else None

    @staticmethod
    def _file_holder(path: Path) -> int | None:
        """Embedded: the pid the holder wrote in the lock file, if the file is locked. Probed
        read-only (a FileLock would write our pid in it), and read as it may be: between the
        holder's truncate and its write it says nothing yet (before, such a read killed this
        thread and the standby's turn was never seen, in a CI run)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None  # nobody holds it
        except OSError:
            words = path.read_text().split()
            return int(words[0]) if words and words[0].isdigit() else None
        finally:
            os.close(fd)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.seen.append(self.holder())
            time.sleep(0.1)

    def leaders(self) -> list[int]:
        """The holders in the order they held it, each run of samples once (None left out)."""
        held = [pid for pid in self.seen if pid is not None]
        return [pid for n, pid in enumerate(held) if n == 0 or held[n - 1] != pid]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        if self.engine is not None:
            self.engine.dispose()


def _county(rt, clock):
    """A county with a meal point open all day, its counter's tablet, OUT + IN filed volunteers
    and DINERS diners; OUT of the volunteers checked in two hours ago (in this process)."""
    now = clock.at
    county = make_county(rt)
    with rt.tx() as s:
        point, diners = all_day_point(s, county.org_a, now, DINERS, "many")
        user = accounts_service.create_staff_user(
            s,
            username="counter",
            password="x" * 12,
            role="coordinator",
            org_id=county.org_a,
            station_id=point.station_id,
            now=now,
        )
        token = accounts_service.issue_token(s, now=now, ttl_seconds=7200, staff_user_id=user.id).token
    volunteers = [
        file_volunteer(
            rt,
            f"1380732{n:04d}",
            county.open_team,
            name=f"王{'甲乙丙丁戊己庚辛壬癸'[n % 10]}{'子丑寅卯辰'[n // 10]}",
        )
        for n in range(OUT + IN)
    ]
    clock.at = now - timedelta(hours=2)
    make_activity(rt, county.org_a, point.station_id, clock.at - timedelta(minutes=5), hours=4, capacity=100)
    return point.station_id, token, volunteers, diners


def test_two_servers_three_workers_two_schedulers_lose_nothing_when_some_are_killed(
    rt, client, clock, tmp_path
):
    station, token, volunteers, diners = _county(rt, clock)
    tablet = {"Authorization": f"Bearer {token}"}
    for v in volunteers[:OUT]:  # checked in two hours ago
        r = client.post(
            "/api/v1/scans",
            json={
                "payload": rt.codes.volunteer_card(v, 1),
                "station_id": station,
                "scan_id": str(uuid.uuid4()),
            },
            headers=tablet,
        )
        assert r.json()["outcome"] == "checked_in", r.text
    clock.at = clock.at + timedelta(hours=2)  # now again: what the processes' clocks say

    env = _env(rt.settings, tmp_path)
    procs: list[Proc] = []
    watch = LockWatch(rt.settings)
    try:
        ports = [free_port(), free_port()]
        servers = [Proc(env, tmp_path, f"serve{n}", "serve", "--port", str(p)) for n, p in enumerate(ports)]
        fast = Proc(env, tmp_path, "worker-points", "worker", "--queues", "points")
        workers = [
            fast,
            Proc(env, tmp_path, "worker-reports", "worker", "--queues", "reports"),
            Proc(env, tmp_path, "worker-all", "worker"),
        ]
        crons = [Proc(env, tmp_path, f"cron{n}", "cron") for n in range(2)]
        procs += [*servers, *workers, *crons]
        bases = [f"http://127.0.0.1:{p}" for p in ports]

        def ready(base: str) -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            return False

        for base, server in zip(bases, servers, strict=True):
            _wait(lambda b=base: ready(b), 60, lambda s=server: s.log.read_text()[-2000:])
        _wait(
            lambda: all(c.said("became leader") or c.said("standing by") for c in crons),
            40,
            lambda: [c.log.read_text()[-1000:] for c in crons],
        )
        [leader] = [c for c in crons if c.said("became leader")]
        [standby] = [c for c in crons if c is not leader]
        watch.thread.start()
        # the watch has seen the leader before the load (a thread can start late on a busy machine)
        _wait(lambda: leader.pid in watch.seen, 30, lambda: watch.seen)

        # the load: tablets (scans, each retried with its scan id until answered, on the other
        # server when one does not answer) and phones (login codes)
        work = [("out", v) for v in volunteers[:OUT]] + [("in", v) for v in volunteers[OUT:]]
        work += [("meal", d) for d in diners]
        random.Random(24).shuffle(work)
        answered: dict[str, tuple[str, int, str]] = {}  # scan id → (kind, id, outcome)
        phones = [f"1390732{n:04d}" for n in range(PHONES)]
        asked: dict[str, int] = {}
        lock = threading.Lock()
        errors: list[str] = []

        def post(n: int, path: str, **kwargs) -> httpx.Response:
            for attempt in range(400):
                base = bases[(n + attempt) % 2]  # the other server after a failure
                try:
                    return httpx.post(f"{base}{path}", timeout=15, **kwargs)
                except httpx.HTTPError:
                    time.sleep(0.05)
            raise AssertionError(f"no server answered {path}")

        def tablet_thread(n: int) -> None:
            try:
                while True:
                    with lock:
                        if not work:
                            return
                        kind, ident = work.pop()
                    card = (
                        rt.codes.diner_card(ident, 1) if kind == "meal" else rt.codes.volunteer_card(ident, 1)
                    )
                    scan_id = str(uuid.uuid4())
                    while True:
                        r = post(
                            n,
                            "/api/v1/scans",
                            json={"payload": card, "station_id": station, "scan_id": scan_id},
                            headers=tablet,
                        )
                        if r.status_code != 503:
                            break
                        time.sleep(0.1)
                    assert r.status_code == 200, r.text
                    with lock:
                        answered[scan_id] = (kind, ident, r.json()["outcome"])
            except BaseException as exc:  # reported by the main thread
                errors.append(repr(exc))

        def phone_thread(n: int) -> None:
            try:
                for i, phone in enumerate(phones[n::2]):
                    r = post(
                        n,
                        "/api/v1/auth/codes",
                        json={"phone": phone},
                        headers={"X-Forwarded-For": f"198.51.100.{2 * i + n + 1}"},
                    )
                    asked[phone] = r.status_code  # 429: a try the killed server took had made the code
                    assert r.status_code in (202, 429), r.text
                    time.sleep(0.05)
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=tablet_thread, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=phone_thread, args=(n,)) for n in range(2)]
        total = len(work)
        for t in threads:
            t.start()
        _wait(lambda: len(answered) >= total // 3 or errors, 60, lambda: (len(answered), errors))

        # the faults: a server, the pool's worker and the leading scheduler, killed at once
        [fast_name] = [w.name for w in RqWorker.all(connection=rt.redis) if w.pid == fast.pid]
        servers[0].kill()
        killed = fast.kill()
        leader.kill()
        before_kill = len(answered)
        held = _wait_out_what_was_held(rt, fast_name, killed)
        # systemd's Restart=always: a new worker in its place (its maintenance retries those jobs)
        procs.append(Proc(env, tmp_path, "worker-points-2", "worker", "--queues", "points"))

        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert len(answered) == total and set(asked) == set(phones)
        assert before_kill < total  # the load went on after the kills, on the survivors
        _wait(lambda: standby.said("became leader"), 30, lambda: standby.log.read_text()[-2000:])
        _wait(lambda: standby.pid in watch.seen, 30, lambda: watch.seen)

        def progress() -> dict:
            with rt.tx() as s:
                closed = s.scalar(
                    select(func.count()).select_from(Attendance).where(Attendance.state == "closed")
                )
                awards = s.scalar(select(func.count()).select_from(Award))
                pending = s.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.enqueued_at.is_(None))
                )
            sent = _codes_sent(tmp_path, phones)
            return {
                "closed": closed,
                "awards": awards,
                "outbox pending": pending,
                "codes not sent": [p for p in phones if not sent[p]],
                "queued": {name: queue(name, rt.redis).count for name in QUEUES},
                "held by the killed worker": held,
                "lost": {
                    name: (
                        rt.redis.lrange(f"rq:queue:{name}:intermediate", 0, -1),
                        FailedJobRegistry(name, connection=rt.redis, serializer=JSONSerializer).get_job_ids(),
                        rt.redis.zrange(f"rq:scheduled:{name}", 0, -1),
                    )
                    for name in QUEUES
                },
            }

        done = {"closed": OUT, "awards": OUT, "outbox pending": 0, "codes not sent": []}
        done |= {"queued": dict.fromkeys(QUEUES, 0), "held by the killed worker": held}
        _wait(
            lambda: {k: v for k, v in progress().items() if k != "lost"} == done,
            90,
            lambda: (
                f"{progress()}\n" + "\n".join(p.log.read_text()[-3000:] for p in procs if "worker" in p.name)
            ),
            step=0.5,
        )
    finally:
        watch.close()
        for p in procs:
            p.end()

    # every answered scan is stored, once; every check-out closed its attendance, every meal once
    with rt.tx() as s:
        stored = Counter(s.scalars(select(Scan.scan_id)))
        attendances = dict(s.execute(select(Attendance.volunteer_id, Attendance.state)).all())
        awards = Counter(s.scalars(select(Award.key)))
        closed_ids = set(s.scalars(select(Attendance.id).where(Attendance.state == "closed")))
        transfers = s.scalar(select(func.count()).select_from(Transfer))
        meals = Counter(s.scalars(select(Meal.diner_id)))
        codes = Counter(s.scalars(select(LoginCode.phone)))
    assert all(stored[scan_id] == 1 for scan_id in answered)
    outcomes = Counter(outcome for _, _, outcome in answered.values())
    assert outcomes == {"checked_out": OUT, "checked_in": IN, "meal_served": DINERS}
    assert attendances == {v: "closed" for v in volunteers[:OUT]} | {v: "open" for v in volunteers[OUT:]}
    assert meals == dict.fromkeys(diners, 1)
    # every closed attendance awarded exactly once: one award, its minutes and its points
    assert awards == {f"attendance:{a}": 1 for a in closed_ids}
    assert transfers == 2 * OUT
    # every login code asked for was made once and sent once (a code whose job the killed worker
    # was running may have reached the gateway before the kill, and again in the retry: at most twice)
    assert codes == dict.fromkeys(phones, 1)
    sent = _codes_sent(tmp_path, phones)
    held_codes = {job for job in held if job.startswith("login-code-")}
    assert sum(n != 1 for n in sent.values()) <= len(held_codes), (sent, held)
    assert all(1 <= n <= 2 for n in sent.values())
    for name in QUEUES:
        assert FailedJobRegistry(name, connection=rt.redis, serializer=JSONSerializer).count == 0
    # one scheduler at a time: the first leader until it was killed, then the standby
    assert watch.leaders() == [leader.pid, standby.pid], watch.seen
    assert (leader.said("became leader"), standby.said("became leader")) == (1, 1)
    verified = subprocess.run(
        [LINLI, "ledger", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]


def _wait_out_what_was_held(rt, killed: str, pids: set[int]) -> list[str]:
    """The jobs the killed worker had taken, made to look as they will once their time has passed
    (what waiting minutes would do): a started job's heartbeat expired (its execution's TTL, 4
    minutes), a job dequeued but killed before it started first seen in RQ's intermediate queue
    over a minute ago, the scheduler locks its scheduler held lapsed (a minute). The next worker's
    maintenance, on its start, retries those jobs (RQ's own) and its scheduler enqueues them."""
    held = []
    for name in QUEUES:
        lock = SCHEDULER_LOCKING_KEY_TEMPLATE % name
        holder = rt.redis.get(lock)
        if holder and int(rt.redis.hget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "pid") or 0) in pids:
            rt.redis.delete(lock)
        q = queue(name, rt.redis)
        registry = StartedJobRegistry(name, connection=rt.redis, serializer=JSONSerializer)
        for member in rt.redis.zrange(registry.key, 0, -1):
            job_id = member.decode().split(":")[0]
            with contextlib.suppress(Exception):
                if Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer).worker_name == killed:
                    held.append(job_id)
                    rt.redis.zadd(registry.key, {member: time.time() - 1}, xx=True)
        dequeued = set(q.intermediate_queue.get_job_ids())
        time.sleep(0.5)  # a live worker's dequeued job is started within milliseconds
        started = {m.decode().split(":")[0] for m in rt.redis.zrange(registry.key, 0, -1)}
        for job_id in dequeued & set(q.intermediate_queue.get_job_ids()) - started:
            held.append(job_id)
            rt.redis.set(q.intermediate_queue.get_first_seen_key(job_id), time.time() - 61)
    return held


def _codes_sent(tmp_path: Path, phones: list[str]) -> Counter:
    """Login codes that reached the gateway (the file), per phone: lines `phone dddddd`."""
    log = tmp_path / "sms.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    sent = Counter(phone for phone, _, body in (line.partition(" ") for line in lines) if body.isdigit())
    return Counter({p: sent[p] for p in phones})
