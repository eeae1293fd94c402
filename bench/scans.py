"""Scan throughput against the real server (扫码基准).

`linli serve --workers 2` on PostgreSQL (a copy of the county) and Redis, driven by wrk (C, so the
load generator takes little of the two cores) with card scans at one meal-point counter: a
realistic mix of check-ins and check-outs (half the volunteers were checked in half an hour ago;
each card is scanned once in a run, in turn) and duplicates (after one answer in ten, the same
card again: a double tap). Beside it, in the same run, the baseline (`bench/baseline_app.py`: one row
inserted per request, same stack), and with --pgbouncer the same linli through PgBouncer in
transaction pooling (its statements not prepared: LINLI_DATABASE_POOLER=transaction). Writes its
section of docs/performance.md; returns its summary rows.

    .venv/bin/python bench/scans.py [--duration 20] [--connections 8 32] [--volunteers 100000] [--pgbouncer]
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from sqlalchemy import insert, select  # noqa: E402

from bench import common  # noqa: E402
from linli.runtime import Runtime  # noqa: E402

NAME = "scans"
PGBOUNCER_PORT = 6433
PGBOUNCER_POOL = 10  # server connections, for up to 60 clients (2 workers, 30 each)


def seed(rt: Runtime, volunteers: int) -> tuple[int, str, list[str]]:
    """A county slice: one counter, a lunch activity around now, filed volunteers, half checked in."""
    from accounts import service as accounts_service
    from orgs import service as orgs_service
    from volunteer import activities
    from volunteer.models import Attendance, Filing, Signup, Volunteer

    now = rt.clock.now()
    with rt.tx() as s:
        base = common.county_base(s, now)
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
        ids = list(  # this bench's volunteers, not the county's
            s.scalars(
                select(Volunteer.id).where(Volunteer.consent_terms_version == "bench").order_by(Volunteer.id)
            )
        )
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


def _combined(turns: list[dict]) -> dict:
    """One line's turns as one measurement."""
    outcomes: dict[str, int] = {}
    for t in turns:
        for k, v in t["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    requests = sum(t["requests"] for t in turns)
    return {
        "requests": requests,
        "rps": requests / sum(t["requests"] / t["rps"] for t in turns),
        "p50": statistics.median(t["p50"] for t in turns),
        "p99": max(t["p99"] for t in turns),
        "non_2xx": sum(t["non_2xx"] for t in turns),
        "outcomes": dict(sorted(outcomes.items())),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    ap.add_argument(
        "--volunteers", type=int, default=100_000, help="more than the run scans: no card comes round again"
    )
    args = common.parse(ap, argv, quick={"duration": 3, "volunteers": 6000})
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: `make bench` installs it (apt-get install wrk)")

    # one token drives the whole load: counted like any device, with a limit it cannot reach
    setup = common.prepare(args, NAME, LINLI_SCANS_PER_MINUTE=str(10**9))
    rt = setup.runtime()
    station, token, payloads = seed(rt, args.volunteers)
    rt.close()
    payload_file = Path(tempfile.mkstemp(suffix=".txt")[1])
    payload_file.write_text("\n".join(payloads) + "\n")
    wrk_env = {
        **setup.env,
        "BENCH_STATION": str(station),
        "BENCH_TOKEN": token,
        "BENCH_PAYLOADS": str(payload_file),
        "BENCH_THREADS": "2",  # common.run_wrk's
        "BENCH_REPEAT": "0.1",
    }
    cursor = [1]  # linli's next card: every run goes on where the last stopped

    def wrk(name: str, seconds: int, connections: int) -> dict:
        if name == baseline:  # the baseline ignores the cards
            return common.run_wrk(running[name].url, seconds, connections, env=wrk_env)
        env = {**wrk_env, "BENCH_FIRST": str(cursor[0])}
        out = common.run_wrk(running[name].url, seconds, connections, env=env)
        cursor[0] += out["requests"] + connections  # and those in flight when it stopped
        return out

    baseline = "baseline: insert one row (bench/baseline_app.py)"
    linli = "linli: POST /api/v1/scans (card scans)"
    servers = {
        baseline: [
            common.UVICORN,
            "--factory",
            "bench.baseline_app:app",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        linli: [common.LINLI, "serve"],
    }
    envs = {name: setup.env for name in servers}
    pooled = "linli through PgBouncer, transaction pooling, nothing prepared"
    unprepared = "linli direct, nothing prepared (the pooler setting, no PgBouncer)"
    # Both servers up at once, measured in turns (a few seconds each, baseline then linli, several
    # rounds per line): this machine's speed drifts from minute to minute, and turns let both see
    # the same drift. Throughput: all requests over all seconds; p50: the median of the rounds';
    # p99: the worst round's.
    rounds = max(1, args.duration // 5)
    results = {}
    try:
        with contextlib.ExitStack() as stack:
            if args.pgbouncer:
                from tests.fixtures.pgbouncer import PgBouncer

                workdir = tempfile.mkdtemp(prefix="pgbouncer-")
                stack.callback(shutil.rmtree, workdir, True)
                bouncer = stack.enter_context(
                    PgBouncer(setup.database_url, PGBOUNCER_PORT, workdir, pool_size=PGBOUNCER_POOL)
                )
                servers[pooled] = servers[unprepared] = servers[linli]
                envs[unprepared] = {**setup.env, "LINLI_DATABASE_POOLER": "transaction"}
                envs[pooled] = {
                    **setup.env,
                    "LINLI_DATABASE_URL": bouncer.url,
                    "LINLI_DATABASE_POOLER": "transaction",
                    "LINLI_DATABASE_DIRECT_URL": setup.database_url,
                }
            running = {
                name: stack.enter_context(common.Server([*cmd, "--workers", str(args.workers)], envs[name]))
                for name, cmd in servers.items()
            }
            # warm up: every worker's connections prepare their statements (psycopg, after 5 uses) and
            # PostgreSQL plans them; a fresh linli took over 5 s to reach its pace
            for name in running:
                wrk(name, 1 if args.quick else 10, args.connections[0])
            for connections in args.connections:
                for server in running.values():
                    server.reset_peak()
                turns: dict[str, list[dict]] = {name: [] for name in running}
                for _ in range(rounds):
                    for name in running:
                        turn = wrk(name, args.duration // rounds, connections)
                        turns[name].append(turn)
                for name, server in running.items():
                    results[(name, connections)] = {**_combined(turns[name]), "peak_mb": server.peak_mb()}
    finally:
        payload_file.unlink()
    if cursor[0] > args.volunteers:
        print(
            f"warning: {cursor[0] - 1} scans of {args.volunteers} cards: cards came round again",
            file=sys.stderr,
        )

    rows, table, verdicts = [], [], []
    target = "≥ 300/s, p99 < 100 ms, ≥ 0.5 × baseline"
    for connections in args.connections:
        b, r = results[(baseline, connections)], results[(linli, connections)]
        measured = [(baseline, b), (linli, r)]
        if args.pgbouncer:
            measured += [
                (unprepared, results[(unprepared, connections)]),
                (pooled, results[(pooled, connections)]),
            ]
        for name, x in measured:
            outcomes = ", ".join(f"{k} {v}" for k, v in x["outcomes"].items()) if name != baseline else ""
            table.append(
                f"| {name} | {connections} | {x['requests']} | {x['rps']:.0f} | {x['p50']:.1f} | {x['p99']:.1f} "
                f"| {x['rps'] / b['rps']:.2f} | {x['peak_mb']:.0f} | {x['non_2xx']} | {outcomes} |"
            )
        fast = r["rps"] >= 300 and r["p99"] < 100
        half = r["rps"] >= b["rps"] / 2
        verdicts.append(
            f"- {connections} connections: {r['rps']:.0f} scans/s, p99 {r['p99']:.0f} ms: "
            f"{'meets' if fast else 'misses'} the 300/s-under-100-ms target; "
            f"{r['rps'] / b['rps']:.2f} of the baseline: {'meets' if half else 'misses'} the half."
        )
        base_row = common.row_of(NAME, f"baseline: insert one row, {connections} connections", b, "req/s")
        scans = common.row_of(
            NAME,
            f"card scans, {connections} connections",
            r,
            "scans/s",
            against=base_row,
            target=target,
            met=fast and half,
        )
        rows += [base_row, scans]
        if args.pgbouncer:
            p, u = results[(pooled, connections)], results[(unprepared, connections)]
            rows.append(
                common.row_of(
                    NAME,
                    f"card scans through PgBouncer, {connections} connections",
                    p,
                    "scans/s",
                    against=base_row,
                )
            )
            verdicts.append(
                f"- through PgBouncer ({PGBOUNCER_POOL} server connections), {connections} connections: "
                f"{p['rps']:.0f} scans/s, p99 {p['p99']:.0f} ms, {p['rps'] / b['rps']:.2f} of the baseline "
                f"({p['rps'] / r['rps']:.2f} of linli direct with prepared statements; "
                f"direct without them: {u['rps']:.0f} scans/s, p99 {u['p99']:.0f} ms, {u['rps'] / r['rps']:.2f})."
            )
    nl = "\n"
    pgbouncer_note = (
        f"""
Through PgBouncer (--pgbouncer: deploy/pgbouncer/pgbouncer.ini, {PGBOUNCER_POOL} server connections,
transaction pooling, LINLI_DATABASE_POOLER=transaction): nothing is prepared, and each of a scan's
statements carries its deadline (`SET LOCAL statement_timeout` in the same message), so PostgreSQL
parses and plans every statement again, and every round trip goes through one more process. The
row "direct, nothing prepared" (the setting without PgBouncer) parts the two costs.
"""
        if args.pgbouncer
        else ""
    )
    section = f"""## Scans (bench/scans.py)

Last run: {common.stamp(args)}. `linli serve --workers {args.workers}` and the baseline
served the same way (uvicorn with httptools and uvloop), on a copy of the county in PostgreSQL; wrk
with 2 threads, {args.duration} s per line for each server, taken in {rounds} turns of
{args.duration // rounds} s (baseline, linli, baseline, ...) so that both see the machine's drift;
p50 is the median of the turns', p99 the worst turn's. {args.volunteers} filed volunteers of
the bench's own at one counter, half of them checked in half an hour before; each card scanned
once in the run, in turn, and after one answer in ten the same card again (a double tap). Peak MB: the
server's processes.

| server | connections | requests | req/s | p50 ms | p99 ms | ratio to baseline | peak MB | non-2xx | outcomes |
|---|---|---|---|---|---|---|---|---|---|
{nl.join(table)}

Everyone is signed up, as for a meal shift.
Target: at least 300 scans/s with p99 under 100 ms, and at least half the baseline's throughput.
{nl.join(verdicts)}

Where a scan's time goes. The baseline makes three round trips to PostgreSQL (BEGIN, INSERT,
COMMIT). A scan makes two, each its own transaction (`scans/fast.settle`): one read
without the volunteer's lock (the volunteer, the station, the open attendance, the last accepted
scan and, for one not checked in, the activity a check-in goes to), then one write: the scan
alone (a double tap), or the attendance opened or closed, its event for the ledger and the scan,
in one statement that takes the volunteer's lock itself. Both go straight to psycopg as prepared
statements (`linli.db.Direct`): SQLAlchemy's own work per statement cost more than psycopg's.
Beside the database, every scan is counted in Redis against its device's rate limit, logged and
timed for /metrics. The hot statements write their constants into the SQL, so PostgreSQL plans
each prepared statement once.
{pgbouncer_note}"""
    common.write_section(Path(args.out), "Scans", section)
    print(section)
    return rows


if __name__ == "__main__":
    main()
