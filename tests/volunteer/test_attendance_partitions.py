"""Attendances by month (签到记录按月分区, migration 0032): every attendance's id and whether it is
open are a row of `attendance_keys`, kept by the database's triggers whatever writes the
attendance (the scan door's one-statement check-in and check-out, the nightly auto-close, an
offline rewind's reopen and delete), so one open attendance per volunteer holds over all months;
on PostgreSQL `attendances` is partitioned by month of `checked_in_at`, a month's read reads that
month, the ledger-like history is never detached, and the migration moves every row there and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from linli import partitions
from migrations import driver as migrate
from scans import door
from scans.schemas import ScanInput
from tests.fixtures.builders import JULY_FIRST, JUNE_LAST, across_midnight
from volunteer import attendance
from volunteer.models import Attendance, AttendanceKey


@pytest.fixture
def night(rt):
    return across_midnight(rt)


def scan(rt, tablet, station, volunteer, at: datetime) -> dict:
    code = door.check_input(ScanInput(rt.codes.volunteer_card(volunteer, 1), station, None, None))
    return door.scan_online(rt, tablet, code, received_at=at)


def attendances_and_keys(rt) -> tuple[set, set]:
    """(id, volunteer, open) of every attendance, and of every key."""
    with rt.tx() as s:
        rows = {(a.id, a.volunteer_id, a.state == "open") for a in s.scalars(select(Attendance))}
        keys = {(k.id, k.volunteer_id, bool(k.open)) for k in s.scalars(select(AttendanceKey))}
    return rows, keys


def where(rt, attendance_id: int) -> str:
    with rt.engine.connect() as conn:
        return conn.execute(
            text("SELECT tableoid::regclass::text FROM attendances WHERE id = :a"), {"a": attendance_id}
        ).scalar()


def test_the_keys_follow_every_writer_of_an_attendance(night):
    rt, tablet, station, volunteer, _ = night
    checked_in = scan(rt, tablet, station, volunteer, JUNE_LAST)  # PostgreSQL: the one-statement check-in
    assert checked_in["outcome"] == "checked_in"
    first = checked_in["attendance_id"]
    rows, keys = attendances_and_keys(rt)
    assert rows == keys == {(first, volunteer, True)}
    assert scan(rt, tablet, station, volunteer, JULY_FIRST)["outcome"] == "checked_out"
    rows, keys = attendances_and_keys(rt)
    assert rows == keys == {(first, volunteer, False)}
    with rt.tx() as s:  # an offline rewind opens it again, and the next one is refused while it is
        attendance.reopen(s, [first])
    assert attendances_and_keys(rt)[1] == {(first, volunteer, True)}
    with rt.tx() as s:  # the nightly close of forgotten ones (an ORM read, a Core update)
        assert attendance.close_forgotten(s, now=JULY_FIRST + timedelta(hours=3), grace_minutes=60) == 1
    rows, keys = attendances_and_keys(rt)
    assert rows == keys == {(first, volunteer, False)}
    second = scan(rt, tablet, station, volunteer, JULY_FIRST - timedelta(minutes=10))  # an earlier moment
    assert second["outcome"] == "checked_in"
    rows, keys = attendances_and_keys(rt)
    assert rows == keys and (second["attendance_id"], volunteer, True) in keys
    with rt.tx() as s:  # the rewind's delete of an attendance no scan names any more
        s.execute(
            text("UPDATE scans SET attendance_id = NULL WHERE attendance_id = :a"),
            {"a": second["attendance_id"]},
        )
        attendance.drop_open(s, [second["attendance_id"]])
    rows, keys = attendances_and_keys(rt)
    assert rows == keys == {(first, volunteer, False)}


def test_a_second_open_attendance_in_another_month_is_refused(night):
    """Before the key table, a per-month index could not see June's open attendance from August."""
    rt, tablet, station, volunteer, activity = night
    opened = scan(rt, tablet, station, volunteer, JUNE_LAST)["attendance_id"]
    august = datetime(2030, 8, 10, 2, 0, tzinfo=UTC)
    row = {
        "activity_id": activity,
        "volunteer_id": volunteer,
        "station_id": station,
        "state": "open",
        "checked_in_at": august,
        "flagged": False,
        "created_at": august,
    }
    with pytest.raises(IntegrityError, match=r"uq_attendance_keys_open|UNIQUE"), rt.tx() as s:
        s.execute(Attendance.__table__.insert(), row)
    rows, keys = attendances_and_keys(rt)
    assert rows == keys == {(opened, volunteer, True)}
    with rt.tx() as s:  # closed, the same row is taken: it is only the second open one that is refused
        s.execute(Attendance.__table__.insert(), {**row, "state": "closed"})
    assert len(attendances_and_keys(rt)[1]) == 2
    with (
        pytest.raises(IntegrityError, match=r"fk_scans_attendance_id_attendance_keys|FOREIGN KEY"),
        rt.tx() as s,
    ):
        s.execute(text("UPDATE scans SET attendance_id = 999999"))


@pytest.fixture
def pg(night):
    if night[0].settings.is_sqlite:
        pytest.skip("SQLite is not partitioned (嵌入模式不分区): PostgreSQL only")
    return night


def test_a_months_attendances_are_read_from_that_month_and_never_detached(pg):
    rt, tablet, station, volunteer, _ = pg
    june = scan(rt, tablet, station, volunteer, JUNE_LAST)["attendance_id"]
    scan(rt, tablet, station, volunteer, JULY_FIRST)
    july = scan(rt, tablet, station, volunteer, JULY_FIRST + timedelta(minutes=5))["attendance_id"]
    assert (where(rt, june), where(rt, july)) == ("attendances_2030_06", "attendances_2030_07")
    with rt.engine.connect() as conn:  # a month report's bound (reports.queries_people)
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT count(*) FROM attendances WHERE checked_in_at >= :since AND checked_in_at < :until"
                ),
                {
                    "since": datetime(2030, 6, 30, 16, 0, tzinfo=UTC),
                    "until": datetime(2030, 7, 31, 16, 0, tzinfo=UTC),
                },
            ).scalars()
        )
    read = {w for w in plan.replace("(", " ").split() if w.startswith("attendances_")}
    assert read == {"attendances_2030_07"}, plan
    with rt.engine.begin() as conn:  # service records and certificates read them all: kept whole
        detached = partitions.detach_before(conn, date(2030, 8, 1), dry_run=True)
    assert not [name for name in detached if name.startswith("attendances_")]


def test_a_month_made_late_takes_its_rows_from_default_and_keeps_their_keys(pg):
    rt, _, station, volunteer, activity = pg
    march = datetime(2031, 3, 10, 2, 0, tzinfo=UTC)  # no month made for it yet: DEFAULT holds it
    with rt.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS attendances_2031_03"))  # another test may have made it
    with rt.tx() as s:
        s.execute(
            Attendance.__table__.insert(),
            {
                "activity_id": activity,
                "volunteer_id": volunteer,
                "station_id": station,
                "state": "open",
                "checked_in_at": march,
                "flagged": False,
                "created_at": march,
            },
        )
        late = s.scalar(select(Attendance.id))
    assert where(rt, late) == "attendances_default"
    before = attendances_and_keys(rt)
    with rt.engine.begin() as conn:
        assert "attendances_2031_03" in partitions.ensure_months(conn, date(2031, 3, 1), date(2031, 3, 1))
    assert where(rt, late) == "attendances_2031_03"
    assert attendances_and_keys(rt) == before == ({(late, volunteer, True)},) * 2


def test_the_migration_moves_every_attendance_there_and_back(night):
    rt, tablet, station, volunteer, _ = night
    postgres = not rt.settings.is_sqlite
    june = scan(rt, tablet, station, volunteer, JUNE_LAST)["attendance_id"]
    scan(rt, tablet, station, volunteer, JULY_FIRST)
    july = scan(rt, tablet, station, volunteer, JULY_FIRST + timedelta(minutes=5))["attendance_id"]
    before = attendances_and_keys(rt)
    url = rt.settings.sqlalchemy_url
    try:
        migrate.downgrade(url, "0031")
        with rt.engine.connect() as conn:
            assert not partitions.is_partitioned(conn, "attendances")
            assert "attendance_keys" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM attendances")).scalar() == 2
            indexes = {i["name"] for i in inspect(conn).get_indexes("attendances")}
            assert "uq_attendances_open" in indexes
    finally:
        migrate.upgrade(url)
    with rt.engine.connect() as conn:
        assert partitions.is_partitioned(conn, "attendances") == postgres
    assert attendances_and_keys(rt) == before  # every attendance back, each a key again, open as it was
    if postgres:
        assert (where(rt, june), where(rt, july)) == ("attendances_2030_06", "attendances_2030_07")
    with rt.tx() as s:  # the triggers are there again: the next check-out keeps its key
        assert s.scalar(select(func.count()).select_from(AttendanceKey).where(AttendanceKey.open)) == 1
    assert (
        scan(rt, tablet, station, volunteer, JULY_FIRST + timedelta(minutes=30))["outcome"] == "checked_out"
    )
    rows, keys = attendances_and_keys(rt)
    assert rows == keys and not any(is_open for _, _, is_open in keys)
