"""Monthly partitions on PostgreSQL (按月分区): the tables that grow without bound are partitioned
by month (declarative range partitions), created ahead by `linli cron`, and an old month can be
detached for archive (`linli partitions detach --before 2025-01`: it becomes a plain table to dump
and drop). Each partitioned table has a DEFAULT partition, so an insert never fails for lack of a
month. SQLite stays as it is: everything here is a no-op there.

Months are Asia/Shanghai months: a date key is the local day; a timestamptz key is bounded by the
local month starts (00:00 +08:00 on the first).

Names: the parent's month is `<table>_YYYY_MM`, its default `<table>_default`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("linli.partitions")
TZ = ZoneInfo("Asia/Shanghai")
AHEAD = 3  # months created ahead of the current one by `linli cron`


@dataclass(frozen=True)
class Spec:
    table: str
    key: str  # the partition key's column
    timestamptz: bool = False  # False: a date column (the local day)
    primary_key: tuple[str, ...] = ("id",)  # the plain table's; partitioned, the key is added
    archived: bool = True  # False: `detach` keeps every month (the ledger: verify re-sums it all)


# parents before the tables that reference them (detach goes the other way)
TABLES = (
    Spec("meals", "service_day"),
    Spec("meal_subsidies", "service_day"),
    Spec("scans", "effective_at", timestamptz=True),  # migration 0030; its keys stay in scan_keys
    # migration 0032; keys in attendance_keys. Kept whole: service records and certificates read
    # a volunteer's every attendance
    Spec("attendances", "checked_in_at", timestamptz=True, archived=False),
    Spec("ledger_transfers", "created_at", timestamptz=True, primary_key=("seq",), archived=False),
)


# foreign keys that on PostgreSQL also carry the partition key (migration 0028): the models name
# them on `id` alone (SQLite's form); `alembic check` is told these differences are by design
PARTITION_FOREIGN_KEYS = frozenset({"fk_meal_subsidies_meal_id_meals", "fk_meal_adjustments_meal_id_meals"})


def is_partition_name(name: str | None) -> bool:
    """Whether `name` is a month's or the default partition of a partitioned table (or a month
    detached for archive): PostgreSQL's own objects, not the models'."""
    return bool(name) and any(re.fullmatch(rf"{s.table}_(\d{{4}}_\d{{2}}|default)", name) for s in TABLES)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def parse_month(value: str) -> date:
    """'2025-01' -> date(2025, 1, 1); ValueError otherwise."""
    return datetime.strptime(value, "%Y-%m").date()


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month.year:04d}_{month.month:02d}"


def _bound(spec: Spec, month: date) -> str:
    if spec.timestamptz:
        return f"'{datetime(month.year, month.month, 1, tzinfo=TZ).isoformat()}'::timestamptz"
    return f"'{month.isoformat()}'::date"


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def is_partitioned(conn: Connection, table: str) -> bool:
    if not is_postgres(conn):
        return False
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"t": table},
    ).first()
    return found is not None


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def ensure_default(conn: Connection, spec: Spec) -> None:
    name = f"{spec.table}_default"
    if not _exists(conn, name):
        conn.execute(text(f'CREATE TABLE "{name}" PARTITION OF "{spec.table}" DEFAULT'))


def create_month(conn: Connection, spec: Spec, month: date) -> bool:
    """The month's partition of `spec.table`, if it is not there yet; returns whether it was made.
    Rows for that month already in the DEFAULT partition are moved into it (in this transaction);
    PostgreSQL refuses the move while another table's foreign key references one of them (a
    referenced row cannot change partition): the month is then not made, and its rows stay in
    DEFAULT, which holds them just as well. `linli cron` makes months ahead, so only a month
    nobody made in time meets this."""
    name = partition_name(spec.table, month)
    if _exists(conn, name):
        return False
    lo, hi = _bound(spec, month), _bound(spec, add_months(month, 1))
    default = f"{spec.table}_default"
    waiting = (
        _exists(conn, default)
        and conn.execute(
            text(f'SELECT 1 FROM "{default}" WHERE "{spec.key}" >= {lo} AND "{spec.key}" < {hi} LIMIT 1')
        ).first()
    )
    if not waiting:
        conn.execute(
            text(f'CREATE TABLE "{name}" PARTITION OF "{spec.table}" FOR VALUES FROM ({lo}) TO ({hi})')
        )
        return True
    # rows wait in DEFAULT: a plain table takes them, then becomes the month's partition
    conn.execute(
        text(f'CREATE TABLE "{name}" (LIKE "{spec.table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    )
    # a move, not a change: the ledger's append-only trigger would refuse the DELETE (this transaction only)
    conn.execute(text(f'ALTER TABLE "{default}" DISABLE TRIGGER USER'))
    conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{default}" WHERE "{spec.key}" >= {lo} AND "{spec.key}" < {hi} '
            f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        )
    )
    conn.execute(text(f'ALTER TABLE "{default}" ENABLE TRIGGER USER'))
    conn.execute(
        text(f'ALTER TABLE "{spec.table}" ATTACH PARTITION "{name}" FOR VALUES FROM ({lo}) TO ({hi})')
    )
    return True


def ensure_ahead(conn: Connection, today: date, ahead: int = AHEAD) -> list[str]:
    """`linli cron`'s upkeep: this month's and the next `ahead` months' partitions of every
    partitioned table, and its DEFAULT. Idempotent; returns the partitions it made."""
    return ensure_months(conn, today, add_months(month_start(today), ahead))


def ensure_months(conn: Connection, first: date, last: date) -> list[str]:
    """The partitions of the months from `first`'s to `last`'s (and each table's DEFAULT), of every
    partitioned table; nothing on SQLite. Idempotent; returns the partitions it made."""
    made = []
    for spec in TABLES:
        if not is_partitioned(conn, spec.table):
            continue
        ensure_default(conn, spec)
        month = month_start(first)
        while month <= last:
            try:
                with conn.begin_nested():
                    if create_month(conn, spec, month):
                        made.append(partition_name(spec.table, month))
            except DBAPIError as exc:  # rows waiting in DEFAULT that another table references
                log.error("分区未建 partition %s not made: %s", partition_name(spec.table, month), exc.orig)
            month = add_months(month, 1)
    return made


@dataclass(frozen=True)
class Partition:
    parent: str
    name: str
    bound: str  # PostgreSQL's own text: FOR VALUES FROM (...) TO (...), or DEFAULT
    rows: int  # the planner's estimate (pg_class.reltuples), -1 if never analysed


def list_partitions(conn: Connection) -> list[Partition]:
    if not is_postgres(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = ANY(:parents) AND p.relkind = 'p' AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY p.relname, c.relname"
        ),
        {"parents": [s.table for s in TABLES]},
    ).all()
    return [Partition(*row) for row in rows]


def detach_before(conn: Connection, before: date, *, dry_run: bool = False) -> list[str]:
    """Detach every month partition that ends on or before `before` (a month's first day): each
    becomes a plain table, still in the database, to dump (pg_dump -t) and drop, without foreign
    keys (it would otherwise keep live rows from being deleted). Tables that reference others go
    first. PostgreSQL refuses (and nothing is detached, this being one
    transaction) while a row elsewhere still references a row of the month. A table not
    `archived` (the ledger: balances are verified against every transfer ever made) keeps all
    its months."""
    detached = []
    for spec in reversed(TABLES):
        if not spec.archived or not is_partitioned(conn, spec.table):
            continue
        month = _first_month(conn, spec)
        while month is not None and month < before:
            name = partition_name(spec.table, month)
            if _exists(conn, name) and _is_partition(conn, name):
                if not dry_run:
                    conn.execute(text(f'ALTER TABLE "{spec.table}" DETACH PARTITION "{name}"'))
                    for fk, _ in _foreign_keys(conn, name):  # an archive holds on to no live row
                        conn.execute(text(f'ALTER TABLE "{name}" DROP CONSTRAINT "{fk}"'))
                detached.append(name)
            month = add_months(month, 1)
    return detached


def _is_partition(conn: Connection, name: str) -> bool:
    return bool(
        conn.execute(
            text("SELECT relispartition FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}
        ).scalar()
    )


def _first_month(conn: Connection, spec: Spec) -> date | None:
    names = [
        p.name for p in list_partitions(conn) if p.parent == spec.table and not p.name.endswith("_default")
    ]
    months = [date(int(n[-7:-3]), int(n[-2:]), 1) for n in names]
    return min(months) if months else None


# --- converting a plain table (migrations) ------------------------------------------------------


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _months_of_data(conn: Connection, spec: Spec, table: str) -> list[date]:
    expr = f'"{spec.key}"' if not spec.timestamptz else f"(\"{spec.key}\" AT TIME ZONE 'Asia/Shanghai')"
    lo, hi = conn.execute(text(f'SELECT min({expr})::date, max({expr})::date FROM "{table}"')).one()
    if lo is None:
        return []
    months, month = [], month_start(lo)
    while month <= hi:
        months.append(month)
        month = add_months(month, 1)
    return months


def _copy(
    conn: Connection, spec: Spec, source: str, target: str, months: list[date], say: Callable[[str], None]
) -> int:
    """Rows of `source` into `target`, a month at a time, a progress line on stderr every 10 s."""
    total = conn.execute(text(f'SELECT count(*) FROM "{source}"')).scalar() or 0
    conn.execute(text(f'INSERT INTO "{target}" SELECT * FROM "{source}" WHERE "{spec.key}" IS NULL'))
    moved, last = 0, time.monotonic()
    for month in months:
        lo, hi = _bound(spec, month), _bound(spec, add_months(month, 1))
        moved += conn.execute(
            text(
                f'INSERT INTO "{target}" SELECT * FROM "{source}" WHERE "{spec.key}" >= {lo} AND "{spec.key}" < {hi}'
            )
        ).rowcount
        if time.monotonic() - last >= 10 or month == months[-1]:
            last = time.monotonic()
            say(
                f"分区迁移 partitioning {spec.table}: {moved * 100 // max(total, 1):3d}% ({moved}/{total}) {month:%Y-%m}"
            )
    return moved


def _indexes(conn: Connection, table: str) -> list[str]:
    """CREATE INDEX statements of `table`'s indexes, but not its primary key's."""
    return list(
        conn.execute(
            text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary ORDER BY i.indexrelid"
            ),
            {"t": table},
        ).scalars()
    )


def _foreign_keys(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of `table`'s own foreign keys."""
    return [
        tuple(row)
        for row in conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = to_regclass(:t) AND contype = 'f' AND conparentid = 0 ORDER BY conname"
            ),
            {"t": table},
        )
    ]


def _rebuild(
    conn: Connection,
    spec: Spec,
    *,
    partitioned: bool,
    primary_key: list[str],
    drop_fks: set[str],
    today: date,
    say: Callable[[str], None],
) -> None:
    """`spec.table` rebuilt as a partitioned table (or back to a plain one): same columns,
    defaults, checks, indexes, foreign keys (but `drop_fks`, which the caller re-makes) and
    sequence; primary key `primary_key`. Foreign keys from other tables to it are dropped
    (CASCADE): the caller re-makes them."""
    table, new = spec.table, f"{spec.table}__new"
    indexes, fks = _indexes(conn, table), [fk for fk in _foreign_keys(conn, table) if fk[0] not in drop_fks]
    months = _months_of_data(conn, spec, table)
    tail = f' PARTITION BY RANGE ("{spec.key}")' if partitioned else ""
    conn.execute(
        text(f'CREATE TABLE "{new}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS){tail}')
    )
    if partitioned:
        wanted = sorted(set(months) | {add_months(month_start(today), n) for n in range(AHEAD + 1)})
        for month in wanted:
            lo, hi = _bound(spec, month), _bound(spec, add_months(month, 1))
            conn.execute(
                text(
                    f'CREATE TABLE "{partition_name(table, month)}" PARTITION OF "{new}" '
                    f"FOR VALUES FROM ({lo}) TO ({hi})"
                )
            )
        conn.execute(text(f'CREATE TABLE "{table}_default" PARTITION OF "{new}" DEFAULT'))
    _copy(conn, spec, table, new, months, say)
    for sequence in conn.execute(
        text(
            "SELECT s.relname, a.attname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = to_regclass(:t) AND s.relkind = 'S' AND d.deptype = 'a'"
        ),
        {"t": table},
    ).all():
        conn.execute(text(f'ALTER SEQUENCE "{sequence[0]}" OWNED BY "{new}"."{sequence[1]}"'))
    conn.execute(text(f'DROP TABLE "{table}" CASCADE'))
    conn.execute(text(f'ALTER TABLE "{new}" RENAME TO "{table}"'))
    columns = ", ".join(f'"{c}"' for c in primary_key)
    conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "pk_{table}" PRIMARY KEY ({columns})'))
    for statement in indexes:
        conn.execute(text(statement))
    for name, definition in fks:
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
    conn.execute(text(f'ANALYZE "{table}"'))


def partition(
    conn: Connection, spec: Spec, *, today: date, drop_fks: set[str] = frozenset(), say=_say
) -> None:
    """A plain table becomes partitioned by month on its key: its months' partitions (and
    `AHEAD`), a DEFAULT, the rows moved, primary key (id, key) (`spec.primary_key` and key)."""
    _rebuild(
        conn,
        spec,
        partitioned=True,
        primary_key=[*spec.primary_key, spec.key],
        drop_fks=drop_fks,
        today=today,
        say=say,
    )


def unpartition(conn: Connection, spec: Spec, *, drop_fks: set[str] = frozenset(), say=_say) -> None:
    """Back to a plain table with primary key (id) (`spec.primary_key`) (a migration's downgrade)."""
    _rebuild(
        conn,
        spec,
        partitioned=False,
        primary_key=list(spec.primary_key),
        drop_fks=drop_fks,
        today=date.today(),
        say=say,
    )
