"""The county's lunch rush (bench/rush.py), short: server processes and a worker under every kind
of lunch-time request at once, then everything acknowledged to a client is in the database
exactly once, every closed attendance awarded once, every report built once, and the ledger
verifies. (The ten-minute run with its latency target: `.venv/bin/python bench/rush.py`, part of `make bench`.)"""

from __future__ import annotations

import pytest

from bench import rush

pytestmark = pytest.mark.slow  # a lunch rush under load: left out of `make test-quick`


def test_a_short_lunch_rush_loses_and_doubles_nothing(rt, settings):
    """From two client processes (as a province's rush runs), their answers taken together."""
    tally, checks, figures = rush.run(
        settings.database_url,
        settings.redis_url,
        minutes=0.4,
        points=8,
        interval=1.0,
        workers=2,
        county_days=2,
        clients=2,
    )
    assert figures["clients"] == 2
    assert tally.errors == []
    assert [what for what, passed, _ in checks if not passed] == []
    # every kind of lunch-time request took part
    assert set(tally.ms) >= {"counter scan", "volunteer scan", "door scan", "card booking", "report request"}
    assert tally.outcomes["meal_served"] > 0 and tally.outcomes["checked_out"] == 8 * 4
    assert tally.outcomes["delivered"] == 8 * 3


def test_a_rush_that_would_span_midnight_waits_for_it():
    """The rush plans the day's queues before it starts: one that would run across midnight in
    Asia/Shanghai starts just after it instead (a test at 16:00 UTC once served no meals)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    assert rush.wait_for_midnight(datetime(2030, 6, 3, 15, 58, 30, tzinfo=UTC), tz, 0.4) == 91
    assert rush.wait_for_midnight(datetime(2030, 6, 3, 15, 50, tzinfo=UTC), tz, 10) == 601
    assert rush.wait_for_midnight(datetime(2030, 6, 3, 15, 40, tzinfo=UTC), tz, 0.4) == 0
    assert rush.wait_for_midnight(datetime(2030, 6, 3, 16, 0, 5, tzinfo=UTC), tz, 10) == 0
