"""What the benchmarks share (基准公共): options, databases, the servers under test and their
memory, wrk, and docs/performance.md.

A benchmark is a module of bench/ with `main(argv=None) -> list[dict]`: it parses its options
with `parser()` and `parse()` (the shared ones: database, Redis, output, `--quick`), works in its
own copy of the county (`prepare()`), writes its section of docs/performance.md
(`write_section()`) and returns its summary rows (`row()`), which bench/run.py gathers into the
table at the top. Run alone (`python bench/scans.py`) it does the same and leaves the table be.

Databases: `linli demo --scale county` is loaded once into `<name>_county` (`--database-url`
names `<name>`); each benchmark starts from a copy of it, `<name>_<benchmark>`, made with
PostgreSQL's CREATE DATABASE ... TEMPLATE (seconds, where loading takes minutes). The county is
loaded again when the schema or the day has moved on since (its year of meals ends yesterday), or
with `--fresh-county`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
LINLI = str(ROOT / ".venv" / "bin" / "linli")
UVICORN = str(ROOT / ".venv" / "bin" / "uvicorn")


# --- options -----------------------------------------------------------------------------------


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes; a benchmark adds its own."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/linli_bench",
        help="PostgreSQL server and base name: the county goes into <name>_county, each benchmark "
        "works in its copy <name>_<benchmark> (dropped and made again on every run)",
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/1", help="flushed by every benchmark")
    ap.add_argument("--workers", type=int, default=2, help="server processes (linli serve --workers)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    ap.add_argument("--quick", action="store_true", help="short durations, to check that it works")
    ap.add_argument(
        "--pgbouncer",
        action="store_true",
        help="scans: also measure linli through PgBouncer in transaction pooling (port 6433; "
        "LINLI_DATABASE_POOLER=transaction, nothing prepared), in the same turns",
    )
    ap.add_argument("--fresh-county", action="store_true", help="load the county again even if current")
    ap.add_argument(
        "--keep-county", action="store_true", help="copy <name>_county as it is (bench/run.py has loaded it)"
    )
    return ap


def parse(ap: argparse.ArgumentParser, argv: list[str] | None, quick: dict) -> argparse.Namespace:
    """Parse; with --quick, the options left at their defaults take the values in `quick`."""
    args = ap.parse_args(argv)
    if args.quick:
        for key, value in quick.items():
            if getattr(args, key) == ap.get_default(key):
                setattr(args, key, value)
    return args


def stamp(args: argparse.Namespace) -> str:
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}"
    return when + (" (a --quick run: short, to check the bench, not figures)" if args.quick else "")


# --- databases ---------------------------------------------------------------------------------


def _admin(db_url: str):
    server = db_url.rpartition("/")[0]
    return create_engine(
        f"{server}/postgres".replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )


def fresh_database(db_url: str, template: str | None = None) -> None:
    """Drop and create the database of `db_url`, empty or as a copy of the database `template`."""
    name = db_url.rpartition("/")[2]
    admin = _admin(db_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    admin.dispose()


def drop_database(db_url: str) -> None:
    name = db_url.rpartition("/")[2]
    admin = _admin(db_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def county_url(args: argparse.Namespace) -> str:
    return f"{args.database_url}_county"


def _county_is_current(url: str, tz: str) -> bool:
    """At the migrations' head, and the county's year of meals ends yesterday."""
    from zoneinfo import ZoneInfo

    from migrations import driver as migrate

    name = url.rpartition("/")[2]
    admin = _admin(url)
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
    if not exists:
        return False
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        if migrate.current(engine) != migrate.heads(url):
            return False
        with engine.connect() as conn:
            last = conn.scalar(text("SELECT max(service_day) FROM meals"))
    except Exception:  # half-loaded or not a county at all
        return False
    finally:
        engine.dispose()
    return last == datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)


def ensure_county(args: argparse.Namespace) -> float | None:
    """Load `linli demo --scale county` into <name>_county unless it is there and current.
    Returns the seconds loading took, or None when the loaded county was kept."""
    url = county_url(args)
    if args.keep_county:
        return None
    env = {**os.environ, **linli_env(url, args.redis_url, "bench:" + secrets.token_urlsafe(24))}
    if not args.fresh_county and _county_is_current(url, env.get("LINLI_TIMEZONE", "Asia/Shanghai")):
        return None
    print(f"loading `linli demo --scale county` into {url.rpartition('/')[2]} ...", flush=True)
    started = time.perf_counter()
    fresh_database(url)
    subprocess.run([LINLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([LINLI, "demo", "--scale", "county"], env=env, check=True, capture_output=True)
    args.fresh_county, args.keep_county = False, True  # loaded: from now on, copied as it is
    return time.perf_counter() - started


def linli_env(db_url: str, redis_url: str, secret: str) -> dict[str, str]:
    return {"LINLI_DATABASE_URL": db_url, "LINLI_REDIS_URL": redis_url, "LINLI_SECRET_KEY": secret}


@dataclass
class Setup:
    """A benchmark's database (a fresh copy of the county), Redis and settings."""

    database_url: str
    redis_url: str
    secret: str
    env: dict[str, str]  # for the servers: os.environ with the LINLI_ settings

    def runtime(self):
        from linli.runtime import Runtime
        from linli.settings import Settings, parse_secret_keys

        return Runtime(
            Settings(
                database_url=self.database_url,
                redis_url=self.redis_url,
                secret_keys=parse_secret_keys(self.secret),
            ),
            jobs=True,
        )


def prepare(args: argparse.Namespace, benchmark: str, **env: str) -> Setup:
    """<name>_<benchmark> as a fresh copy of the county (loaded first if need be), Redis flushed."""
    ensure_county(args)
    db_url = f"{args.database_url}_{benchmark}"
    fresh_database(db_url, template=county_url(args).rpartition("/")[2])
    secret = "bench:" + secrets.token_urlsafe(24)
    setup = Setup(
        db_url, args.redis_url, secret, {**os.environ, **linli_env(db_url, args.redis_url, secret), **env}
    )
    rt = setup.runtime()
    rt.redis.flushdb()  # rate-limit counts, queues and caches of an earlier run
    rt.close()
    return setup


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str) -> None:
    """Until the server answers a scan with anything but a 5xx (linli and the baseline alike)."""
    for _ in range(300):
        try:
            if httpx.post(url + "/api/v1/scans", json={"payload": "x"}, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (every thread's children)."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*"):
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        i += 1
    return pids


def peak_rss_mb(pid: int) -> float:
    """The sum of the peak resident memory (VmHWM) of a process and its descendants, in MB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def reset_peak(pid: int) -> None:
    """Start the peaks of a process tree again from what each holds now (clear_refs 5)."""
    for p in process_tree(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            pass


class Server:
    """A server under test, started on a free port and stopped on leaving:
    `with Server([LINLI, "serve", "--workers", "2"], env) as s: ... s.url ... s.peak_mb()`.
    `ready=False` for processes that serve no HTTP (`linli worker`)."""

    def __init__(self, argv: list[str], env: dict[str, str], *, ready: bool = True) -> None:
        self.port = free_port()
        self.argv = [*argv, "--port", str(self.port)] if ready else argv
        self.env, self.ready = env, ready
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if self.ready:
            try:
                wait_ready(self.url)
            except BaseException:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def reset_peak(self) -> None:
        reset_peak(self.proc.pid)

    def peak_mb(self) -> float:
        return peak_rss_mb(self.proc.pid)


def linli_server(setup: Setup, workers: int) -> Server:
    return Server([LINLI, "serve", "--workers", str(workers)], setup.env)


# --- measuring ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the values, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def run_wrk(
    url: str,
    duration: int,
    connections: int,
    *,
    script: Path | None = ROOT / "bench" / "scans.lua",
    threads: int = 2,
    env: dict | None = None,
) -> dict:
    """wrk against `url` (script bench/scans.lua by default: its OUTCOME lines are counted)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    argv += ["-s", str(script)] if script else []
    out = subprocess.run([*argv, url], env=env, capture_output=True, text=True, check=True).stdout

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


# --- results -----------------------------------------------------------------------------------

ROW_KEYS = (
    "benchmark",
    "scenario",
    "throughput",
    "unit",
    "p50_ms",
    "p99_ms",
    "peak_mb",
    "baseline",
    "ratio",
    "target",
    "met",
)


def row(
    benchmark: str,
    scenario: str,
    throughput: float | None,
    unit: str | None,
    p50_ms: float | None = None,
    p99_ms: float | None = None,
    peak_mb: float | None = None,
    *,
    against: dict | None = None,
    target: str | None = None,
    met: bool | None = None,
) -> dict:
    """One summary row (the keys of ROW_KEYS; None where a column does not apply). `against`: the
    baseline's own row, measured in the same run: it names `baseline` and gives `ratio`, this
    throughput over the baseline's (above 1: faster than the baseline)."""
    return {
        "benchmark": benchmark,
        "scenario": scenario,
        "throughput": throughput,
        "unit": unit,
        "p50_ms": p50_ms,
        "p99_ms": p99_ms,
        "peak_mb": peak_mb,
        "baseline": against["scenario"] if against else None,
        "ratio": throughput / against["throughput"] if against else None,
        "target": target,
        "met": met,
    }


def row_of(benchmark: str, scenario: str, result: dict, unit: str, **kw) -> dict:
    """row() from a measurement: `rps` (per second, in `unit`), `p50`, `p99`, `peak_mb` (ms, MB;
    each optional)."""
    return row(
        benchmark,
        scenario,
        result["rps"],
        unit,
        result.get("p50"),
        result.get("p99"),
        result.get("peak_mb"),
        **kw,
    )


HEADER = """# Performance (性能)

Measured by `make bench` (bench/run.py) on this project's machine kind ({machine}, {cores} cores,
shared and noisy): compare the ratios against the baseline measured in the same run, not absolute
figures.
"""


def _document(out: Path) -> str:
    if out.exists():
        return out.read_text()
    return HEADER.format(machine=platform.machine(), cores=os.cpu_count())


def write_section(out: Path, title: str, section: str) -> None:
    """Replace this benchmark's section of docs/performance.md (`## <title> (...)`), keeping the
    others; a new one goes at the end."""
    text_ = _document(out)
    text_ = re.sub(rf"\n## {re.escape(title)} \(.*?(?=\n## |\Z)", "\n", text_, flags=re.S).rstrip() + "\n\n"
    out.write_text(text_ + section.strip() + "\n")


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}"


def summary_table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | scenario | throughput | p50 ms | p99 ms | peak MB | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        throughput = "" if r["throughput"] is None else f"{_num(r['throughput'])} {r['unit']}"
        peak = "" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        met = {None: "", True: "yes", False: "**no**"}[r["met"]]
        lines.append(
            f"| {r['benchmark']} | {r['scenario']} | {throughput} | {_num(r['p50_ms'])} | {_num(r['p99_ms'])} "
            f"| {peak} | {r['baseline'] or ''} | {ratio} | {r['target'] or ''} | {met} |"
        )
    return "\n".join(lines)


def write_summary(out: Path, summary: str) -> None:
    """Put the header and the summary (`## Summary (...)`) at the top, before the sections."""
    text_ = _document(out)
    text_ = re.sub(r"\n## Summary \(.*?(?=\n## |\Z)", "\n", text_, flags=re.S)
    sections = text_[text_.index("\n## ") :] if "\n## " in text_ else ""
    header = HEADER.format(machine=platform.machine(), cores=os.cpu_count())
    out.write_text(header + "\n" + summary.strip() + "\n" + sections)


def county_base(session, now):
    """The county's base organization (the root), under which a benchmark adds its own hub."""
    from sqlalchemy import select

    from orgs import service
    from orgs.models import Organization

    base = session.scalar(select(Organization).where(Organization.kind == "base"))
    return base or service.create_root(session, name="长沙县社会组织孵化服务基地", now=now)
