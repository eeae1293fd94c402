"""Every benchmark, one after another, and one table (基准测试): `make bench`.

Loads `linli demo --scale county` once (bench/common.py keeps it in <name>_county; each benchmark
works in a fresh copy of it), runs each module of BENCHMARKS against the real server on PostgreSQL
and Redis, and writes the summary table of their rows at the top of docs/performance.md, above
the sections each benchmark writes with its details. A benchmark that fails is reported and the
others still run; the exit status is then 1.

    .venv/bin/python bench/run.py [--quick] [--only scans meals] [--fresh-county] [--out FILE]
                                 [--pgbouncer]
    .venv/bin/python bench/run.py --only scale --counties 1,3,10 [--fraction F]   (an hour or more)

A benchmark is bench/<name>.py with `main(argv) -> list[dict]` (see bench/common.py, `row()`).
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import common  # noqa: E402

# in this order; a name whose bench/<name>.py does not exist yet is skipped
BENCHMARKS = ["registration", "scans", "meals", "ledger", "reports", "dashboards", "rush"]
# run only when named with --only: bench/scale.py loads a province of its own (an hour and more)
ON_REQUEST = ["scale"]

SUMMARY = """## Summary (bench/run.py)

Last run: {stamp}; {took}. {county}

One row per scenario. Throughput: per second, in the unit given. p50, p99: the latency of one
request (one build, one call) in ms. Peak MB: the highest resident memory (VmHWM) of the server's
processes, summed, from the scenario's start; empty where it runs in the bench's own process.
Ratio: throughput over the baseline's, measured in the same run (compare these, not absolute
figures). Target: what the issue asked for; met: whether this run did.

{table}

Every benchmark starts from a fresh copy of `linli demo --scale county` (30,000 volunteers, a year of
meals at 148 meal points: about 1.3 million) and adds its own under the county's root: new
volunteers to register and log in, a counter with its volunteers (scans) or diners (meal counter),
awards grown to a million transfers (ledger); reports read the county's meals as they are. The
county holds no attendances, scans or points (its year is of meals, not of volunteering), so those
tables hold only what the scans and ledger benchmarks put there. At full durations the benchmarks
take about 6 minutes, plus 3 to 4 for loading the county and 10 for the lunch rush. A province is
`linli demo --scale province --counties N`: N such counties, each under its own root with ids after
the last; run again with a larger N it adds the missing counties, and it reports its loading rate.
"""


def main(argv: list[str] | None = None) -> int:
    ap = common.parser(__doc__)
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS + ON_REQUEST, help="run only these benchmarks")
    ap.add_argument("--counties", default="1,3,10", help="bench/scale.py: the sizes, in counties")
    ap.add_argument("--fraction", default="1", help="bench/scale.py: of each county (a dry run)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    county_needed = any(name not in ON_REQUEST for name in args.only or BENCHMARKS)
    load = common.ensure_county(args) if county_needed else None
    county = (
        "bench/scale.py loads its own province."
        if not county_needed
        else "`linli demo --scale county` kept from an earlier run (current: same schema, same day)."
        if load is None
        else "`linli demo --scale county` loaded afresh."
    )
    passed = ["--database-url", args.database_url, "--redis-url", args.redis_url, "--out", args.out]
    passed += ["--workers", str(args.workers), "--keep-county"] + (["--quick"] if args.quick else [])
    passed += ["--pgbouncer"] if args.pgbouncer else []

    rows, failed, skipped = [], [], []
    took = {} if load is None else {"loading the county": load}
    for name in args.only or BENCHMARKS:
        if not (ROOT / "bench" / f"{name}.py").exists():
            print(f"== {name}: bench/{name}.py does not exist yet, skipped", flush=True)
            skipped.append(name)
            continue
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        try:
            own = ["--counties", args.counties, "--fraction", args.fraction] if name == "scale" else []
            rows += importlib.import_module(f"bench.{name}").main(passed + own)
        except (Exception, SystemExit):
            traceback.print_exc()
            failed.append(name)
        took[name] = time.perf_counter() - t
        print(f"== {name}: {took[name]:.0f} s", flush=True)

    minutes = (time.perf_counter() - started) / 60
    summary = SUMMARY.format(
        stamp=common.stamp(args),
        took=f"took {minutes:.0f} min (" + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()) + ")",
        county=county,
        table=common.summary_table(rows),
    )
    if args.only:
        summary += f"\nOnly some benchmarks ran (--only {' '.join(args.only)}).\n"
    if skipped:
        summary += f"\nNot written yet, so not run: {', '.join(f'bench/{n}.py' for n in skipped)}.\n"
    if failed:
        summary += f"\nFailed in this run (no rows): {', '.join(failed)}.\n"
    common.write_summary(Path(args.out), summary)
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
