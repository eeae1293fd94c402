"""The Redis circuit breaker (linli.circuit), on a clock of the test's own."""

import pytest

from linli.circuit import Breaker, RedisUnavailable


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_failures_in_a_row_and_then_asks_nothing():
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown=5, clock=clock)
    breaker.allow()
    breaker.failed()
    breaker.allow()  # one failure: still asks
    breaker.failed()
    assert breaker.is_open
    with pytest.raises(RedisUnavailable):
        breaker.allow()
    clock.now += 4.9
    with pytest.raises(RedisUnavailable):
        breaker.allow()


def test_after_the_cool_down_one_call_tries_and_its_outcome_decides():
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown=5, clock=clock)
    breaker.failed()
    breaker.failed()
    clock.now += 5
    breaker.allow()  # this thread tries
    breaker.allow()  # every step of its call goes through
    breaker.failed()  # still down: open again for a whole cool-down
    with pytest.raises(RedisUnavailable):
        breaker.allow()
    clock.now += 5
    breaker.allow()
    breaker.succeeded()
    assert not breaker.is_open
    breaker.allow()
    breaker.failed()  # a single failure after a success does not open it
    breaker.allow()


def test_a_success_between_failures_starts_the_count_again():
    breaker = Breaker(threshold=2, cooldown=5, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert not breaker.is_open
