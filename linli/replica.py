"""The read replica (只读副本): reads that may lag a little (report builds, list pages, dashboards)
go to a PostgreSQL streaming replica (LINLI_DATABASE_REPLICA_URL) while it is healthy, and to the
primary otherwise. `Runtime.read` is the one way to open such a read; this module decides where.

Healthy: reachable, in recovery (a standby, not a promoted copy going its own way), and at most
LINLI_REPLICA_MAX_LAG seconds behind. Checked at most every `CHECK_EVERY` seconds per process
(each check with a short deadline), the answer kept in between; a switch either way is logged
once, and /readyz shows the state. A read that must see everything committed before it (a report
of a period that has ended: built once, kept) waits up to `REPLAY_WAIT` seconds for the replica
to replay past the primary's WAL position, and reads the primary when it has not.

Lag is an upper bound, the smaller of: the time since the primary's WAL position that the replica
has replayed was sampled by an earlier check, and the time since the last transaction it replayed
was committed (`pg_last_xact_replay_timestamp`). Caught up with the primary's position: 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("linli.replica")

CHECK_EVERY = 5.0  # seconds between checks, per process
CHECK_DEADLINE = 2.0  # seconds: each check's connect and statement deadline
REPLAY_WAIT = 5.0  # seconds a read that needs the latest writes waits for the replica's replay


@dataclass(frozen=True)
class ReplicaState:
    used: bool  # reads go to the replica
    state: str  # ok | not_checked | unreachable: <error> | lagging | not_a_standby
    lag_seconds: float | None  # an upper bound; None: unknown (unreachable)
    since: datetime | None  # when reads went to the primary (None while the replica is used)
    checked_at: datetime | None


def lsn(value: str) -> int:
    """A WAL position 'X/Y' as a number."""
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class Replica:
    def __init__(self, engine: Engine, primary: Engine, max_lag: float) -> None:
        self.engine = engine
        self.primary = primary
        self.max_lag = max_lag
        self.check_every = CHECK_EVERY
        self.replay_wait = REPLAY_WAIT
        # read-only by itself (a standby refuses writes); never `postgresql_readonly`, whose reset
        # when a connection goes back to the pool asks the standby for a read-write transaction
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.state = ReplicaState(False, "not_checked", None, None, None)
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)  # (monotonic, primary's position)

    def healthy(self) -> bool:
        """Whether reads go to the replica: the last check's answer, checked again when it is older
        than `check_every` (by one thread; the others keep the last answer meanwhile)."""
        if time.monotonic() - self._checked >= self.check_every and self._lock.acquire(blocking=False):
            try:
                self.check()
            finally:
                self._lock.release()
        return self.state.used

    def check(self) -> ReplicaState:
        self._checked = time.monotonic()
        try:
            position = self.primary_position()
        except Exception as exc:  # the primary down: nothing to compare with; the service is down anyway
            return self._set(False, f"primary unreachable: {type(exc).__name__}", None)
        now = time.monotonic()
        self._samples.append((now, lsn(position)))
        try:
            with self.engine.connect() as conn:
                conn.execute(text(f"SET LOCAL statement_timeout = {int(CHECK_DEADLINE * 1000)}"))
                standby, replayed, behind = conn.execute(
                    text(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                        " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float"
                    )
                ).one()
                conn.rollback()
        except Exception as exc:
            return self._set(False, f"unreachable: {type(exc).__name__}", None)
        if not standby:
            return self._set(False, "not_a_standby", None)
        done = lsn(replayed) if replayed else 0
        if done >= self._samples[-1][1]:
            lag = 0.0
        else:
            bounds = [max(0.0, behind)] if behind is not None else []
            covered = [at for at, pos in self._samples if pos <= done]
            if covered:
                bounds.append(now - max(covered))
            lag = min(bounds) if bounds else None
        if lag is None or lag > self.max_lag:
            return self._set(False, "lagging", lag)
        return self._set(True, "ok", lag)

    def primary_position(self) -> str:
        with self.primary.connect() as conn:
            position = conn.scalar(text("SELECT pg_current_wal_lsn()::text"))
            conn.rollback()
        return position

    def session(self, position: str | None = None) -> Session | None:
        """A read-only session on the replica, its connection taken (so an unreachable replica is
        found here, not in the middle of a read); with `position`, once the replica has replayed
        past it (waiting up to `replay_wait` seconds). None: read the primary."""
        if not self.healthy():
            return None
        session = self.sessions()
        try:
            conn = session.connection()
            if position is not None and not self._replayed(conn, position):
                session.close()
                log.info(
                    "replica has not replayed %s in %.1f s: this read goes to the primary",
                    position,
                    self.replay_wait,
                )
                return None
        except Exception as exc:
            session.close()
            self._set(False, f"unreachable: {type(exc).__name__}", None)
            return None
        return session

    def _replayed(self, conn, position: str) -> bool:
        deadline = time.monotonic() + self.replay_wait
        ask = text("SELECT pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn)")
        while not conn.scalar(ask, {"p": position}):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _set(self, used: bool, state: str, lag: float | None) -> ReplicaState:
        before = self.state
        now = datetime.now(UTC)
        since = None if used else (before.since if not before.used and before.since else now)
        self.state = ReplicaState(used, state, None if lag is None else round(lag, 3), since, now)
        if used != before.used:
            if used:
                log.warning("read replica in use again (lag %.1f s)", lag)
            else:
                log.warning("read replica not used (%s, lag %s s): reads go to the primary", state, lag)
        elif before.checked_at is None and not used:
            log.warning("read replica not used (%s, lag %s s): reads go to the primary", state, lag)
        return self.state
