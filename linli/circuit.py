"""Redis with a deadline and a circuit breaker (熔断): a Redis that hangs costs a request at most a
fraction of a second, and after the first failures nothing waits for it at all.

Every connection of a client made by `linli.queue.redis_from_url` asks its breaker before it
connects or sends. After `THRESHOLD` failures in a row (refused, reset, or no answer within the
deadline) the breaker opens: for `COOLDOWN` seconds every call raises `RedisUnavailable` at once,
without touching the network. Then one call is let through to try; its success closes the breaker,
its failure opens it again. What a caller does when Redis is unavailable is its own choice (a
rate limit lets the request through and logs it; the outbox keeps work until the relay can
deliver it; readiness answers 503).
"""

from __future__ import annotations

import logging
import threading
import time

from redis.connection import Connection
from redis.exceptions import ConnectionError, RedisError, TimeoutError

log = logging.getLogger("linli.redis")

THRESHOLD = 2  # failures in a row that open the breaker
COOLDOWN = 5.0  # seconds it stays open before one call tries again


class RedisUnavailable(RedisError):
    """Not asked: the breaker is open. (Not a ConnectionError, so redis-py does not retry it.)"""


class Breaker:
    def __init__(self, threshold: int = THRESHOLD, cooldown: float = COOLDOWN, clock=time.monotonic) -> None:
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._trial: tuple[int, float] | None = None  # (thread, until): the one call trying again

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> None:
        """Raises RedisUnavailable unless a call may go to Redis now. While open, after the
        cool-down one call (every step of it, on its thread) tries again."""
        with self._lock:
            if self._open_until is None:
                return
            now, me = self.clock(), threading.get_ident()
            if self._trial is not None and self._trial[0] == me:
                return
            if now >= self._open_until and (self._trial is None or now >= self._trial[1]):
                self._trial = (me, now + self.cooldown)  # a trial that never ends is given up
                return
        raise RedisUnavailable("Redis 暂不可用，未等待 Redis unavailable: not asked (circuit open)")

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial = None
            if self._failures >= self.threshold:
                if self._open_until is None:
                    log.warning("redis circuit open after %d failures", self._failures)
                self._open_until = self.clock() + self.cooldown

    def succeeded(self) -> None:
        if self._failures == 0:  # the usual case: nothing to change, no lock
            return
        with self._lock:
            if self._open_until is not None:
                log.info("redis circuit closed")
            self._failures, self._open_until, self._trial = 0, None, None


def guarded(breaker: Breaker, base: type[Connection] = Connection) -> type[Connection]:
    """A connection class (TCP, or `base`) whose every connect, send and read goes through
    `breaker`."""

    class GuardedConnection(base):
        def connect(self, *args, **kwargs):
            breaker.allow()
            return self._watched(super().connect, *args, **kwargs)

        def send_packed_command(self, *args, **kwargs):
            breaker.allow()
            return self._watched(super().send_packed_command, *args, **kwargs)

        def read_response(self, *args, **kwargs):
            answer = self._watched(super().read_response, *args, **kwargs)
            breaker.succeeded()
            return answer

        def _watched(self, call, *args, **kwargs):
            try:
                return call(*args, **kwargs)
            except (ConnectionError, TimeoutError, OSError):
                breaker.failed()
                raise

    return GuardedConnection
