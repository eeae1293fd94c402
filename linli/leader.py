"""Leader election (选主): which one of several processes may do a thing only one may do (the
scheduler, `linli cron`), whatever host each runs on.

Why the database's lock and not a Redis key with a lease:
- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) held on a connection of its
  own. PostgreSQL frees it when that session ends, by itself: a leader killed with SIGKILL frees it
  at once (its kernel closes the socket); a host that is gone, or cut off, frees it once the server
  sees the connection dead (the session asks the server for TCP keepalives: 10 s idle, then 3
  probes 2 s apart, so about 16 s). There is no lease to renew and no clock to trust: while the
  session lives the lock is ours, and a second holder is impossible. A Redis lease (SET NX PX plus
  renewals) expires on a clock and can be held twice when a leader stalls past it; Redis with a
  replica can also lose a key on failover.
- SQLite (embedded, one host): an exclusive `flock` on a file next to the database. The kernel
  frees it when the process dies, however it dies.

The leader asks `held()` before each tick of its work: PostgreSQL must still answer that this
session holds the lock (a deadline of 2 s for the statement; the client's `tcp_user_timeout` breaks
the connection when the network has not carried the question within 5 s). A leader cut off stops
at its next check, within about 10 s of its last answer, earlier than the server frees the lock
for another (about 16 s).

The lock connection must reach PostgreSQL itself (or a pooler in session mode): `linli cron` takes
LINLI_DATABASE_DIRECT_URL (`Settings.direct_url`) for it. In transaction pooling a session lock
would stay on a server connection another client then uses, and `held()` would answer no (another
backend), so such a leader steps down rather than leads twice; PgBouncer also refuses the
connection's startup `options`, so it never leads at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Protocol

import psycopg

# The advisory lock's key, PostgreSQL's two-integer form: (a space of Linli's, the scheduler).
LOCK_SPACE = 0x4C4E  # "LN"
SCHEDULER = 1

DEADLINE_MS = 2000  # one statement on the lock connection
ANSWER_MS = 5000  # tcp_user_timeout: sent bytes unacknowledged this long break the connection
# asked of the server for this session: a client gone without closing is found in 10 + 3 * 2 s
SERVER_KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """Try once, without waiting: True if this process now holds the lock."""

    def held(self) -> bool:
        """Whether this process still holds it (False once the connection is lost)."""

    def release(self) -> None: ...


class PostgresLock:
    """A session-level advisory lock on a connection of its own (psycopg, autocommit)."""

    def __init__(self, url: str, key: int = SCHEDULER, name: str = "linli cron") -> None:
        self.url, self.key, self.name = url, key, name
        self._conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=5,
            application_name=f"{self.name} {os.getpid()}",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            tcp_user_timeout=ANSWER_MS,
            options=f"-c statement_timeout={DEADLINE_MS} {SERVER_KEEPALIVES}",
        )

    def acquire(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, self.key)).fetchone()
        except psycopg.Error:
            self._drop()
            return False
        return bool(row and row[0])

    def held(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        try:
            row = self._conn.execute(
                "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2)",
                (LOCK_SPACE, self.key),
            ).fetchone()
        except psycopg.Error:
            self._drop()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        # freed at once (the next holder need not wait for the server to see the session end);
        # ending the session frees them anyway if this cannot be said
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class FileLock:
    """An exclusive flock on `path` (created if missing), held by an open descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return self.held()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
        self._fd = fd
        return True

    def held(self) -> bool:
        """Ours while the file we locked is still the file at `path` (one deleted and made again
        could be locked by another)."""
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor frees the lock
            self._fd = None


def scheduler_lock(database_url: str) -> LeaderLock:
    """The lock the scheduler's processes share: the database's (PostgreSQL), or a file next to it."""
    if database_url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        return FileLock(Path(f"{make_url(database_url).database}.cron.lock").resolve())
    return PostgresLock(database_url)
