"""Rate limits shared by every server process (限流): fixed-window counters in Redis.

A limit that cannot be counted (Redis down) lets the request through: the counter at lunch must
keep serving while the queue is away, and the database-side limits (login codes per phone, wrong
tries per code) still hold.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from linli.errors import too_many

log = logging.getLogger(__name__)

# (requests, window in seconds)
FAILED_LOGINS_PER_ACCOUNT = (10, 60)  # wrong passwords for one username (a phone's codes wear out instead)
FAILED_REGISTRATIONS_PER_ADDRESS = (10, 600)  # registrations refused for a wrong code, per address
# identity numbers a volunteer gave that another volunteer holds (409): probing who is registered
TAKEN_IDENTITIES_PER_VOLUNTEER = (5, 86400)
# camera frames the server reads for one device (token): a tablet sends one every 0.8 s or more
FRAMES_PER_DEVICE = (120, 60)


def _bucket(key: str, window: int, now: datetime) -> tuple[str, int]:
    epoch = int(now.timestamp())
    return f"linli:rate:{key}:{epoch // window}", window - epoch % window


def check(redis: Redis, key: str, limit: tuple[int, int], now: datetime, what: str) -> None:
    """Count one request under `key`; 429 rate_limited (with retry_after) over the limit."""
    bucket, retry_after = _bucket(key, limit[1], now)
    if limit[0] > 0 and _incr(redis, bucket, key, limit[1]) > limit[0]:
        raise too_many(what, retry_after)


def refuse_if_spent(redis: Redis, key: str, limit: tuple[int, int], now: datetime, what: str) -> None:
    """429 if `key` has used up its limit in this window, without counting this request (for
    limits on failures: see `count`)."""
    most, window = limit
    if most <= 0:
        return
    bucket, retry_after = _bucket(key, window, now)
    try:
        spent = int(redis.get(bucket) or 0)
    except RedisError as exc:  # fail open, loudly
        log.warning("rate limit not read (%s): %s", key.split(":", 1)[0], exc)
        return
    if spent >= most:
        raise too_many(what, retry_after)


def count(redis: Redis, key: str, limit: tuple[int, int], now: datetime) -> None:
    """Count one failure under `key`."""
    if limit[0] > 0:
        _incr(redis, _bucket(key, limit[1], now)[0], key, limit[1])


def _incr(redis: Redis, bucket: str, key: str, window: int) -> int:
    """The window's count after this one; 0 when Redis cannot count (fail open, loudly)."""
    try:
        counted = redis.incr(bucket)
        if counted == 1:  # the window's first: it expires with the window (one round trip after that)
            redis.expire(bucket, window + 1)
    except RedisError as exc:
        log.warning("rate limit not counted (%s): %s", key.split(":", 1)[0], exc)
        return 0
    return counted
