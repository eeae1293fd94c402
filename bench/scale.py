"""Growth with the data (规模增长基准): the same measures at 1, 3 and 10 counties, on one machine.

One database, `<name>_scale_county`, grown county by county with `linli demo --scale province
--counties N` (its loading rate reported); at each size, the other benchmarks' own pieces run on
copies of it: the report builds of bench/reports.py (a partner's month, a hub's month, the
county's month and year, all of the first county: the scope stays while the data grows), balance
reads (bench/ledger.py's), the nightly jobs of `linli cron` (workers/cron.py) one after another,
and the database's size per county-year. Each size is kept (a copy) for the scan door
(bench/scans.py, with its baseline) and the meal counter (bench/meals.py), measured once all sizes
are loaded, in turns (1, 3, 10, then 10, 3, 1, ...), so that every size sees the machine's same
minutes: a target that compares sizes must not compare a quiet quarter hour with a busy one.
At the largest size, the lunch rush (bench/rush.py) at every meal point of the province at once,
each counter scanning a card every 30 s (`--rush-interval`; the demo's busiest meal point serves
36 lunches a day, in a slot of two and a half hours), `--no-rush` leaves it out. Writes its section of docs/performance.md; returns its
summary rows (the largest size against the smallest).

    .venv/bin/python bench/run.py --only scale --counties 1,3,10 [--fraction F]
    .venv/bin/python bench/scale.py --counties 1,2 --fraction 0.02 --quick   (a dry run)

`--fraction` shrinks each county (organizations, volunteers, days of meals), to try the bench.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from sqlalchemy import func, select, text  # noqa: E402

from bench import common, ledger, meals, reports, rush, rush_checks, scans  # noqa: E402

NAME = "scale"
# what `linli cron` runs once a night (workers/cron.py's SCHEDULE); monthly_reports acts on the
# first of the month only (its cost is the report builds), the every-few-minutes jobs are not nightly
NIGHTLY = ("prune", "generate_shift_activities", "points_nightly", "ledger_verify", "integrity_sweep")
RUSH_P99_MS = 200
CONNECTIONS = 8  # the first line of bench/scans.py's and bench/meals.py's (the targets' line)


def sizes(value: str) -> list[int]:
    counties = sorted({int(x) for x in value.split(",") if x.strip()})
    if not counties or counties[0] < 1:
        raise argparse.ArgumentTypeError("counties: e.g. 1,3,10")
    return counties


def verdict(first: float, last: float, data: float, cost: bool = True) -> tuple[float, str]:
    """How a figure grew from the smallest size to the largest: its cost's factor (a time as is,
    a throughput inverted) and the verdict: flat (under 1.5x), linear (no more than the data grew,
    1.5x allowed), worse."""
    if not first or not last:
        return float("nan"), "n/a"
    factor = last / first if cost else first / last
    if factor < 1.5:
        return factor, "flat"
    return factor, "linear" if factor <= 1.5 * data else "**worse**"


# --- loading -----------------------------------------------------------------------------------


def grow(env: dict, counties: int, fraction: float) -> dict:
    """`linli demo --scale province --counties N`: the counties missing, with their loading rate."""
    argv = [common.LINLI, "demo", "--scale", "province", "--counties", str(counties)]
    argv += ["--fraction", str(fraction)] if fraction < 1 else []
    started = time.perf_counter()
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    added = re.search(r"loaded (\d+) ", out)
    rows = re.search(r"total ([\d,]+) rows", out)
    added = int(added.group(1)) if added else 0
    rows = int(rows.group(1).replace(",", "")) if rows else 0
    print(f"grown to {counties} counties: {added} added, {rows:,} rows in {seconds:.0f} s", flush=True)
    return {"added": added, "rows": rows, "seconds": seconds}


def database_mb(url: str) -> float:
    admin = common._admin(url)
    with admin.connect() as conn:
        size = conn.scalar(text("SELECT pg_database_size(:n)"), {"n": url.rpartition("/")[2]})
    admin.dispose()
    return size / 2**20


# --- in-process measures on a copy -------------------------------------------------------------


def scopes(rt) -> dict:
    """The first county's partner, its hub with the most meal points, and the county itself."""
    from meals.models import MealPoint
    from orgs.models import Organization, Partner

    with rt.tx() as s:
        base = s.scalar(select(Organization).where(Organization.kind == "base").order_by(Organization.id))
        partner = s.scalar(select(Partner).where(Partner.name == "泉心社会企业"))
        paths = list(
            s.scalars(select(Organization.path).join(MealPoint, MealPoint.org_id == Organization.id))
        )
        hubs = s.scalars(select(Organization).where(Organization.parent_id == base.id)).all()
        hub = max(hubs, key=lambda h: sum(p.startswith(h.path) for p in paths))
        return {
            "partner": {"partner_id": partner.id, "meal_point_ids": []},
            "hub": {"org_path": hub.path, "meal_point_ids": [], "internal": True},
            "county": {"org_path": base.path, "meal_point_ids": [], "internal": True},
        }


def reads(setup: common.Setup, repeat: int, balance_reads: int) -> dict:
    """Report builds, balance reads and the nightly jobs, in this process, on a copy."""
    from datetime import timedelta

    from meals.models import Meal
    from reports.service import last_month
    from volunteer.models import Volunteer
    from workers import context, jobs

    rt = setup.runtime()
    today = rt.clock.now().astimezone(rt.settings.tz).date()
    start, end = last_month(today)
    out = {}
    with rt.tx() as s:
        out["meals"] = s.scalar(select(func.count()).select_from(Meal))
        volunteers = list(s.scalars(select(Volunteer.id).order_by(Volunteer.id).limit(5000)))
    scope = scopes(rt)
    for label, stored, first in (
        ("partner month", scope["partner"], start),
        ("hub month", scope["hub"], start),
        ("county month", scope["county"], start),
        ("county year", scope["county"], today - timedelta(days=365)),
    ):
        reports.build(rt, stored, first, end)  # warm: this process's imports and the database's cache
        out[label] = reports.timed(lambda st=stored, f=first: reports.build(rt, st, f, end), repeat)["p50"]
        print(f"  {label}: {out[label]:.0f} ms", flush=True)
    ledger.service_reads(rt, volunteers, 20)  # warm
    out["balance"] = ledger.service_reads(rt, volunteers, balance_reads)
    print(f"  balance reads: p99 {out['balance']['p99']:.1f} ms", flush=True)
    context.set_runtime(rt)  # the jobs run with this runtime, as in a worker
    try:
        for name in NIGHTLY:
            getattr(jobs, name)()  # warm, as a worker up since the morning (the demo holds nothing
            # to prune or expire, so both runs do the same work)
            t = time.perf_counter()
            getattr(jobs, name)()
            out[name] = (time.perf_counter() - t) * 1000
            print(f"  nightly {name}: {out[name]:.0f} ms", flush=True)
    finally:
        context.set_runtime(None)
        rt.close()
    return out


def door_and_counter(args: argparse.Namespace, base: str, scratch: Path) -> dict:
    """bench/scans.py and bench/meals.py at the targets' connections, on copies of `<base>_county`
    (their sections go to a scratch file); the counter's ratio is to the scan bench's baseline,
    measured minutes before."""
    argv = ["--database-url", base, "--redis-url", args.redis_url, "--out", str(scratch)]
    argv += ["--workers", str(args.workers), "--keep-county", "--connections", str(CONNECTIONS)]
    argv += ["--quick"] if args.quick else []
    door = scans.main(argv)
    counter = meals.main(argv)
    for piece in ("scans", "meals"):
        common.drop_database(f"{base}_{piece}")
    baseline, scan = door[0], door[1]
    return {
        "baseline": baseline["throughput"],
        "door": {"rps": scan["throughput"], "p99": scan["p99_ms"], "ratio": scan["ratio"]},
        "counter": {
            "rps": counter[0]["throughput"],
            "p99": counter[0]["p99_ms"],
            "ratio": counter[0]["throughput"] / baseline["throughput"],
        },
    }


def middle(turns: list[dict]) -> dict:
    """The median of each figure of a size's turns (with two turns, their mean)."""
    from statistics import median

    return {
        "baseline": median(t["baseline"] for t in turns),
        **{
            what: {key: median(t[what][key] for t in turns) for key in ("rps", "p99", "ratio")}
            for what in ("door", "counter")
        },
        "turns": turns,
    }


# --- the section -------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return common._num(value) if value == value else ""  # NaN: empty


def table(counties: list[int], unit: str, lines: list[tuple[str, list[float], bool]]) -> str:
    """One table: a line per figure, a column per size, the growth and its verdict. `lines`:
    (label, values by size, whether it is a cost: a time or a size, not a throughput)."""
    data = counties[-1] / counties[0]
    head = " | ".join(f"{n} {'county' if n == 1 else 'counties'}" for n in counties)
    out = [f"| {unit} | {head} | growth {counties[0]}→{counties[-1]} | verdict |"]
    out.append("|---" * (len(counties) + 3) + "|")
    for label, values, cost in lines:
        factor, word = verdict(values[0], values[-1], data, cost)
        cells = " | ".join(_fmt(v) for v in values)
        out.append(f"| {label} | {cells} | {_fmt(factor)}x | {word} |")
    return "\n".join(out)


def section(
    args, counties: list[int], r: dict, rush_result: dict | None, county_years: dict, empty_mb: float
) -> str:
    at = [r[n] for n in counties]
    ratio_ok = {
        what: abs(at[-1][what]["ratio"] / at[0][what]["ratio"] - 1) <= 0.10 for what in ("door", "counter")
    }
    dry = args.fraction < 1 or args.quick

    def turn_ratios(what: str) -> str:
        return "; ".join(
            f"{n}: " + " / ".join(f"{t[what]['ratio']:.2f}" for t in r[n]["turns"]) for n in counties
        )

    rush_text = "not run"
    if rush_result:
        rush_text = (
            f"{rush_result['points']} meal points at once for {args.rush_minutes:g} min, "
            f"a counter scan every {args.rush_interval:g} s at each: "
            f"{rush_result['counter_scans']} counter scans, p99 {rush_result['counter_p99']:.0f} ms "
            f"(all requests: p99 {rush_result['p99']:.0f} ms), errors {rush_result['errors']}, "
            f"checks {'all passed' if rush_result['checks'] else '**failed**'}: "
            f"{'meets' if rush_result['met'] else '**misses**'} the target (no errors, counter p99 < {RUSH_P99_MS} ms)"
        )
    return f"""## Scale (bench/scale.py)

Last run: {common.stamp(args)}{
        " — **a dry run**: each county at "
        + f"{args.fraction:g}"
        + " of its size, short durations; figures check the bench, not the product"
        if dry
        else ""
    }.
One database grown by `linli demo --scale province --counties N` to {", ".join(map(str, counties))}
counties; at each size the other benchmarks' pieces on copies of it. Reports: the first county's
scopes (the scope asked stays, the data around it grows), built in-process as the worker builds them,
median of {args.repeat}. Verdict, from the smallest size to the largest (data {
        counties[-1] / counties[0]:g}x):
flat = the cost grew under 1.5x; linear = no more than the data grew (1.5x allowed); worse = more.

Loading (`linli demo --scale province`):

{
        table(
            counties,
            "loading",
            [
                ("rows added", [x["load"]["rows"] for x in at], True),
                (
                    "rows/s",
                    [x["load"]["rows"] / x["load"]["seconds"] if x["load"]["seconds"] else 0 for x in at],
                    False,
                ),
                (
                    "minutes per county added",
                    [x["load"]["seconds"] / 60 / max(1, x["load"]["added"]) for x in at],
                    True,
                ),
            ],
        )
    }

Database size (pg_database_size after loading; per county-year: without the empty schema's
{empty_mb:.0f} MB, over the counties' years of meals):

{
        table(
            counties,
            "MB",
            [
                ("whole database", [x["mb"] for x in at], True),
                ("per county-year", [(r[n]["mb"] - empty_mb) / county_years[n] for n in counties], True),
                ("meals in the database", [x["meals"] for x in at], True),
            ],
        )
    }

Scan door (bench/scans.py) and meal counter (bench/meals.py), {CONNECTIONS} connections, every size
measured in each of {args.turns} turns once all were loaded (the middle of its turns; the ratios of each
turn: door {turn_ratios("door")}; counter {turn_ratios("counter")}):

{
        table(
            counties,
            "scans",
            [
                ("baseline req/s (same run)", [x["baseline"] for x in at], False),
                ("scan door scans/s", [x["door"]["rps"] for x in at], False),
                ("scan door p99 ms", [x["door"]["p99"] for x in at], True),
                ("scan door ratio to baseline", [x["door"]["ratio"] for x in at], False),
                ("counter scans/s", [x["counter"]["rps"] for x in at], False),
                ("counter p99 ms", [x["counter"]["p99"] for x in at], True),
                ("counter ratio to baseline", [x["counter"]["ratio"] for x in at], False),
            ],
        )
    }

Target: at {counties[-1]} counties within 10 % of the {counties[0]}-county ratio to the baseline: scan door
{"met" if ratio_ok["door"] else "**not met**"}, counter {"met" if ratio_ok["counter"] else "**not met**"}.

Reports (`meal_usage`, XLSX, the job's build in-process), balance reads and nightly jobs, ms:

{
        table(
            counties,
            "ms",
            [
                ("partner month (泉心社会企业)", [x["partner month"] for x in at], True),
                ("hub month (the county's largest hub)", [x["hub month"] for x in at], True),
                ("county month", [x["county month"] for x in at], True),
                ("county year", [x["county year"] for x in at], True),
                ("balance read p50", [x["balance"]["p50"] for x in at], True),
                ("balance read p99", [x["balance"]["p99"] for x in at], True),
                *((f"nightly: {name}", [x[name] for x in at], True) for name in NIGHTLY),
            ],
        )
    }

Targets: the partner month at {counties[-1]} counties within 1.5x of {counties[0]}
({at[-1]["partner month"] / at[0]["partner month"]:.2f}x: {
        "met" if at[-1]["partner month"] <= 1.5 * at[0]["partner month"] else "**not met**"
    });
the county month under 5 s ({at[-1]["county month"] / 1000:.2f} s: {
        "met" if at[-1]["county month"] < 5000 else "**not met**"
    }).
Balance reads: `points.standing` for the first 5,000 volunteers (the demo holds no ledger, so this is
the lookup's cost, not a long history's). Nightly jobs: each once in this process, as the worker runs it, after a first run to warm it.

Province lunch rush (bench/rush.py) at {counties[-1]} counties: {rush_text}.

{rush_result["detail"] if rush_result else ""}
"""


# --- running it --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> list[dict]:
    ap = common.parser(__doc__)
    ap.add_argument("--counties", type=sizes, default=[1, 3, 10], help="sizes, e.g. 1,3,10")
    ap.add_argument("--fraction", type=float, default=1.0, help="of each county (a dry run)")
    ap.add_argument("--repeat", type=int, default=3, help="builds of each report")
    ap.add_argument("--reads", type=int, default=2000, help="balance reads")
    ap.add_argument("--rush-minutes", type=float, default=10)
    ap.add_argument(
        "--rush-interval", type=float, default=30.0, help="seconds between a counter's scans in the rush"
    )
    ap.add_argument("--no-rush", action="store_true")
    ap.add_argument("--turns", type=int, default=2, help="of the scan door and counter at every size")
    args = common.parse(ap, argv, quick={"repeat": 1, "reads": 200, "rush_minutes": 1.0})
    base = f"{args.database_url}_scale"  # grown in <base>_county, copied to <base>_<piece>
    sub = argparse.Namespace(
        **{**vars(args), "database_url": base, "keep_county": True, "fresh_county": False}
    )
    grown = common.county_url(sub)
    env = {**os.environ, **common.linli_env(grown, args.redis_url, "bench:scale-0123456789abcdef")}
    from cli.demo_scale import DAYS

    days = max(1, round(DAYS * args.fraction))
    common.fresh_database(grown)
    subprocess.run([common.LINLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    empty_mb = database_mb(grown)  # the schema alone: not a county's
    scratch = Path(tempfile.mkstemp(suffix=".md")[1])
    results: dict[int, dict] = {}
    rush_result = None
    kept = {n: base if n == args.counties[-1] else f"{base}{n}" for n in args.counties}  # <kept>_county
    try:
        for n in args.counties:
            print(f"== scale: {n} counties", flush=True)
            results[n] = {"load": grow(env, n, args.fraction), "mb": database_mb(grown)}
            results[n] |= reads(common.prepare(sub, "reads"), args.repeat, args.reads)
            common.drop_database(f"{base}_reads")
            if kept[n] != base:
                common.fresh_database(f"{kept[n]}_county", template=grown.rpartition("/")[2])
        turns: dict[int, list[dict]] = {n: [] for n in args.counties}
        for turn in range(args.turns):
            for n in args.counties if turn % 2 == 0 else reversed(args.counties):
                print(f"== scale: scan door and counter at {n} counties, turn {turn + 1}", flush=True)
                turns[n].append(door_and_counter(args, kept[n], scratch))
        for n in args.counties:
            results[n] |= middle(turns[n])
        if not args.no_rush:
            setup = common.prepare(sub, "rush")
            tally, checks, figures = rush.run(
                setup.database_url, setup.redis_url, args.rush_minutes, 0, args.rush_interval, args.workers
            )
            every = [ms for values in tally.ms.values() for ms in values]
            counter = tally.ms.get("counter scan") or [float("nan")]
            rush_result = {
                "points": figures["points"],
                "counter_scans": len(tally.ms.get("counter scan", [])),
                "counter_p99": common.percentile(counter, 99),
                "p99": common.percentile(every, 99),
                "errors": len(tally.errors),
                "checks": all(ok for _, ok, _ in checks),
            }
            rush_result["met"] = (
                rush_result["errors"] == 0
                and rush_result["checks"]
                and rush_result["counter_p99"] < RUSH_P99_MS
            )
            # its own section (every kind of request, the checks), as a part of this one
            interval, stamp = args.rush_interval, common.stamp(args)
            detail, _ = rush_checks.report(tally, checks, figures, args.rush_minutes, interval, stamp)
            rush_result["detail"] = detail.replace("## Lunch rush (bench/rush.py)", "### Province lunch rush")
            common.drop_database(setup.database_url)
    finally:
        scratch.unlink(missing_ok=True)
        for url in kept.values():
            if url != base:
                common.drop_database(f"{url}_county")
    county_years = {n: n * days / DAYS for n in args.counties}
    text_ = section(args, args.counties, results, rush_result, county_years, empty_mb)
    common.write_section(Path(args.out), "Scale", text_)
    print(text_)
    return summary(args.counties, results, rush_result)


def summary(counties: list[int], r: dict, rush_result: dict | None) -> list[dict]:
    """The largest size's rows, each against the smallest's (ratio: throughput over it)."""
    first, last = counties[0], counties[-1]
    rows = []

    def pair(label, fn, unit, **kw):
        """fn(results of a size) -> (throughput, p50 ms, p99 ms)"""
        small = common.row(NAME, f"{label}, {first} county", fn(r[first])[0], unit, *fn(r[first])[1:])
        big = common.row(
            NAME, f"{label}, {last} counties", fn(r[last])[0], unit, *fn(r[last])[1:], against=small, **kw
        )
        rows.extend([small, big])

    for what, label in (("door", "scan door"), ("counter", "counter scans")):
        ok = abs(r[last][what]["ratio"] / r[first][what]["ratio"] - 1) <= 0.10
        target = f"ratio to baseline within 10 % of {first} county's"
        pair(label, lambda x, w=what: (x[w]["rps"], None, x[w]["p99"]), "scans/s", target=target, met=ok)
    for key, target, met in (
        (
            "partner month",
            f"within 1.5x of {first} county",
            r[last]["partner month"] <= 1.5 * r[first]["partner month"],
        ),
        ("county month", "< 5 s", r[last]["county month"] < 5000),
    ):
        pair(f"{key} report", lambda x, k=key: (1000 / x[k], x[k], None), "reports/s", target=target, met=met)
    if rush_result:
        rows.append(
            common.row(
                NAME,
                f"province lunch rush, {last} counties ({rush_result['points']} points)",
                None,
                None,
                None,
                rush_result["counter_p99"],
                target=f"no errors, counter p99 < {RUSH_P99_MS} ms",
                met=rush_result["met"],
            )
        )
    return rows


if __name__ == "__main__":
    main()
