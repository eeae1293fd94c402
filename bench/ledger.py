"""The points ledger on PostgreSQL (账本基准): awards per second through the service layer, and
balance reads as the transfers table grows to a million rows.

1. Awards: closed attendances settled by `points.awards.settle` (what the worker's job calls), one
   transaction per batch, as a catch-up after an outage or a busy lunch would run; and one per
   transaction, as single events arrive. Each award posts two transfers (minutes and points), a lot
   and the award row.
2. Balance reads: `GET /api/v1/me/points` on `linli serve --workers 2` (wrk, one connection) and the
   service call in-process, first with the awards above in the table, then again with a million
   transfers (added in bulk by SQL, balances and lots kept true: `verify` must pass).

On a copy of the county (which has no ledger of its own). Writes its section of
docs/performance.md; returns its summary rows.

    .venv/bin/python bench/ledger.py [--awards 20000] [--batch 500] [--transfers 1000000]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from sqlalchemy import insert, select, text  # noqa: E402

from bench import common  # noqa: E402
from linli.runtime import Runtime  # noqa: E402

NAME = "ledger"


def seed(rt: Runtime, volunteers: int, attendances: int) -> tuple[list[int], list[int]]:
    from orgs import service as orgs_service
    from volunteer import activities
    from volunteer.models import Attendance, Volunteer

    now = rt.clock.now()
    with rt.tx() as s:
        base = common.county_base(s, now)
        hub = orgs_service.create_child(
            s, parent_id=base.id, name="泉塘街道服务中心", join_mode=None, now=now
        )
        org = orgs_service.create_child(s, parent_id=hub.id, name="泉塘志愿者协会", join_mode=None, now=now)
        station = orgs_service.create_station(
            s, org_id=org.id, name="泉心食堂", kind="counter", shared=True, now=now
        )
        activity = activities.create(
            s,
            activities.ActivityInput(
                org.id, station.id, "午餐助餐服务", "meal_service", now - timedelta(days=30), now, 10_000
            ),
            admin_paths=["/"],
            created_by=None,
            now=now,
        )
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
        rows = []
        for n in range(attendances):  # one a day per volunteer, so the daily cap does not bite
            start = now - timedelta(days=1 + n // volunteers, hours=3)
            rows.append(
                {
                    "activity_id": activity.id,
                    "volunteer_id": ids[n % volunteers],
                    "station_id": station.id,
                    "state": "closed",
                    "checked_in_at": start,
                    "checked_out_at": start + timedelta(minutes=150),
                    "minutes": 150,
                    "flagged": False,
                    "created_at": now,
                }
            )
        s.execute(insert(Attendance), rows)
        return ids, list(
            s.scalars(
                select(Attendance.id).where(Attendance.activity_id == activity.id).order_by(Attendance.id)
            )
        )


def award_rate(rt: Runtime, attendance_ids: list[int], batch: int) -> dict:
    """Awards per second, and how long each transaction took (ms)."""
    from points import awards

    times = []
    started = time.perf_counter()
    for i in range(0, len(attendance_ids), batch):
        t = time.perf_counter()
        with rt.tx() as s:
            made = awards.settle(
                s,
                [(a, f"attendance:{a}") for a in attendance_ids[i : i + batch]],
                now=rt.clock.now(),
                tz=rt.settings.tz,
            )
            assert all(m is not None for m in made)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "rps": len(attendance_ids) / (time.perf_counter() - started),
        "p50": common.percentile(times, 50),
        "p99": common.percentile(times, 99),
    }


def bulk_transfers(rt: Runtime, total: int) -> None:
    """Grow the table to `total` transfers quickly: 1-point awards from the hub to each volunteer,
    written by SQL, with the accounts' balances and a lot each kept equal to them."""
    with rt.engine.begin() as conn:
        have = conn.scalar(text("SELECT count(*) FROM ledger_transfers"))
        n = max(0, total - have)
        accounts = conn.scalar(
            text("SELECT count(*) FROM ledger_accounts WHERE kind = 'volunteer' AND ledger = 'points'")
        )
        conn.execute(
            text(
                """
                WITH v AS (
                  SELECT id, row_number() OVER (ORDER BY id) - 1 AS k
                  FROM ledger_accounts WHERE kind = 'volunteer' AND ledger = 'points'),
                hub AS (SELECT id FROM ledger_accounts WHERE kind = 'hub_issued' AND ledger = 'points' LIMIT 1),
                keys AS (INSERT INTO transfer_ids (id, created_at)
                  SELECT 'bulk:' || g, now() FROM generate_series(0, :n - 1) g RETURNING id)
                INSERT INTO ledger_transfers
                  (id, ledger, kind, debit_account_id, credit_account_id, amount, reason, reference, created_at)
                SELECT 'bulk:' || g, 'points', 'single', hub.id, v.id, 1, 'service_award', 'bench', now()
                FROM generate_series(0, :n - 1) g CROSS JOIN hub JOIN v ON v.k = g % :accounts
                """
            ),
            {"n": n, "accounts": accounts},
        )
        conn.execute(
            text(
                """
                INSERT INTO point_lots (account_id, transfer_id, amount, remaining, expires_at, created_at)
                SELECT credit_account_id, min(id), count(*), count(*), now() + interval '400 days', now()
                FROM ledger_transfers WHERE id LIKE 'bulk:%' GROUP BY credit_account_id
                """
            )
        )
        for side, column in (("credit_account_id", "credits_posted"), ("debit_account_id", "debits_posted")):
            conn.execute(
                text(
                    f"""
                    UPDATE ledger_accounts a SET {column} = a.{column} + b.total
                    FROM (SELECT {side} AS account, sum(amount) AS total FROM ledger_transfers
                          WHERE id LIKE 'bulk:%' GROUP BY {side}) b
                    WHERE a.id = b.account
                    """
                )
            )
        conn.execute(text("ANALYZE"))


def service_reads(rt: Runtime, volunteer_ids: list[int], reads: int) -> dict:
    """`points.standing.standing` in this process, one transaction each, for random volunteers."""
    from points import standing

    times = []
    started = time.perf_counter()
    for i in range(reads):
        t = time.perf_counter()
        with rt.tx() as s:
            standing.standing(s, volunteer_ids[i * 7919 % len(volunteer_ids)])
        times.append((time.perf_counter() - t) * 1000)
    return {
        "rps": reads / (time.perf_counter() - started),
        "p50": common.percentile(times, 50),
        "p99": common.percentile(times, 99),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--volunteers", type=int, default=5000)
    ap.add_argument("--awards", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--singles", type=int, default=1000)
    ap.add_argument("--transfers", type=int, default=1_000_000)
    ap.add_argument("--reads", type=int, default=2000, help="service reads in this process")
    ap.add_argument("--duration", type=int, default=10, help="seconds of HTTP reads (wrk)")
    args = common.parse(
        ap, argv, quick={"awards": 2000, "singles": 100, "transfers": 100_000, "reads": 300, "duration": 3}
    )
    setup = common.prepare(args, NAME)
    rt = setup.runtime()
    volunteers, attendances = seed(rt, args.volunteers, args.awards + args.singles)

    batched = award_rate(rt, attendances[: args.awards], args.batch)
    single = award_rate(rt, attendances[args.awards :], 1)
    print(
        f"awards: {batched['rps']:.0f}/s in batches of {args.batch}, {single['rps']:.0f}/s one per transaction"
    )

    from accounts import service as accounts_service
    from points import verification

    with rt.tx() as s:
        token = accounts_service.issue_token(
            s, now=rt.clock.now(), ttl_seconds=86400, volunteer_id=volunteers[0]
        ).token
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    reads = []
    try:
        with common.linli_server(setup, args.workers) as server:
            for label in ("small", "large"):
                if label == "large":
                    bulk_transfers(rt, args.transfers)
                with rt.tx() as s:
                    count = s.scalar(text("SELECT count(*) FROM ledger_transfers"))
                url = server.url + "/api/v1/me/points"
                common.run_wrk(url, 1 if args.quick else 2, 1, script=script, threads=1)  # warm up
                server.reset_peak()
                h = common.run_wrk(url, args.duration, 1, script=script, threads=1)
                h["peak_mb"] = server.peak_mb()
                sv = service_reads(rt, volunteers, args.reads)
                reads.append((count, h, sv))
                print(
                    f"reads at {count} transfers: http p50 {h['p50']:.1f} ms p99 {h['p99']:.1f} ms; "
                    f"service p50 {sv['p50']:.2f} p99 {sv['p99']:.2f}"
                )
    finally:
        script.unlink()
    with rt.tx() as s:
        problems = verification.verify(s)
    rt.close()
    assert not problems, problems[:5]

    table = "\n".join(
        f"| {count:,} | {h['rps']:.0f} | {h['p50']:.1f} | {h['p99']:.1f} | {h['peak_mb']:.0f} "
        f"| {sv['p50']:.2f} | {sv['p99']:.2f} |"
        for count, h, sv in reads
    )
    (small, h_small, sv_small), (big, h_big, sv_big) = reads
    awards_met = batched["rps"] >= 1000
    read_met = sv_big["p99"] < 5
    section = f"""## Points ledger (bench/ledger.py)

Last run: {common.stamp(args)}, PostgreSQL on loopback, a copy of the county, same machine.

Awards through the service layer (`points.awards.settle`, what the worker's job calls), in this
process: each posts two transfers (minutes and points), a lot and the award row, and records star
levels.

| how | awards | awards/s |
|---|---|---|
| batches of {args.batch}, one transaction each | {args.awards:,} | {batched["rps"]:.0f} |
| one per transaction (a single event) | {args.singles:,} | {single["rps"]:.0f} |

Balance reads: `GET /api/v1/me/points` on `linli serve --workers {args.workers}` (wrk, one connection,
{args.duration} s; peak MB of the server's processes), and the service call in-process ({args.reads:,} reads of
random volunteers). Balances are columns of the account row, kept in the transaction of each
transfer, so a read does not depend on how many transfers there are.

| transfers in the table | HTTP req/s | HTTP p50 ms | HTTP p99 ms | peak MB | service p50 ms | service p99 ms |
|---|---|---|---|---|---|---|
{table}

Target: at least 1,000 awards per second, and a balance read under 5 ms at p99 with a million
transfers. This run: {batched["rps"]:.0f} awards/s ({"meets" if awards_met else "misses"}); at {big:,}
transfers the service read's p99 is {sv_big["p99"]:.2f} ms and the HTTP read's {h_big["p99"]:.1f} ms
({"meets" if read_met else "misses"} for the read itself). `linli ledger verify` passed afterwards.
One award per transaction is bounded by round trips and the commit's flush to disk; the
worker's events are single, so a backlog is best settled in batches.
"""
    common.write_section(Path(args.out), "Points ledger", section)
    print(section)

    single_row = common.row_of(NAME, "awards, one per transaction (in-process)", single, "awards/s")
    batches = common.row_of(
        NAME,
        f"awards, batches of {args.batch} (in-process)",
        {"rps": batched["rps"]},  # no latencies: a batch's is not an award's
        "awards/s",
        against=single_row,
        target="≥ 1,000 awards/s",
        met=awards_met,
    )
    http_small = common.row_of(NAME, f"GET /api/v1/me/points, {small:,} transfers", h_small, "req/s")
    http_big = common.row_of(
        NAME, f"GET /api/v1/me/points, {big:,} transfers", h_big, "req/s", against=http_small
    )
    service_small = common.row_of(NAME, f"balance read in-process, {small:,} transfers", sv_small, "reads/s")
    service_big = common.row_of(
        NAME,
        f"balance read in-process, {big:,} transfers",
        sv_big,
        "reads/s",
        against=service_small,
        target="p99 < 5 ms",
        met=read_met,
    )
    return [single_row, batches, http_small, http_big, service_small, service_big]


if __name__ == "__main__":
    main()
