"""Benchmarks against the real server on PostgreSQL and Redis (基准测试).

Starts `linli serve --workers N` on a fresh database, drives it over loopback with concurrent
HTTP clients, and writes throughput and latency to docs/performance.md. Each scenario is compared
with a baseline measured in the same run (GET /healthz: the server and network doing nothing).

    .venv/bin/python bench/run.py [--requests 2000] [--concurrency 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.models import LoginCode  # noqa: E402
from linli.settings import parse_secret_keys  # noqa: E402
from linli.signing import Signer  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(base: str, requests: list[tuple[str, str, dict | None]], concurrency: int):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    it = iter(requests)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker():
            for method, path, body in it:
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "statuses": statuses,
    }


def peak_rss_mb(pid: int) -> float:
    """Sum of the peak resident memory of a process and its children (VmHWM)."""
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


HEADER = """# Performance (性能)

Measured by `make bench` on this project's machine kind ({machine}, {cores} cores, shared and noisy):
compare the ratios against the baseline measured in the same run, not absolute figures.
"""


def write_section(out: Path, title: str, section: str) -> None:
    """Replace this benchmark's section of docs/performance.md, keeping the others."""
    import re

    text = (
        out.read_text() if out.exists() else HEADER.format(machine=platform.machine(), cores=os.cpu_count())
    )
    text = re.sub(rf"## {re.escape(title)} \(.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n"
    out.write_text(text + section)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/linli_bench")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    args = ap.parse_args()

    db_url = args.database_url
    server_db, _, db_name = db_url.rpartition("/")
    admin = create_engine(
        f"{server_db}/postgres".replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {db_name}"))
    admin.dispose()

    secret = "bench:" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": db_url,
        "LINLI_REDIS_URL": args.redis_url,
        "LINLI_SECRET_KEY": secret,
    }
    linli = str(ROOT / ".venv" / "bin" / "linli")
    subprocess.run([linli, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [linli, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        n = args.requests
        results = {}
        # warm up every server process
        asyncio.run(drive(base, [("GET", "/healthz", None)] * 200, args.concurrency))
        results["baseline: GET /healthz"] = asyncio.run(
            drive(base, [("GET", "/healthz", None)] * n, args.concurrency)
        )
        phones = [f"150{i:08d}" for i in range(n)]
        results["register: POST /api/v1/volunteers"] = asyncio.run(
            drive(
                base,
                [
                    ("POST", "/api/v1/volunteers", {"name": "王秀英", "phone": p, "consent": True})
                    for p in phones
                ],
                args.concurrency,
            )
        )
        # login with a code: the codes are placed as the code request would (the send itself is a
        # queued job and not part of the request); each phone logs in once
        signer = Signer(parse_secret_keys(secret))
        now = datetime.now(UTC)
        engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(
                insert(LoginCode),
                [
                    {
                        "phone": p,
                        "code_hash": signer.keyed_hash("login-code", f"{p}:123456"),
                        "client_ip": "bench",
                        "created_at": now,
                        "expires_at": now + timedelta(minutes=30),
                        "failed_attempts": 0,
                    }
                    for p in phones
                ],
            )
        engine.dispose()
        results["login: POST /api/v1/auth/tokens (phone+code)"] = asyncio.run(
            drive(
                base,
                [("POST", "/api/v1/auth/tokens", {"phone": p, "code": "123456"}) for p in phones],
                args.concurrency,
            )
        )
        memory = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)

    base_rps = results["baseline: GET /healthz"]["rps"]
    rows = [
        f"| {name} | {r['n']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps'] / base_rps:.2f} "
        f"| {', '.join(f'{k}×{v}' for k, v in sorted(r['statuses'].items()))} |"
        for name, r in results.items()
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## Registration and login (bench/run.py)

`linli serve --workers {args.workers}` on PostgreSQL and Redis over loopback, {args.concurrency} concurrent
HTTP clients in one Python process (httpx) on the same machine. Ratio is throughput against the
baseline in the same run. Last run: {stamp}. Peak memory of the server processes: {memory:.0f} MB.

| scenario | requests | req/s | p50 ms | p99 ms | ratio to baseline | statuses |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Registration validates, checks uniqueness and inserts in one transaction (a savepoint catches a
concurrent duplicate). Login checks the code, marks it used and issues a token. The Python load
generator is the bottleneck even for the baseline, so these are lower bounds.
"""
    write_section(Path(args.out), "Registration and login", section)
    print(section)
    bad = {k: r["statuses"] for k, r in results.items() if set(r["statuses"]) - {200, 201}}
    if bad:
        sys.exit(f"unexpected statuses: {bad}")


if __name__ == "__main__":
    main()
