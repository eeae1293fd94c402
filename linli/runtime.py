"""The runtime (运行时): one per process, built by its composition root (which first registers the
models: `migrations.models.import_models`). Builds the engine, session factory, signer,
clock and Redis connection from Settings; tests build it with their own settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from linli.clock import Clock, SystemClock
from linli.db import Direct, make_engine, make_session_factory
from linli.errors import LinliError
from linli.idcrypt import keyring_for
from linli.qr import Codes
from linli.settings import Settings
from linli.signing import Signer

DOOR_POOL = 20  # the scan door's connections in a process, beside the engine's `db.POOL`


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        redis: Redis | None = None,
        jobs: bool = False,
    ) -> None:
        """`jobs`: for a worker or the command line, whose statements have the longer deadline
        (`Settings.job_statement_timeout`); otherwise a request's (`statement_timeout`)."""
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        deadline = settings.job_statement_timeout if jobs else settings.statement_timeout
        self.engine = make_engine(
            settings.sqlalchemy_url, statement_timeout=deadline, pooled=settings.pooled
        )
        self.session_factory = make_session_factory(self.engine)
        self._deadline = deadline
        # reads (`read`): read-only transactions on PostgreSQL (BEGIN READ ONLY: no extra round trip)
        readonly = {} if settings.is_sqlite else {"postgresql_readonly": True}
        self._primary_reads = make_session_factory(self.engine.execution_options(**readonly))
        self.replica = None  # linli.replica.Replica, with LINLI_DATABASE_REPLICA_URL
        if settings.replica_url:
            from linli.replica import Replica

            self.replica = Replica(
                make_engine(
                    settings.sqlalchemy_replica_url,
                    statement_timeout=deadline,
                    pooled=settings.pooled,  # a replica behind its own PgBouncer, like the primary
                    replica=True,
                ),
                self.engine,
                settings.replica_max_lag,
            )
        self.signer = Signer(settings.secret_keys)
        self.codes = Codes(self.signer, settings.base_url)
        self.id_keys = keyring_for(settings.id_keys, settings.secret_keys)  # identity numbers
        self._redis = redis

    @cached_property
    def redis(self) -> Redis:
        if self._redis is None:
            from linli.queue import connect_redis

            self._redis = connect_redis(self.settings)
        return self._redis

    @cached_property
    def door_engine(self) -> Engine:
        """The scan door's own connections (PostgreSQL; on SQLite the one engine): its statements,
        a known few run thousands of times at lunch, are planned once for any values
        (`make_engine(generic_plans=True)`), everything else for its values."""
        if self.settings.is_sqlite:
            return self.engine
        return make_engine(
            self.settings.sqlalchemy_url,
            statement_timeout=self._deadline,
            pooled=self.settings.pooled,
            generic_plans=True,
            pool=DOOR_POOL,
        )

    @cached_property
    def _door_sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.door_engine)

    @contextmanager
    def tx(self, *, door: bool = False) -> Iterator[Session]:
        """One unit of work: commit once at the end, roll back on error (unless the error asks to
        keep). `door`: the scan door's, on its own connections (`door_engine`)."""
        session = self._door_sessions() if door else self.session_factory()
        try:
            yield session
        except BaseException as exc:
            end_unit(session, exc)
            raise
        end_unit(session, None)

    @contextmanager
    def read(self, *, latest: bool = False) -> Iterator[Session]:
        """A read-only unit of work for reads that may lag a little (report builds, list pages,
        dashboards): on the read replica while it is healthy, else on the primary
        (`linli.replica`); never for a read whose answer feeds a write. `latest`: it must see
        everything committed before this call (a report kept as final), so the replica is used
        once it has replayed that far (waiting a few seconds at most). Rolled back at the end."""
        session = self.read_session(latest=latest)
        try:
            yield session
        finally:
            end_read(session)

    def read_session(self, *, latest: bool = False) -> Session:
        """The session `read` yields (the API's `reads` dependency ends it with `end_read`)."""
        if self.replica is not None:
            try:
                position = self.replica.primary_position() if latest and self.replica.healthy() else None
            except Exception:
                position = None  # the primary itself unreachable: the read below says so
            if not latest or position is not None:
                session = self.replica.session(position)
                if session is not None:
                    return session
        return self._primary_reads()

    @contextmanager
    def statements(self) -> Iterator[Direct]:
        """PostgreSQL: a connection whose statements commit one by one, sent straight to psycopg
        (`db.Direct`), for hot work that needs no transaction round it (no BEGIN and COMMIT round
        trips)."""
        with self.door_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield Direct(conn)

    def close(self) -> None:
        self.engine.dispose()
        if "door_engine" in self.__dict__:
            self.door_engine.dispose()
        if self.replica is not None:
            self.replica.engine.dispose()


def end_read(session: Session) -> None:
    """End a read (`Runtime.read`): roll back (nothing to keep), close."""
    try:
        session.rollback()
    finally:
        session.close()


def end_unit(session: Session, error: BaseException | None) -> None:
    """End one unit of work by how it went, then close its session: without an error, commit; with
    a `LinliError` that asks to keep its writes (`commit=True`), commit; with any other error, roll
    back. A commit that fails is rolled back and its error raised (the caller raises `error` itself
    otherwise). `Runtime.tx` and the API's per-request session (`api.deps`) both end here."""
    try:
        if error is None or (isinstance(error, LinliError) and error.commit):
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
        else:
            session.rollback()
    finally:
        session.close()
