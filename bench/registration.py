"""Registration and login against the real server (注册与登录基准).

`linli serve --workers 2` on a copy of the county (30,000 volunteers already registered), driven
over loopback by concurrent HTTP clients in this process (httpx): new volunteers registered, each
with the code that proves the phone, then each logs in with another code. Beside them, in the same
run, the baseline GET /healthz (the server and the network doing nothing). Writes its section of
docs/performance.md; returns its summary rows.

    .venv/bin/python bench/registration.py [--requests 2000] [--concurrency 16] [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import httpx  # noqa: E402
from sqlalchemy import create_engine, insert  # noqa: E402

from bench import common  # noqa: E402

NAME = "registration"


async def drive(base: str, requests: list[tuple[str, str, dict | None]], concurrency: int) -> dict:
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
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": common.percentile(latencies, 50) * 1000,
        "p99": common.percentile(latencies, 99) * 1000,
        "statuses": statuses,
    }


def place_codes(setup: common.Setup, phones: list[str]) -> None:
    """Login codes placed as the code request would (the send itself is a queued job and not
    part of the request; asking is limited per address, and the load comes from one)."""
    from accounts.models import LoginCode
    from linli.settings import parse_secret_keys
    from linli.signing import Signer

    signer = Signer(parse_secret_keys(setup.secret))
    now = datetime.now(UTC)
    engine = create_engine(setup.database_url.replace("postgresql://", "postgresql+psycopg://"))
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


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = common.parse(ap, argv, quick={"requests": 300})
    setup = common.prepare(args, NAME)

    n = args.requests
    phones = [f"150{i:08d}" for i in range(n)]  # the county's are 139...
    scenarios = {
        "baseline: GET /healthz": [("GET", "/healthz", None)] * n,
        "register: POST /api/v1/volunteers": [
            ("POST", "/api/v1/volunteers", {"name": "王秀英", "phone": p, "consent": True, "code": "123456"})
            for p in phones
        ],
        # each new volunteer logs in once
        "login: POST /api/v1/auth/tokens (phone+code)": [
            ("POST", "/api/v1/auth/tokens", {"phone": p, "code": "123456"}) for p in phones
        ],
    }
    results = {}
    with common.linli_server(setup, args.workers) as server:
        asyncio.run(drive(server.url, [("GET", "/healthz", None)] * 200, args.concurrency))  # warm up
        for name, requests in scenarios.items():
            if name.startswith(("register", "login")):
                place_codes(setup, phones)
            server.reset_peak()
            results[name] = asyncio.run(drive(server.url, requests, args.concurrency))
            results[name]["peak_mb"] = server.peak_mb()

    base = results["baseline: GET /healthz"]
    table = "\n".join(
        f"| {name} | {r['n']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps'] / base['rps']:.2f} "
        f"| {r['peak_mb']:.0f} | {', '.join(f'{k}×{v}' for k, v in sorted(r['statuses'].items()))} |"
        for name, r in results.items()
    )
    section = f"""## Registration and login (bench/registration.py)

Last run: {common.stamp(args)}. `linli serve --workers {args.workers}` on PostgreSQL and Redis over
loopback, on a copy of the county (30,000 volunteers already there), {args.concurrency} concurrent
HTTP clients in one Python process (httpx) on the same machine. Ratio is throughput against the
baseline in the same run; peak MB is the server processes' (VmHWM, counted from each line's start).

| scenario | requests | req/s | p50 ms | p99 ms | ratio to baseline | peak MB | statuses |
|---|---|---|---|---|---|---|---|
{table}

Registration validates, checks the code that proves the phone, checks uniqueness, inserts (a
savepoint catches a concurrent duplicate), marks the code used and issues a token, in one
transaction. Login checks the code, marks it used and issues a token. The Python load
generator is the bottleneck even for the baseline, so these are lower bounds.
"""
    common.write_section(Path(args.out), "Registration and login", section)
    print(section)
    bad = {k: r["statuses"] for k, r in results.items() if set(r["statuses"]) - {200, 201}}
    if bad:
        raise RuntimeError(f"unexpected statuses: {bad}")

    base_row = common.row_of(NAME, "baseline: GET /healthz", base, "req/s")
    return [base_row] + [
        common.row_of(NAME, name, r, "req/s", against=base_row)
        for name, r in results.items()
        if r is not base
    ]


if __name__ == "__main__":
    main()
