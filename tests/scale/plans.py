"""The statements an operation runs, captured as the code sends them (SQLAlchemy's, and the scan
door's fast path straight through psycopg, `linli.db.Direct`), and each one's plan as PostgreSQL
runs it: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), in a transaction rolled back, planned for its
values or, as the scan door's connections plan it, once for any (`generic`)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Json
from sqlalchemy import event
from sqlalchemy.engine import Engine

from linli.db import Direct
from linli.db import _compiled as compiled

# the tables that grow without bound, and the large ones beside them
BIG = {
    "meals", "meal_subsidies", "scans", "attendances", "ledger_transfers", "outbox",
    "meal_day_closes", "meal_bookings", "point_awards", "point_lots", "ledger_accounts",
    "diners", "volunteers", "filings", "meal_delivery_runs", "filing_decisions", "scan_keys", "transfer_ids", "attendance_keys",
}  # fmt: skip
EMPTY = 1000  # a relation (a partition) with fewer rows than this is no finding when scanned whole
EXPLAINED = ("select", "with", "update", "delete")


@dataclass
class Plan:
    sql: str
    buffers: int  # shared blocks hit + read, the whole plan but the small tables' own scans
    rows: int  # rows the scans of large tables looked at (returned and removed by a filter), all loops
    seq_scans: list[str] = field(default_factory=list)  # whole scans of relations with rows
    shape: list[str] = field(default_factory=list)  # the plan's nodes, one a line, for a failure's message


@contextmanager
def captured():
    """The statements (SQL, parameters) run meanwhile, in order, by any engine or `Direct`."""
    got: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            got.append((statement, parameters))

    direct = Direct.execute

    def spy(self, statement, params):
        cursor = direct(self, statement, params)
        sql = compiled(statement, self.dialect, params)[1]
        got.append((sql, {k: Json(v) if isinstance(v, dict | list) else v for k, v in params.items()}))
        return cursor

    event.listen(Engine, "before_cursor_execute", before)
    Direct.execute = spy
    try:
        yield got
    finally:
        Direct.execute = direct
        event.remove(Engine, "before_cursor_execute", before)


def explained(statements) -> list[tuple[str, object]]:
    return [(sql, p) for sql, p in statements if sql.lstrip().split(None, 1)[0].lower() in EXPLAINED]


def _nodes(node: dict, depth: int = 0):
    yield depth, node
    for child in node.get("Plans", ()):
        yield from _nodes(child, depth + 1)


def _buffers(node: dict) -> int:
    return node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0)


def _prepared(conn, sql: str, params) -> str:
    """`sql` (psycopg's %(name)s) prepared as `explained`, and its EXECUTE with `params` written in."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    conn.execute("PREPARE explained AS " + re.sub(r"%\((\w+)\)s", number, sql).replace("%%", "%"))
    values = [params[name] for name in names]
    if not values:
        return "EXECUTE explained"
    return psycopg.ClientCursor(conn).mogrify(
        "EXECUTE explained(" + ", ".join(["%s"] * len(values)) + ")", values
    )


def explain(url: str, statements, *, generic: bool = False) -> list[Plan]:
    """Each statement's plan, run for real (ANALYZE) and rolled back. `generic`: as the scan door's
    connections run it once prepared, planned once for any parameters (`linli.db.make_engine`)."""
    plans = []
    options = "-c plan_cache_mode=force_generic_plan" if generic else ""
    with psycopg.connect(url, options=options, prepare_threshold=None) as conn:
        sizes = {
            name: (tuples, root)
            for name, tuples, root in conn.execute(
                "SELECT c.relname, c.reltuples, r.relname FROM pg_class c"
                " JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)"
                " WHERE c.relkind IN ('r', 'p')"
            )
        }
        for sql, params in statements:
            with conn.transaction(force_rollback=True):
                if generic:
                    explained = _prepared(conn, sql, params)
                    (doc,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + explained).fetchone()
                    conn.execute("DEALLOCATE explained")
                else:
                    (doc,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()
            doc = doc if isinstance(doc, list) else json.loads(doc)
            top = doc[0]["Plan"]
            plan = Plan(sql, _buffers(top), 0, shape=["(generic plan)" if generic else "(custom plan)"])
            for depth, node in _nodes(top):
                relation = node.get("Relation Name")
                plan.shape.append(
                    "  " * depth
                    + f"{node['Node Type']} {relation or ''} {node.get('Index Name', '')}"
                    + f" rows={node.get('Actual Rows')}x{node.get('Actual Loops')} (estimated {node.get('Plan Rows')})"
                    + f" removed={node.get('Rows Removed by Filter', 0)}"
                    + f" buffers={node.get('Shared Hit Blocks', 0) + node.get('Shared Read Blocks', 0)}"
                )
                if relation is None:
                    continue
                tuples, root = sizes.get(relation, (0, relation))
                if root not in BIG:  # small tables (organizations, staff): their rows and pages not counted
                    # (a table of a dozen rows is read whole or by index as the planner likes: a
                    # flip between the two is no growth with the data)
                    plan.buffers -= _buffers(node) - sum(_buffers(c) for c in node.get("Plans", ()))
                    continue
                loops = node.get("Actual Loops", 1)
                plan.rows += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
                if node["Node Type"] == "Seq Scan" and tuples >= EMPTY:
                    plan.seq_scans.append(f"{relation} ({int(tuples)} rows)")
            plans.append(plan)
    return plans
