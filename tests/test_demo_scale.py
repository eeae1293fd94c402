"""`linli demo --scale county|province` and the progress of long commands (规模演示数据与进度), at a
tiny size (the hidden --fraction), against the suite's database."""

import io
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import main
from cli.progress import Progress

TINY = ["--fraction", "0.01"]  # 24 organizations (3 meal points), 300 volunteers, 4 days of meals a county


@pytest.fixture
def cli_env(rt, monkeypatch):
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    return CliRunner()


def _counties(rt) -> dict[str, dict]:
    """Each county's root and what it holds: organizations, meal points, meals, and its staff."""
    from accounts.models import StaffUser
    from meals.models import Meal, MealPoint
    from orgs.models import Organization

    out = {}
    with rt.tx() as s:
        for root in s.scalars(
            select(Organization).where(Organization.parent_id.is_(None)).order_by(Organization.id)
        ):
            under = Organization.path.like(root.path + "%")
            orgs = s.scalars(select(Organization.id).where(under).order_by(Organization.id)).all()
            points = s.scalars(
                select(MealPoint.id).join(Organization, Organization.id == MealPoint.org_id).where(under)
            ).all()
            meals = s.execute(
                select(func.count(), func.min(Meal.id), func.max(Meal.id)).where(
                    Meal.meal_point_id.in_(points)
                )
            ).one()
            out[root.name] = {"id": root.id, "orgs": orgs, "points": sorted(points), "meals": tuple(meals)}
        out["staff"] = sorted(s.scalars(select(StaffUser.username)))
    return out


def _volunteers(rt) -> int:
    from volunteer.models import Volunteer

    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(Volunteer))


def test_a_province_grows_by_counties(cli_env, rt):
    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "2", *TINY])
    assert r.exit_code == 0, r.output
    two = _counties(rt)
    assert two["staff"] == ["county02_admin", "county_admin"]
    del two["staff"]
    assert list(two) == ["长沙县社会组织孵化服务基地", "浏阳市社会组织孵化服务基地"]
    first, second = two.values()
    assert first["id"] != second["id"] and not set(first["orgs"]) & set(second["orgs"])
    assert len(first["points"]) == len(second["points"]) > 0
    assert first["meals"][0] > 0 and first["meals"][2] < second["meals"][1]  # their own meals, ids apart
    assert _volunteers(rt) == 600
    assert "已加载 loaded 2 个县 counties" in r.stdout and "rows/s" in r.stdout and "per county" in r.stdout
    # the progress: lines on stderr (not a terminal), each county's ending at 100 %
    for k, name in ((1, "长沙县"), (2, "浏阳市")):
        lines = [line for line in r.stderr.splitlines() if f"县 county {k}/2 {name}" in line]
        assert lines and lines[-1].endswith(" s") and ": 100% (" in lines[-1], r.stderr
        assert any("助餐 meals" in line for line in lines)
    assert "%" not in r.stdout

    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "3", *TINY])
    assert r.exit_code == 0, r.output
    assert "loaded 1 个县 counties (宁乡市)" in r.stdout and "county03_admin" in r.stdout
    three = _counties(rt)
    assert three["staff"] == ["county02_admin", "county03_admin", "county_admin"]
    del three["staff"]
    assert list(three)[:2] == list(two) and all(three[name] == two[name] for name in two)  # unchanged
    third = three["宁乡市社会组织孵化服务基地"]
    assert third["meals"][1] > second["meals"][2] and _volunteers(rt) == 900

    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "2", *TINY])
    assert r.exit_code == 0 and "3 counties already present; nothing loaded" in r.stdout
    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "3", *TINY])
    assert r.exit_code == 0 and "nothing loaded" in r.stdout
    assert _counties(rt) == {**three, "staff": ["county02_admin", "county03_admin", "county_admin"]}


def test_county_scale_is_one_county_into_an_empty_database(cli_env, rt):
    r = cli_env.invoke(main, ["demo", "--scale", "county", *TINY])
    assert r.exit_code == 0, r.output
    assert "county_admin" in r.stdout and ": 100% (" in r.stderr.splitlines()[-1]
    assert list(_counties(rt))[:-1] == ["长沙县社会组织孵化服务基地"]
    r = cli_env.invoke(main, ["demo", "--scale", "county", *TINY])
    assert "nothing loaded" in r.stdout
    # the county grows into a province: it is the province's first county
    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "2", *TINY])
    assert r.exit_code == 0 and "(浏阳市)" in r.stdout


def test_a_province_is_not_loaded_over_other_data(cli_env, rt):
    assert cli_env.invoke(main, ["demo"]).exit_code == 0  # the small demo
    r = cli_env.invoke(main, ["demo", "--scale", "province", "--counties", "2", *TINY])
    assert r.exit_code != 0 and "holds other data" in r.output


def test_ledger_verify_shows_its_phases(cli_env, rt):
    r = cli_env.invoke(main, ["ledger", "verify"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("账本无误 ledger ok")
    lines = r.stderr.splitlines()
    assert any("转账合计 transfer sums" in line for line in lines)
    assert re.search(r"核对账本 ledger verify .*: 100% \((\d+)/\1\)", lines[-1]), r.stderr


def test_progress_lines_every_few_percent_when_not_a_terminal():
    out = io.StringIO()
    with Progress("任务 job", 200, stream=out, tty=False, every_percent=10, every_seconds=3600) as p:
        p.phase("第一步 first")
        for _ in range(150):
            p.advance()
    lines = out.getvalue().splitlines()
    percents = [int(re.search(r"(\d+)% \(", line).group(1)) for line in lines]
    assert percents == [
        0,
        0,
        *range(10, 80, 10),
        100,
    ]  # 0 at the start and the phase, the rest filled at the end
    assert lines[-1].startswith("任务 job · 第一步 first: 100% (200/200)")
