"""Monthly partitions on PostgreSQL (按月分区, linli.partitions, migration 0028): the migration
moves every row and back, new rows land in their month (or DEFAULT), `linli cron` makes months
ahead once, an old month detaches and the rest reads the same, the constraints still hold, and a
one-month query reads one month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from cli.main import main
from linli import partitions
from meals.models import Meal, MealSubsidy
from migrations import driver as migrate
from tests.fixtures.builders import staff_token
from tests.fixtures.canteen import LUNCH, Canteen
from workers.jobs import close_meal_days, partitions_ahead

JULY_LUNCH = datetime(2030, 7, 2, 3, 30, tzinfo=UTC)  # Tuesday 11:30 local
JULY_EVENING = datetime(2030, 7, 2, 13, 30, tzinfo=UTC)  # 21:30 local: the day closes
AUGUST_LUNCH = datetime(2030, 8, 1, 3, 30, tzinfo=UTC)


@pytest.fixture
def pg(rt):
    if rt.settings.is_sqlite:
        pytest.skip("SQLite is not partitioned (嵌入模式不分区): PostgreSQL only")
    return rt


def totals(rt) -> dict:
    with rt.engine.connect() as conn:
        return {
            table: tuple(conn.execute(text(f"SELECT count(*), coalesce(sum({money}), 0) FROM {table}")).one())
            for table, money in (
                ("meals", "price + subsidy"),
                ("meal_subsidies", "amount"),
                ("meal_adjustments", "price_delta"),
            )
        }


def where(rt, table: str, row_id: int) -> str:
    with rt.engine.connect() as conn:
        return conn.execute(
            text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"), {"id": row_id}
        ).scalar()


def serve(canteen, clock, at, diner) -> dict:
    clock.at = at
    return canteen.scan(canteen.card(diner))["meal"]


def test_sqlite_stays_as_it_is(rt):
    if not rt.settings.is_sqlite:
        pytest.skip("embedded mode only (嵌入模式)")
    with rt.engine.begin() as conn:
        assert partitions.ensure_ahead(conn, date(2030, 6, 1)) == []
        assert partitions.list_partitions(conn) == [] and not partitions.is_partitioned(conn, "meals")


def test_the_migration_moves_every_row_there_and_back(pg, client, clock):
    clock.at = LUNCH
    canteen = Canteen(pg, client)
    june = serve(canteen, clock, LUNCH, canteen.grandma)
    serve(canteen, clock, LUNCH, canteen.grandpa)
    july = serve(canteen, clock, JULY_LUNCH, canteen.grandma)
    clock.at = JULY_EVENING
    close_meal_days()
    reversal = client.post(  # July 2nd is closed: reversed, not voided (meal_adjustments)
        f"/api/v1/meals/{july['id']}/reversal",
        json={"reason": "刷错卡"},
        headers=staff_token(client, "counter"),
    )
    assert reversal.status_code == 201, reversal.text
    before = totals(pg)
    assert before["meals"][0] == 3 and before["meal_subsidies"][0] >= 3 and before["meal_adjustments"][0] == 1
    url = pg.settings.sqlalchemy_url
    try:
        migrate.downgrade(url, "0027")
        with pg.engine.connect() as conn:
            assert not partitions.is_partitioned(conn, "meals")
        assert totals(pg) == before
        migrate.upgrade(url)
        with pg.engine.connect() as conn:
            assert partitions.is_partitioned(conn, "meals") and partitions.is_partitioned(
                conn, "meal_subsidies"
            )
    finally:
        migrate.upgrade(url)
    assert totals(pg) == before
    # the months of the data got their partitions, and the rows are in them
    assert where(pg, "meals", june["id"]) == "meals_2030_06"
    assert where(pg, "meals", july["id"]) == "meals_2030_07"
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM meals_default")).scalar() == 0
        assert conn.execute(text("SELECT meal_day FROM meal_adjustments")).scalar() == date(2030, 7, 2)
    # ids go on from the same sequence; a new meal lands in its month
    later = serve(canteen, clock, JULY_LUNCH + timedelta(days=1), canteen.grandpa)  # July 2nd is closed
    assert later["id"] > july["id"] and where(pg, "meals", later["id"]) == "meals_2030_07"
    # July's reversed meal is still referenced (meal_adjustments): no month is detached, all or none
    with pytest.raises(IntegrityError, match="meal_adjustments"), pg.engine.begin() as conn:
        partitions.detach_before(conn, date(2030, 8, 1))
    with pg.engine.connect() as conn:
        assert {"meals_2030_06", "meal_subsidies_2030_06"} <= {
            p.name for p in partitions.list_partitions(conn)
        }


def test_a_month_without_a_partition_lands_in_default_and_cron_makes_months_once(pg, client, clock):
    clock.at = LUNCH
    canteen = Canteen(pg, client)
    with pg.engine.begin() as conn:
        for table in ("meal_subsidies", "meals"):  # another test may have made August
            conn.execute(text(f"DROP TABLE IF EXISTS {table}_2030_08"))
    august = serve(canteen, clock, AUGUST_LUNCH, canteen.grandma)
    assert where(pg, "meals", august["id"]) == "meals_default"
    with pg.tx() as s:
        subsidy = s.scalar(select(MealSubsidy.id).where(MealSubsidy.meal_id == august["id"]))
    assert where(pg, "meal_subsidies", subsidy) == "meal_subsidies_default"

    before = totals(pg)
    clock.at = AUGUST_LUNCH
    made = partitions_ahead()
    assert "meal_subsidies_2030_08" in made and "meals_2030_11" in made
    # the subsidy moved to its month; the meal, referenced by it, cannot change partition: it
    # stays in DEFAULT (reads the same), and its month is not made
    assert where(pg, "meal_subsidies", subsidy) == "meal_subsidies_2030_08"
    assert "meals_2030_08" not in made and where(pg, "meals", august["id"]) == "meals_default"
    assert totals(pg) == before
    with pg.engine.connect() as conn:
        listed = partitions.list_partitions(conn)
    assert partitions_ahead() == []  # idempotent: a second tick makes nothing
    with pg.engine.connect() as conn:
        assert partitions.list_partitions(conn) == listed


def test_an_old_month_detaches_and_the_months_left_read_the_same(pg, client, clock):
    with pg.engine.begin() as conn:
        partitions.ensure_ahead(conn, date(2030, 6, 1), ahead=1)
    clock.at = LUNCH
    canteen = Canteen(pg, client)
    june = serve(canteen, clock, LUNCH, canteen.grandma)
    serve(canteen, clock, JULY_LUNCH, canteen.grandma)
    serve(canteen, clock, JULY_LUNCH, canteen.grandpa)

    def july_report():
        with pg.tx() as s:
            meals = s.execute(
                select(func.count(), func.sum(Meal.subsidy), func.sum(Meal.paid)).where(
                    Meal.service_day >= date(2030, 7, 1), Meal.service_day < date(2030, 8, 1)
                )
            ).one()
            funders = s.execute(
                select(MealSubsidy.agreement_id, func.sum(MealSubsidy.amount))
                .where(
                    MealSubsidy.service_day >= date(2030, 7, 1), MealSubsidy.service_day < date(2030, 8, 1)
                )
                .group_by(MealSubsidy.agreement_id)
                .order_by(MealSubsidy.agreement_id)
            ).all()
        return tuple(meals), [tuple(f) for f in funders]

    report = july_report()
    assert report[0][0] == 2
    detached = []
    try:
        with pg.engine.begin() as conn:
            would = partitions.detach_before(conn, date(2030, 7, 1), dry_run=True)
        # every month before July 2030 (today's months too, here): tables that reference first
        assert would.index("meal_subsidies_2030_06") < would.index("meals_2030_06")
        assert "meals_2030_07" not in would and "meal_subsidies_2030_07" not in would
        with pg.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM meals_2030_06")).scalar() == 1
            assert "meals_2030_06" in {p.name for p in partitions.list_partitions(conn)}  # dry run
        with pg.engine.begin() as conn:
            detached = partitions.detach_before(conn, date(2030, 7, 1))
        assert detached == would
        assert july_report() == report
        with pg.tx() as s:
            assert s.get(Meal, june["id"]) is None  # June is out of the table, in its own
        with pg.engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM meals_2030_06")).scalars().all() == [june["id"]]
            assert "meals_2030_06" not in {p.name for p in partitions.list_partitions(conn)}
    finally:
        with pg.engine.begin() as conn:  # the archive's last step: drop the detached tables
            for name in detached:
                conn.execute(text(f"DROP TABLE {name}"))


def test_constraints_still_hold_across_partitions(pg, client, clock):
    with pg.engine.begin() as conn:
        partitions.ensure_ahead(conn, date(2030, 6, 1), ahead=0)
    clock.at = LUNCH
    canteen = Canteen(pg, client)
    meal = serve(canteen, clock, LUNCH, canteen.grandma)
    copy = (
        "INSERT INTO meals (meal_point_id, diner_id, slot, service_day, mode, price, subsidy, paid, subsidized,"
        " status, served_at, served_by) SELECT meal_point_id, diner_id, slot, service_day, mode, price, subsidy,"
        " paid, subsidized, status, served_at, served_by FROM meals WHERE id = :id"
    )
    with (
        pytest.raises(IntegrityError, match=r"Key \(diner_id, service_day, slot\)"),
        pg.engine.begin() as conn,
    ):
        conn.execute(text(copy), {"id": meal["id"]})  # a second subsidized lunch the same day
    with pytest.raises(IntegrityError, match="fk_meal_subsidies_meal_id_meals"), pg.engine.begin() as conn:
        conn.execute(  # a subsidy on another day than its meal's
            text(
                "INSERT INTO meal_subsidies (meal_id, agreement_id, amount, tier, meal_point_id, diner_id,"
                " service_day, voided, held) SELECT meal_id, agreement_id, amount, tier, meal_point_id, diner_id,"
                " service_day + 1, voided, held FROM meal_subsidies WHERE meal_id = :id LIMIT 1"
            ),
            {"id": meal["id"]},
        )


def test_a_one_month_query_reads_only_that_months_partition(pg):
    with pg.engine.begin() as conn:
        partitions.ensure_ahead(conn, date(2030, 5, 1), ahead=3)
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT count(*) FROM meals WHERE meal_point_id = 1"
                    " AND service_day >= '2030-07-01' AND service_day < '2030-08-01'"
                )
            ).scalars()
        )
    scanned = {name for name in plan.replace("(", " ").split() if name.startswith("meals_")}
    assert scanned and all(name.startswith("meals_2030_07") for name in scanned), plan


def test_the_command_says_what_it_does(rt, monkeypatch):
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    runner = CliRunner()
    bad = runner.invoke(main, ["partitions", "detach", "--before", "2025-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    listed = runner.invoke(main, ["partitions", "list"])
    assert listed.exit_code == 0, listed.output
    if rt.settings.is_sqlite:
        assert "SQLite is not partitioned" in listed.output
        return
    assert "meals_default" in listed.output and "partitions" in listed.output
    assert runner.invoke(main, ["partitions", "ahead"]).exit_code == 0
    again = runner.invoke(main, ["partitions", "ahead"])
    assert again.exit_code == 0 and "新建 0 个分区 partitions made: -" in again.output
    dry = runner.invoke(main, ["partitions", "detach", "--before", "2000-01", "--dry-run"])
    assert dry.exit_code == 0 and "将分离 would detach 0 个分区 partitions" in dry.output
