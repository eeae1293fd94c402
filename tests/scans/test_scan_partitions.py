"""Scans by month (扫码按月分区, migration 0030): every scan id is a key of `scan_keys`, written by
the scan's own statement, so a replayed scan id is recognised forever, across a month boundary and
after its month is archived (`linli partitions detach`); on PostgreSQL `scans` is partitioned by
month of `effective_at`, the migration moves every scan there and back, a lookup reads one month."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from linli import partitions
from migrations import driver as migrate
from scans import door, repository
from scans.models import Scan, ScanKey
from scans.schemas import ScanInput
from tests.fixtures.builders import JULY_FIRST, JUNE_LAST, across_midnight
from volunteer.models import Attendance

REPLAY_ID = "6f1c2a4e-2b7d-4c1e-9a55-0d3f1c8e7b21"


@pytest.fixture
def night(rt):
    return across_midnight(rt)


def card(rt, station, volunteer, scan_id=None, scanned_at=None) -> ScanInput:
    return door.check_input(ScanInput(rt.codes.volunteer_card(volunteer, 1), station, scan_id, scanned_at))


def counts(rt) -> tuple[int, int]:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(Scan)), s.scalar(
            select(func.count()).select_from(ScanKey)
        )


def where(rt, scan_id: str) -> str | None:
    with rt.engine.connect() as conn:
        return conn.execute(
            text("SELECT tableoid::regclass::text FROM scans WHERE scan_id = :s"), {"s": scan_id}
        ).scalar()


def open_attendances(rt) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(Attendance).where(Attendance.state == "open"))


def test_a_replay_across_a_month_boundary_is_the_earlier_answer_and_stores_nothing(night, monkeypatch):
    rt, tablet, station, volunteer, _ = night
    refused = []  # the lock-free one-statement writes the key failed (PostgreSQL)
    for name in ("check_in_and_store", "check_out_and_store"):

        def spy(*args, _write=getattr(repository, name), _name=name, **kwargs):
            try:
                return _write(*args, **kwargs)
            except IntegrityError as exc:
                refused.append((_name, "pk_scan_keys" in str(exc)))
                raise

        monkeypatch.setattr(repository, name, spy)

    def replay(at):
        return door.scan_online(rt, tablet, card(rt, station, volunteer, REPLAY_ID), received_at=at)

    checked_in = replay(JUNE_LAST)
    assert checked_in["outcome"] == "checked_in"
    # while checked in (the lock-free path would check out, in one statement with the key)
    assert replay(JUNE_LAST + timedelta(minutes=10)) == checked_in
    assert counts(rt) == (1, 1) and open_attendances(rt) == 1
    out = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JULY_FIRST)
    assert out["outcome"] == "checked_out"
    before = counts(rt)
    assert before == (2, 2)
    # the June scan id again in July: a double tap's moment, online and from a batch, and later
    # (the lock-free path would check in again, in one statement with the key)
    batch = door.scan_batch(
        rt,
        tablet,
        [card(rt, station, volunteer, REPLAY_ID, JULY_FIRST)],
        received_at=JULY_FIRST + timedelta(minutes=5),
    )
    assert replay(JULY_FIRST) == checked_in and batch == [checked_in]
    assert replay(JULY_FIRST + timedelta(minutes=5)) == checked_in
    assert counts(rt) == before and open_attendances(rt) == 0  # changed nothing
    with rt.tx() as s:
        assert s.scalar(select(ScanKey.effective_at).where(ScanKey.scan_id == REPLAY_ID)) == JUNE_LAST
    if not rt.settings.is_sqlite:
        assert where(rt, REPLAY_ID) != where(rt, out["scan_id"])  # two months, two partitions
        assert refused == [("check_out_and_store", True), ("check_in_and_store", True)]


def test_a_scan_without_its_key_is_refused(night):
    rt, tablet, station, volunteer, _ = night
    door.scan_online(rt, tablet, card(rt, station, volunteer, REPLAY_ID), received_at=JUNE_LAST)
    with rt.tx() as s:
        row = s.scalars(select(Scan)).one()
    values = {c.name: getattr(row, c.name) for c in Scan.__table__.c if c.name != "id"}
    with pytest.raises(IntegrityError, match=r"fk_scans_scan_id_scan_keys|FOREIGN KEY"), rt.tx() as s:
        s.execute(Scan.__table__.insert(), {**values, "scan_id": "no-key"})
    assert counts(rt) == (1, 1)


@pytest.fixture
def pg(night):
    if night[0].settings.is_sqlite:
        pytest.skip("SQLite is not partitioned (嵌入模式不分区): PostgreSQL only")
    return night


def test_the_migration_moves_every_scan_there_and_back(night):
    rt, tablet, station, volunteer, _ = night
    postgres = not rt.settings.is_sqlite
    first = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JUNE_LAST)
    second = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JULY_FIRST)
    assert (first["outcome"], second["outcome"]) == ("checked_in", "checked_out")
    months = (where(rt, first["scan_id"]), where(rt, second["scan_id"])) if postgres else None
    assert months in (None, ("scans_2030_06", "scans_2030_07"))
    before = counts(rt)
    url = rt.settings.sqlalchemy_url
    try:
        migrate.downgrade(url, "0029")
        with rt.engine.connect() as conn:
            assert not partitions.is_partitioned(conn, "scans")
            assert "scan_keys" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM scans")).scalar() == before[0]
    finally:
        migrate.upgrade(url)
    with rt.engine.connect() as conn:
        assert partitions.is_partitioned(conn, "scans") == postgres
    assert counts(rt) == before  # every scan back, and every scan id a key again
    if postgres:
        assert (where(rt, first["scan_id"]), where(rt, second["scan_id"])) == months
    # the keys hold: the June scan id replayed is its answer again
    again = door.scan_online(
        rt, tablet, card(rt, station, volunteer, first["scan_id"]), received_at=JULY_FIRST
    )
    assert again == first and counts(rt) == before


def test_the_doors_scan_lookups_read_one_month(pg):
    rt, tablet, station, volunteer, _ = pg
    with rt.engine.begin() as conn:  # the upkeep (`linli cron`'s partitions_ahead) makes scans' months too
        conn.execute(text("DROP TABLE IF EXISTS scans_2030_08"))  # another test may have made it
        made = partitions.ensure_months(conn, date(2030, 5, 1), date(2030, 8, 1))
        listed = {p.name for p in partitions.list_partitions(conn) if p.parent == "scans"}
    assert "scans_2030_08" in made and {"scans_2030_05", "scans_default"} <= listed
    june = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JUNE_LAST)
    door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JULY_FIRST)
    # a volunteer's last scan in the minute before a scan (the door's read): that month only
    with rt.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT id FROM scans WHERE volunteer_id = :v"
                    " AND effective_at >= :since AND effective_at <= :at ORDER BY effective_at DESC LIMIT 1"
                ),
                {"v": volunteer, "since": JULY_FIRST - timedelta(minutes=1), "at": JULY_FIRST},
            ).scalars()
        )
    read = {w for w in plan.replace("(", " ").split() if w.startswith("scans_")}
    assert read and all(w.startswith("scans_2030_07") for w in read), plan
    # a replay's look-up: the key, then the scan in its key's month only
    with rt.tx() as s:
        stored = repository.scan_result(s, june["scan_id"])
    assert stored.effective_at == JUNE_LAST and stored.result == june
    with rt.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT device, result FROM scans WHERE scan_id = :id AND effective_at = :at"),
                {"id": june["scan_id"], "at": stored.effective_at},
            ).scalars()
        )
    read = {w for w in plan.replace("(", " ").split() if w.startswith("scans_")}
    assert read and all(w.startswith("scans_2030_06") for w in read), plan


def test_an_archived_months_scan_id_is_still_a_duplicate(pg):
    rt, tablet, station, volunteer, _ = pg
    june = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JUNE_LAST)
    july = door.scan_online(rt, tablet, card(rt, station, volunteer), received_at=JULY_FIRST)
    detached = []
    try:
        with rt.engine.begin() as conn:
            detached = partitions.detach_before(conn, date(2030, 7, 1))
        assert "scans_2030_06" in detached and "scans_2030_07" not in detached
        before = counts(rt)
        assert before == (1, 2)  # June's scan went with its month; its key stays
        later = JULY_FIRST + timedelta(hours=1)
        online = door.scan_online(
            rt, tablet, card(rt, station, volunteer, june["scan_id"]), received_at=later
        )
        batch = door.scan_batch(
            rt, tablet, [card(rt, station, volunteer, june["scan_id"], later)], received_at=later
        )
        # a duplicate: changes nothing; the earlier answer went with the archive, so only its time
        assert online["outcome"] == "duplicate" and online["earlier_scan_id"] == june["scan_id"]
        assert online["volunteer"] is None and online["attendance_id"] is None
        assert online["scanned_at"] == JUNE_LAST.isoformat() and batch == [online]
        assert counts(rt) == before
        # July's scan, still in the table, answers as before
        again = door.scan_online(rt, tablet, card(rt, station, volunteer, july["scan_id"]), received_at=later)
        assert again == july and counts(rt) == before
    finally:
        with rt.engine.begin() as conn:  # the archive's last step: drop the detached tables
            for name in detached:
                conn.execute(text(f"DROP TABLE {name}"))
