"""Scan throughput against the real server (扫码基准).

`linli serve --workers 2` on PostgreSQL and Redis, driven by wrk (C, so the load generator takes
little of the two cores) with card scans at one meal-point counter: a realistic mix of check-ins,
check-outs (half the volunteers were checked in more than a minute ago) and duplicates (volunteers
scanned again within a minute). Beside it, in the same run, the baseline (`bench/baseline_app.py`:
one row inserted per request, same stack). Results go into docs/performance.md.

    .venv/bin/python bench/scans.py [--duration 20] [--connections 32] [--volunteers 6000]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # behind the project: bench/meals.py must not hide meals/

from linli.runtime import Runtime  # noqa: E402
from linli.settings import Settings, parse_secret_keys  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.post(url, json={"payload": "x"}, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def fresh_database(db_url: str) -> None:
    server, _, name = db_url.rpartition("/")
    admin = create_engine(
        f"{server}/postgres".replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()


def seed(rt: Runtime, volunteers: int) -> tuple[int, str, list[str]]:
    """A county slice: one counter, a lunch activity around now, filed volunteers, half checked in."""
    from accounts import service as accounts_service
    from orgs import service as orgs_service
    from volunteer import activities
    from volunteer.models import Attendance, Filing, Signup, Volunteer

    now = rt.clock.now()
    with rt.tx() as s:
        base = orgs_service.create_root(s, name="长沙县社会组织孵化服务基地", now=now)
        hub = orgs_service.create_child(
            s, parent_id=base.id, name="泉塘街道服务中心", join_mode=None, now=now
        )
        org = orgs_service.create_child(s, parent_id=hub.id, name="泉塘志愿者协会", join_mode=None, now=now)
        team = orgs_service.create_child(
            s, parent_id=org.id, name="助餐志愿服务队", join_mode="open", now=now
        )
        station = orgs_service.create_station(
            s, org_id=org.id, name="泉心食堂取餐台", kind="counter", shared=False, now=now
        )
        activity = activities.create(
            s,
            activities.ActivityInput(
                org.id,
                station.id,
                "午餐助餐服务",
                "meal_service",
                now - timedelta(hours=1),
                now + timedelta(hours=3),
                10_000,
            ),
            admin_paths=["/"],
            created_by=None,
            now=now,
        )
        user = accounts_service.create_staff_user(
            s,
            username="counter",
            password="bench-password-1",
            role="coordinator",
            org_id=org.id,
            station_id=station.id,
            now=now,
        )
        token = accounts_service.issue_token(s, now=now, ttl_seconds=86400, staff_user_id=user.id).token
        s.execute(
            insert(Volunteer),
            [
                {
                    "name": "王秀英",
                    "phone": f"150{i:08d}",
                    "card_version": 1,
                    "consent_terms_version": "bench",
                    "consented_at": now,
                    "created_at": now,
                }
                for i in range(volunteers)
            ],
        )
        ids = list(s.scalars(select(Volunteer.id).order_by(Volunteer.id)))
        s.execute(
            insert(Filing),
            [
                {
                    "volunteer_id": v,
                    "team_id": team.id,
                    "status": "approved",
                    "created_at": now,
                    "decided_at": now,
                }
                for v in ids
            ],
        )
        # everyone signed up, as for a meal shift (walk-ins lock the activity to count places)
        s.execute(
            insert(Signup),
            [
                {"activity_id": activity.id, "volunteer_id": v, "status": "confirmed", "created_at": now}
                for v in ids
            ],
        )
        s.execute(
            insert(Attendance),
            [
                {
                    "activity_id": activity.id,
                    "volunteer_id": v,
                    "station_id": station.id,
                    "state": "open",
                    "checked_in_at": now - timedelta(minutes=30),
                    "flagged": False,
                    "created_at": now,
                }
                for v in ids[::2]
            ],
        )
        payloads = [rt.codes.volunteer_card(v, 1) for v in ids]
        return station.id, token, payloads


def run_wrk(url: str, duration: int, connections: int, env: dict) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "scans.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "outcomes": dict(sorted((k, int(v)) for k, v in re.findall(r"^OUTCOME (\S+) (\d+)$", out, re.M))),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/linli_bench")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--volunteers", type=int, default=6000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: `make bench` installs it (apt-get install wrk)")

    fresh_database(args.database_url)
    secret = "bench:" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": args.database_url,
        "LINLI_REDIS_URL": args.redis_url,
        "LINLI_SECRET_KEY": secret,
        # one token drives the whole load: counted like any device, with a limit it cannot reach
        "LINLI_SCANS_PER_MINUTE": str(10**9),
    }
    linli = str(ROOT / ".venv" / "bin" / "linli")
    subprocess.run([linli, "db", "upgrade"], env=env, check=True, capture_output=True)
    settings = Settings(
        database_url=args.database_url, redis_url=args.redis_url, secret_keys=parse_secret_keys(secret)
    )
    rt = Runtime(settings)
    station, token, payloads = seed(rt, args.volunteers)
    rt.close()
    payload_file = Path(tempfile.mkstemp(suffix=".txt")[1])
    payload_file.write_text("\n".join(payloads) + "\n")
    wrk_env = {
        **os.environ,
        "BENCH_STATION": str(station),
        "BENCH_TOKEN": token,
        "BENCH_PAYLOADS": str(payload_file),
    }

    servers = [
        (
            "baseline: insert one row (bench/baseline_app.py)",
            [str(ROOT / ".venv" / "bin" / "uvicorn"), "--factory", "bench.baseline_app:app"],
        ),
        ("linli: POST /api/v1/scans (card scans)", [linli, "serve"]),
    ]
    results = {}
    for name, cmd in servers:
        port = free_port()
        argv = [*cmd, "--port", str(port), "--workers", str(args.workers)]
        if cmd[0].endswith("uvicorn"):
            argv += ["--log-level", "warning", "--no-access-log"]
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url + "/api/v1/scans")
            run_wrk(url, 3, args.connections[-1], wrk_env)  # warm up
            for connections in args.connections:
                results[(name, connections)] = run_wrk(url, args.duration, connections, wrk_env)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    payload_file.unlink()

    rows = []
    for connections in args.connections:
        base = results[(servers[0][0], connections)]
        for name, _ in servers:
            r = results[(name, connections)]
            rows.append(
                f"| {name} | {connections} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
                f"| {r['rps'] / base['rps']:.2f} | {r['non_2xx']} "
                f"| {', '.join(f'{k} {v}' for k, v in r['outcomes'].items()) if name != servers[0][0] else ''} |"
            )
    table = "\n".join(rows)
    verdict_lines = []
    for connections in args.connections:
        r, b = results[(servers[1][0], connections)], results[(servers[0][0], connections)]
        met = r["rps"] >= 300 and r["p99"] < 100
        verdict_lines.append(
            f"- {connections} connections: {r['rps']:.0f} scans/s, p99 {r['p99']:.0f} ms: "
            f"{'meets' if met else 'misses'} the 300/s-under-100-ms target; "
            f"{r['rps'] / b['rps']:.2f} of the baseline: {'meets' if r['rps'] >= b['rps'] / 2 else 'misses'} the half."
        )
    verdict = "\n".join(verdict_lines)
    section = f"""## Scans (bench/scans.py)

Last run: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}. `linli serve --workers {args.workers}` and the baseline
served the same way (uvicorn with httptools and uvloop), on PostgreSQL; wrk with 2 threads, {args.duration} s
per line, all in the same run. {args.volunteers} filed volunteers, half of them already checked in.

| server | connections | requests | req/s | p50 ms | p99 ms | ratio to baseline | non-2xx | outcomes |
|---|---|---|---|---|---|---|---|---|
{table}

The runs follow each other on the same data, so the later ones see more duplicates (volunteers
scanned again within a minute). Everyone is signed up, as for a meal shift.
Target: at least 300 scans/s with p99 under 100 ms, and at least half the baseline's throughput.
{verdict}
"""
    from run import write_section

    write_section(Path(args.out), "Scans", section)
    print(section)


if __name__ == "__main__":
    main()
