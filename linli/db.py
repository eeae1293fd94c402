"""The database: declarative base, column types, engine and session factory (数据库).

One engine per process, made by the composition root (`linli.runtime`). Services receive a
Session; the request or job that opened it commits once at the end.
"""

from __future__ import annotations

import os
import re
import weakref
from datetime import UTC, datetime

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
    literal_column,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT ids on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Aware UTC timestamps in and out, on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


POOL = 30  # connections a process keeps (`make_engine`): an API server's threads at lunch


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(
    url: str,
    *,
    statement_timeout: float = 0,
    pooled: bool = False,
    replica: bool = False,
    generic_plans: bool = False,
    pool: int = POOL,
) -> Engine:
    """`statement_timeout` (seconds; 0: none) is PostgreSQL's deadline for each statement of every
    connection, set when it connects: past it PostgreSQL cancels the statement (`timed_out`).
    `pooled`: `url` is a transaction pooler's (`Settings.pooled`): nothing prepared, and the
    deadline set by each transaction as it begins (`SET LOCAL`) and by each `Direct` statement.
    `replica`: the read replica's (`linli.replica`), a shorter connect deadline and a ping per
    checkout, so that a replica gone is found before a read starts on it (the read then goes to
    the primary).
    `generic_plans` (the scan door's engine, `Runtime.door_engine`): each prepared statement is
    planned once per connection, for any parameters (`plan_cache_mode = force_generic_plan`), its
    partitions chosen as it starts. Left to choose, PostgreSQL plans every scan again for its
    values (a custom plan looks cheaper over partitioned tables), which cost the door's one read
    2 ms of planning for 0.4 ms of work. Only for statements whose generic plans are proven
    (tests/scale/test_plans.py): elsewhere a generic plan can read a whole table where the values
    would have chosen an index. Behind a transaction pooler nothing is prepared: no change there.

    A process keeps its connections (`pool` of them, none opened beyond it and closed again): a
    new connection's first statements load the catalog of every partition they may touch, about
    10 ms each, and a lunch wave opening and closing them cost PostgreSQL more than the scans."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy's BEGIN below start transactions, so concurrent writers queue up.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Take the write lock up front: no deadlocks between readers upgrading to writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping (a round trip per checkout): a connection found dead fails its request with 503 and
    # SQLAlchemy throws the pool's connections away, so the next requests reconnect by themselves.
    connect_args: dict = {"connect_timeout": 2 if replica else 5}
    deadline_ms = max(1, round(statement_timeout * 1000)) if statement_timeout else 0
    if pooled:
        connect_args["prepare_threshold"] = None  # psycopg prepares none by itself
    else:
        options = [f"-c statement_timeout={deadline_ms}"] if deadline_ms else []
        options += ["-c plan_cache_mode=force_generic_plan"] if generic_plans else []
        if options:
            connect_args["options"] = " ".join(options)
    engine = create_engine(
        url,
        pool_size=pool,
        max_overflow=0,
        pool_timeout=10,
        pool_pre_ping=replica,
        connect_args=connect_args,
    )
    _ENGINES.add(engine)

    @event.listens_for(engine, "connect")
    def _connected(dbapi_conn, record):
        _CONNECTIONS.add(dbapi_conn)
        if pooled:
            record.info[POOLED] = deadline_ms

    if pooled and deadline_ms:

        @event.listens_for(engine, "begin")
        def _deadline(conn):
            driver = conn.connection.driver_connection
            if not driver.autocommit:  # psycopg sends BEGIN first
                driver.execute(f"SET LOCAL statement_timeout = {deadline_ms}")

    return engine


# A connection's info (`Connection.info`) behind a transaction pooler: its statement deadline in ms
POOLED = "linli.pooled"


def timed_out(exc: BaseException) -> bool:
    """Whether a database error is PostgreSQL cancelling a statement past its deadline."""
    return isinstance(getattr(exc, "orig", exc), psycopg.errors.QueryCanceled)


_COMPILED: dict[tuple, tuple[object, str]] = {}  # by statement and parameter names: (it, its SQL)


def _compiled(statement, dialect, params: dict) -> tuple[object, str]:
    """A hot statement compiled once for the parameters named (`Direct`, `commit_after`)."""
    key = (id(statement), *params)
    compiled = _COMPILED.get(key)
    if compiled is None:
        sql = statement.compile(dialect=dialect, column_keys=list(params)).string
        compiled = _COMPILED[key] = (statement, sql)  # the statement kept: its id stays its own
    return compiled


class Direct:
    """A PostgreSQL connection whose statements commit one by one, each sent straight to psycopg
    (`Runtime.statements`): for the scan door's hottest statements, where SQLAlchemy's work per
    execution (cache key, parameter and result processing) cost more than psycopg's own. Each
    statement is built with SQLAlchemy and compiled once. Parameters as psycopg takes them (aware
    datetimes; dicts and lists are sent as JSON); rows come back as named tuples (timestamps aware,
    in the session's time zone: not UTCDateTime's UTC); a broken constraint raises SQLAlchemy's
    IntegrityError, as everywhere else, and an operational one (a deadline passed, the server gone)
    its OperationalError.

    Behind a transaction pooler (`make_engine(pooled=True)`) nothing is prepared (a statement
    prepared on one server connection is unknown on the next) and a statement cannot keep the
    connection's deadline: each is bound by psycopg and sent after `SET LOCAL statement_timeout`
    in one message, which PostgreSQL runs as one transaction (one round trip, as before)."""

    def __init__(self, conn: Connection) -> None:
        self.dialect = conn.dialect
        self._driver = conn.connection.driver_connection
        deadline_ms = conn.info.get(POOLED)
        self._pooled = deadline_ms is not None
        self._prefix = f"SET LOCAL statement_timeout = {deadline_ms}; " if deadline_ms else ""

    def execute(self, statement, params: dict):
        """Run a statement (an insert: of the columns named in `params`); returns psycopg's
        cursor (fetchone, fetchall)."""
        compiled = _compiled(statement, self.dialect, params)
        values = {k: Json(v) if isinstance(v, dict | list) else v for k, v in params.items()}
        if self._prefix:
            cursor = psycopg.ClientCursor(self._driver, row_factory=namedtuple_row)
        else:
            cursor = self._driver.cursor(row_factory=namedtuple_row)
        try:
            if self._prefix:
                cursor.execute(self._prefix + compiled[1], values)
                cursor.nextset()  # past SET's result, to the statement's
            else:
                cursor.execute(compiled[1], values, prepare=not self._pooled)
        except psycopg.IntegrityError as exc:
            raise IntegrityError(compiled[1], params, exc) from exc
        except psycopg.OperationalError as exc:  # a deadline passed, the server gone: as SQLAlchemy says it
            raise OperationalError(compiled[1], params, exc) from exc
        return cursor


def commit_after(session: Session, statement, rows: list[dict]) -> None:
    """End a session's transaction with `statement` once per row, then commit. On PostgreSQL the
    statements and the COMMIT are sent as one message (bound by psycopg, run by the server one
    after the other): a row they update that every unit of some kind updates (a funder's budget,
    taken by every meal of a county) stays locked only for the server's time, never while the
    client waits for its turn on a busy machine. A statement that breaks a constraint stops the
    rest (the COMMIT too) and raises IntegrityError, as elsewhere; the caller rolls back."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        for row in rows:
            session.execute(statement, row)
        session.commit()
        return
    compiled = _compiled(statement, conn.dialect, rows[0])
    cursor = psycopg.ClientCursor(conn.connection.driver_connection)
    message = "; ".join([*(cursor.mogrify(compiled[1], row) for row in rows), "COMMIT"])
    try:
        cursor.execute(message)
    except psycopg.IntegrityError as exc:
        raise IntegrityError(compiled[1], rows, exc) from exc
    session.commit()  # SQLAlchemy's side of it: nothing left to send


# A process forked from this one must not keep copies of its database sockets. RQ forks its
# scheduler from `linli worker`; when the worker is killed in the middle of a job, the scheduler's
# copy kept the connection open, so PostgreSQL never rolled the dead job's transaction back and its
# row locks stopped every later job of that hub (tests/faults/test_worker_kill.py).
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
_CONNECTIONS: weakref.WeakSet = weakref.WeakSet()  # PostgreSQL connections (psycopg) of this process


def _forget_parent_connections() -> None:
    """In a forked child: the parent's sockets become /dev/null here (the parent's own stay open,
    and nothing is sent on them), and the child's engines will open connections of their own."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for conn in list(_CONNECTIONS):
            if not conn.closed:
                os.dup2(null, conn.fileno())
    finally:
        os.close(null)
    _CONNECTIONS.clear()
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def const(value: str | int):
    """A constant of a hot statement written into its SQL, not sent as a parameter. PostgreSQL
    then plans the prepared statement once (a generic plan it can trust, partial indexes included)
    instead of planning it again on every execution: a third of its time per scan. Only for
    constants of the code, never for a value from a request."""
    if isinstance(value, int):
        return literal_column(str(int(value)))
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"not a constant of the code: {value!r}")
    return literal_column(f"'{value}'")
