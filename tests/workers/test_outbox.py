"""The outbox: work recorded with the change, relayed after commit, surviving a stopped Redis,
and run once however often it is delivered (发件箱)."""

import pytest
from sqlalchemy import select

from accounts.sender import DEMO_INBOX_KEY
from linli.outbox import JobRun, OutboxMessage
from tests.fixtures.builders import make_county, register, volunteer_token
from tests.fixtures.runtime import drain, until_redis_answers
from workers.registry import JOBS
from workers.relay import relay_once


@pytest.mark.slow  # a Redis of its own, stopped: requests wait on it
def test_outbox_survives_a_stopped_redis(own_redis):
    from litestar.testing import TestClient

    from api.app import create_app

    server, rt = own_redis
    county = make_county(rt)
    server.stop()
    with TestClient(app=create_app(rt)) as client:
        # registration, filing and code requests all succeed with Redis down
        register(client, phone="13807310001")
        me = volunteer_token(rt, "13807310001")
        assert client.post(f"/api/v1/teams/{county.open_team}/filings", headers=me).status_code == 201
        assert client.post("/api/v1/auth/codes", json={"phone": "13807310001"}).status_code == 202
        assert client.get("/readyz").status_code == 503

    assert relay_once(rt) == 0
    with rt.tx() as s:
        row = s.scalar(select(OutboxMessage))
        assert (
            row.enqueued_at is None and row.attempts == 1 and "RedisUnavailable" in row.last_error
        )  # circuit open

    server.start()
    until_redis_answers(rt.redis)
    assert drain(rt) == 1
    sent = rt.redis.lrange(DEMO_INBOX_KEY, 0, -1)
    assert len(sent) == 1 and sent[0].decode().startswith("138****0001 ")
    with rt.tx() as s:
        assert s.scalar(select(OutboxMessage.enqueued_at)) is not None
        assert s.scalar(select(JobRun.job_id)) == row.job_id


def test_a_job_delivered_twice_runs_once(rt, client):
    register(client, phone="13807310001")
    client.post("/api/v1/auth/codes", json={"phone": "13807310001"})
    with rt.tx() as s:
        args = s.scalar(select(OutboxMessage.args))  # before the relay blanks them
    assert drain(rt) == 1
    with rt.tx() as s:
        row = s.scalar(select(OutboxMessage))
        row.enqueued_at, row.args = None, args  # as if the relay died before it marked the row
    relay_once(rt)  # delivered again (RQ dropped the finished job): it runs, and sends nothing
    from linli.queue import queue

    # even a forced second copy of the job does nothing the second time
    queue("default", rt.redis).enqueue_call(func=JOBS[row.event], args=args, job_id=row.job_id)
    assert drain(rt) == 2
    assert rt.redis.llen(DEMO_INBOX_KEY) == 1


def test_a_login_code_is_kept_only_until_it_is_sent(rt, client):
    """The outbox row and the RQ job held the code in clear for days; now the row's arguments are
    blanked once RQ has the job, and RQ drops the job once it ran. (The demo inbox, which shows
    codes when no SMS gateway is set, keeps them ten minutes by design.)"""
    register(client, phone="13807310001")
    client.post("/api/v1/auth/codes", json={"phone": "13807310001"})
    with rt.tx() as s:
        code = s.scalar(select(OutboxMessage.args))[1]
    assert drain(rt) == 1
    with rt.tx() as s:
        assert s.scalar(select(OutboxMessage.args)) == []
    holding = []
    for key in rt.redis.scan_iter():
        if key == DEMO_INBOX_KEY.encode():
            continue
        kind = rt.redis.type(key)
        values = (
            rt.redis.hvals(key)
            if kind == b"hash"
            else rt.redis.lrange(key, 0, -1)
            if kind == b"list"
            else rt.redis.zrange(key, 0, -1)
            if kind == b"zset"
            else rt.redis.smembers(key)
            if kind == b"set"
            else [rt.redis.get(key)]
            if kind == b"string"
            else []
        )
        if any(code.encode() in _readable(v) for v in values):
            holding.append(key)
    assert holding == []


def test_rolled_back_change_leaves_no_work(rt, client):
    register(client, phone="13807310001")
    from accounts import service

    with pytest.raises(RuntimeError), rt.tx() as s:
        service.request_code(
            s, rt.signer, phone="13807310001", client_ip="1.2.3.4", now=rt.clock.now(), ttl=300
        )
        raise RuntimeError("the request failed after the code was made")
    with rt.tx() as s:
        assert s.scalar(select(OutboxMessage)) is None


def test_every_event_a_domain_emits_has_its_job():
    """Domains name events, not functions; each name they emit is in the registry (a typo or a
    forgotten line would leave its rows waiting in the outbox)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    emitted = set()
    packages = [
        p for p in root.iterdir() if (p / "__init__.py").exists() and p.name not in {"tests", "migrations"}
    ]
    for path in (path for package in packages for path in package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "event" and isinstance(node.value, ast.Constant):
                emitted.add(node.value.value)
            if isinstance(node, ast.Dict):  # `closed_event`: emit's arguments as a dict
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "event"
                        and isinstance(value, ast.Constant)
                    ):
                        emitted.add(value.value)
    assert "attendance.closed" in emitted and "report.ready" in emitted
    assert emitted == set(JOBS)


def test_an_unknown_event_waits_with_its_reason_and_holds_up_nothing(rt, client):
    from linli import outbox

    now = rt.clock.now()
    with rt.tx() as s:
        outbox.emit(s, event="no.such_event", job_id="unknown-1", args=[], now=now)
    register(client, phone="13807310002")
    client.post("/api/v1/auth/codes", json={"phone": "13807310002"})
    assert drain(rt) == 1  # the login code went; the unknown row did not stop it
    with rt.tx() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.job_id == "unknown-1"))
        assert row.enqueued_at is None and row.attempts >= 1 and "unknown event" in row.last_error


def _readable(value: bytes | None) -> bytes:
    """A Redis value as text: RQ keeps a job's data zlib-compressed."""
    import zlib

    try:
        return zlib.decompress(value or b"")
    except zlib.error:
        return value or b""
