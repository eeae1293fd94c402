"""The `linli` command (命令行). Entry points only translate arguments into service calls."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import click

from linli.logs import setup_logging
from linli.queue import QUEUES
from linli.settings import SettingsError, load_settings


def _runtime(check_schema: bool = True):
    from linli.runtime import Runtime
    from migrations import driver as migrate
    from migrations.models import import_models

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    import_models()
    rt = Runtime(settings, jobs=True)  # `linli serve`'s servers make their own (api.main)
    if check_schema:
        try:
            migrate.ensure_current(rt.engine, settings.sqlalchemy_url, auto_upgrade=settings.embedded)
        except migrate.SchemaOutOfDate as exc:
            raise click.ClickException(str(exc)) from None
    return rt


@click.group()
def main() -> None:
    """邻里 Linli: community volunteering and meal assistance."""


# --- database ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (数据库结构)."""


@db.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Run Alembic migrations up to head."""
    from migrations import driver as migrate

    settings = load_settings()
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.sqlalchemy_url, revision)
    click.echo("数据库已是最新 schema is at head")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree (run on an upgraded database)."""
    from migrations import driver as migrate

    settings = load_settings()
    migrate.upgrade(settings.sqlalchemy_url)
    migrate.check(settings.sqlalchemy_url)
    click.echo("models and migrations agree")


# --- processes ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", default=1, type=int, help="HTTP server processes")
@click.option("--demo", is_flag=True, help="load demo data the first time and show demo login codes")
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """The HTTP API and pages; in embedded mode also the worker, relay and scheduler."""
    import uvicorn

    setup_logging()
    if demo:
        os.environ["LINLI_DEMO"] = "1"
    rt = _runtime()
    children: list[subprocess.Popen] = []
    if rt.settings.embedded:
        from linli.queue import redis_url_of

        os.environ["LINLI_REDIS_URL"] = redis_url_of(rt.redis)  # children and server processes share it
        os.environ["LINLI_SECRET_KEY"] = ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys)
        main_queues = [arg for name in QUEUES if name != "webhooks" for arg in ("--queues", name)]
        for args in (["worker", *main_queues], ["worker", "--queues", "webhooks"], ["cron"]):
            children.append(subprocess.Popen([sys.executable, "-m", "cli.main", *args]))
    if demo:
        from cli import demo as demo_data

        with rt.tx() as session:
            logins = demo_data.load_if_empty(session, rt, scale="small")
        _print_welcome(host, port, logins, rt.settings.embedded)
    try:
        uvicorn.run(
            "api.main:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            # X-Forwarded-For and X-Forwarded-Proto only from the proxies named in
            # LINLI_TRUSTED_PROXIES (none by default: uvicorn's own default believes any loopback
            # peer, and a local client could then claim any address past the per-address limits)
            proxy_headers=bool(rt.settings.trusted_proxies),
            forwarded_allow_ips=",".join(rt.settings.trusted_proxies) or "",
        )
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if rt.settings.embedded:
            rt.redis.shutdown()  # the embedded redis-server runs detached: stop it with us


def _print_welcome(host: str, port: int, logins: list[tuple[str, str, str]], embedded: bool) -> None:
    base = f"http://{host}:{port}"
    lines = [
        "",
        "邻里 Linli 已启动 is up"
        + ("（内置数据库与 Redis embedded database and Redis）" if embedded else ""),
        f"  首页 Home:            {base}/",
        f"  取餐台平板 Counter tablet: {base}/counter",
        f"  志愿者手机 Volunteer phone: {base}/me",
        f"  合作企业 Partner portal:   {base}/partner",
        f"  枢纽管理 Hub admin:        {base}/admin",
        f"  接口文档 API docs:    {base}/schema",
        f"  演示验证码 Demo codes: {base}/demo/codes",
        "  演示账号 Demo logins (POST /api/v1/auth/tokens):",
    ]
    lines += [f"    {role:<12} {user:<22} {secret}" for role, user, secret in logins]
    lines.append("  Ctrl+C 停止 to stop")
    click.echo("\n".join(lines) + "\n")


@main.command()
@click.option("--queues", "queue_names", multiple=True, default=QUEUES)
@click.option("--burst", is_flag=True, help="work until the queues are empty, then exit")
def worker(queue_names: tuple[str, ...], burst: bool) -> None:
    """RQ worker plus the outbox relay."""
    from linli.queue import queue
    from workers import context
    from workers.relay import relay_once, start_relay_thread
    from workers.worker import Worker

    setup_logging()
    rt = _runtime()
    context.set_runtime(rt)
    queues = [queue(name, rt.redis) for name in queue_names]
    if burst:
        relay_once(rt)
    else:
        _thread, stop = start_relay_thread(rt)
    worker = Worker(queues, connection=rt.redis)
    try:
        worker.work(burst=burst, with_scheduler=not burst)
    finally:
        if not burst:
            stop.set()


@main.command()
def cron() -> None:
    """The periodic-job scheduler (RQ's CronScheduler): start it on any number of hosts; one leads."""
    from workers.cron import run

    setup_logging()
    rt = _runtime()
    run(rt)


# --- data --------------------------------------------------------------------------------------


@main.command()
@click.option("--scale", type=click.Choice(["small", "county", "province"]), default="small")
@click.option(
    "--counties",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="with --scale province: counties in all; run again with more to add the missing ones",
)
@click.option("--fraction", type=click.FloatRange(0, 1, min_open=True), default=1.0, hidden=True)
def demo(scale: str, counties: int, fraction: float) -> None:
    """Load demo data: a small county; one county at benchmark scale (18 hubs, 1,184 organizations,
    30,000 volunteers, a year of meals at 148 meal points); or a province of such counties."""
    from cli import demo as demo_data
    from cli import demo_scale
    from cli.progress import Progress

    rt = _runtime()
    if scale == "small":
        with rt.tx() as session:
            logins = demo_data.load_if_empty(session, rt, scale=scale)
        if not logins:
            click.echo("已有数据，未重复加载 data already present; nothing loaded")
    else:
        # --fraction (tests only): each county shrunk to that share of its organizations,
        # volunteers and days of meals
        try:
            loaded = demo_scale.load_counties(
                rt,
                1 if scale == "county" else counties,
                fraction=fraction,
                progress=Progress,
                only_if_empty=scale == "county",
            )
        except ValueError as exc:
            raise click.ClickException(
                f"数据库已有其他数据（{exc}），未加载 the database holds other data; nothing loaded"
            ) from None
        logins = loaded.logins
        if not loaded.counties:
            click.echo(
                f"已有 {loaded.existing} 个县，未加载 {loaded.existing} counties already present; nothing loaded"
                if scale == "province"
                else "已有数据，未重复加载 data already present; nothing loaded"
            )
        else:
            for line in loaded.report():
                click.echo(line)
    for role, user, secret in logins:
        click.echo(f"{role:<12} {user:<22} {secret}")


@main.group()
def users() -> None:
    """Staff and partner users (工作人员)."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "coordinator", "partner"]), required=True)
@click.option("--org", "org_id", type=int, help="organization whose subtree the role covers")
@click.option("--partner", "partner_id", type=int, help="partner enterprise (role partner)")
@click.option("--station", "station_id", type=int, help="station a coordinator is bound to")
@click.option("--name", "display_name")
def users_create(username, password, role, org_id, partner_id, station_id, display_name) -> None:
    """Create a staff user, or add a role to an existing one."""
    from accounts import service
    from linli.errors import LinliError

    rt = _runtime()
    try:
        with rt.tx() as session:
            user = service.create_staff_user(
                session,
                username=username,
                password=password,
                role=role,
                org_id=org_id,
                partner_id=partner_id,
                station_id=station_id,
                display_name=display_name,
                now=rt.clock.now(),
            )
    except LinliError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"user {user.id} {user.username}: {role}")


@main.group()
def tokens() -> None:
    """Bearer tokens for operators, kiosks and scripts."""


_TTL = re.compile(r"(\d+)([smhd]?)")


@tokens.command("create")
@click.option("--user", "username")
@click.option("--phone")
@click.option("--ttl", default="30d", help="e.g. 3600, 12h, 30d")
def tokens_create(username: str | None, phone: str | None, ttl: str) -> None:
    """Print a bearer token, alone on the last line."""
    from accounts import service
    from volunteer import service as volunteer_service

    if (username is None) == (phone is None):
        raise click.UsageError("give exactly one of --user and --phone")
    m = _TTL.fullmatch(ttl.strip())
    if not m:
        raise click.UsageError("--ttl: a number of seconds, or with s, m, h or d")
    seconds = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    rt = _runtime()
    with rt.tx() as session:
        if username is not None:
            user = service.find_staff(session, username)
            if user is None:
                raise click.ClickException(f"no staff user {username!r}")
            issued = service.issue_token(
                session, now=rt.clock.now(), ttl_seconds=seconds, staff_user_id=user.id
            )
        else:
            volunteer = volunteer_service.find_by_phone(session, phone)
            if volunteer is None:
                raise click.ClickException("no volunteer with that phone")
            issued = service.issue_token(
                session, now=rt.clock.now(), ttl_seconds=seconds, volunteer_id=volunteer.id
            )
    click.echo(f"expires {issued.expires_at.isoformat()}")
    click.echo(issued.token)


@main.group("keys")
def keys_group() -> None:
    """Keys (密钥): identity numbers' keys (LINLI_ID_KEYS)."""


@keys_group.command("rotate-ids")
def keys_rotate_ids() -> None:
    """Re-encrypt every identity number under the current (first) key, in the background."""
    from linli.outbox import emit
    from volunteer import identity

    rt = _runtime()
    now = rt.clock.now()
    job_id = identity.rotation_started(now)
    with rt.tx() as session:
        left = identity.count_not_under(session, rt.id_keys.current)
        emit(session, event="identity_keys.rotation_requested", job_id=job_id, args=[], now=now)
    click.echo(f"{job_id}: {left} 个证件号待重新加密 values to re-encrypt under key {rt.id_keys.current}")


@main.group("ledger")
def ledger_group() -> None:
    """The ledger (账本): service minutes, points and grant money."""


@ledger_group.command("verify")
def ledger_verify() -> None:
    """Recompute every balance from transfers; exit non-zero on any mismatch."""
    from cli.progress import Progress
    from grants import money
    from points import verification

    rt = _runtime()
    also = [money.verify]
    with Progress("核对账本 ledger verify", verification.PHASES + len(also) + 1) as progress:
        with rt.tx() as session:
            check = verification.run_check(session, rt.clock.now(), rt.clock, also=also, step=progress.step)
            problems, accounts, transfers = list(check.problems), check.accounts, check.transfers
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"账本不平 ledger mismatch: {len(problems)} problems")
    click.echo(f"账本无误 ledger ok: {accounts} accounts, {transfers} transfers")


# --- partitions --------------------------------------------------------------------------------


@main.group("partitions")
def partitions_group() -> None:
    """Monthly partitions on PostgreSQL (按月分区): list, make ahead, detach old months for archive."""


def _partitioned(rt) -> bool:
    if rt.settings.is_sqlite:
        click.echo("嵌入模式 (SQLite) 不分区 SQLite is not partitioned: nothing to do")
        return False
    return True


@partitions_group.command("list")
def partitions_list() -> None:
    """Every partition: table, bounds, rows (the planner's estimate)."""
    from linli import partitions

    rt = _runtime()
    if not _partitioned(rt):
        return
    with rt.engine.connect() as conn:
        found = partitions.list_partitions(conn)
    for p in found:
        rows = "?" if p.rows < 0 else str(p.rows)
        click.echo(f"{p.parent:16} {p.name:28} {p.bound:60} 约 about {rows} 行 rows")
    click.echo(f"共 {len(found)} 个分区 partitions")


@partitions_group.command("ahead")
@click.option("--months", default=3, type=click.IntRange(0, 36), help="months after the current one")
def partitions_ahead(months: int) -> None:
    """Make this month's and the next months' partitions now (`linli cron` does it daily)."""
    from linli import partitions

    rt = _runtime()
    if not _partitioned(rt):
        return
    with rt.engine.begin() as conn:
        made = partitions.ensure_ahead(conn, rt.clock.now().astimezone(rt.settings.tz).date(), months)
    click.echo(f"新建 {len(made)} 个分区 partitions made: {', '.join(made) or '-'}")


@partitions_group.command("detach")
@click.option("--before", required=True, help="first month kept, YYYY-MM: every earlier month is detached")
@click.option("--dry-run", is_flag=True, help="only say what would be detached")
def partitions_detach(before: str, dry_run: bool) -> None:
    """Detach months before --before: each becomes a plain table, to dump (pg_dump -t) and drop.
    The ledger's months stay (`linli ledger verify` re-sums every transfer)."""
    from sqlalchemy.exc import DBAPIError

    from linli import partitions

    try:
        month = partitions.parse_month(before)
    except ValueError:
        raise click.BadParameter("格式为 YYYY-MM, e.g. 2025-01", param_hint="--before") from None
    rt = _runtime()
    if not _partitioned(rt):
        return
    try:
        with rt.engine.begin() as conn:
            names = partitions.detach_before(conn, month, dry_run=dry_run)
    except DBAPIError as exc:
        raise click.ClickException(f"未分离任何分区 nothing detached: {exc.orig}".strip()) from None
    verb = "将分离 would detach" if dry_run else "已分离 detached"
    for name in names:
        click.echo(f"{verb} {name}")
    click.echo(f"{verb} {len(names)} 个分区 partitions (before {before})")
    if names and not dry_run:
        click.echo("归档 archive: pg_dump -t <table> ... 然后 then DROP TABLE <table>")


if __name__ == "__main__":
    main()
