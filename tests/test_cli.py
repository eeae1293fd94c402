"""The `linli` command against the suite's database (命令行)."""

import os

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.fixtures.builders import make_county, register


@pytest.fixture
def cli_env(rt, monkeypatch):
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    return CliRunner()


def test_users_create_and_tokens_create(cli_env, client, rt):
    county = make_county(rt)
    r = cli_env.invoke(
        main,
        [
            "users",
            "create",
            "--username",
            "ops",
            "--password",
            "long-enough-pw",
            "--role",
            "admin",
            "--org",
            str(county.hub_a),
        ],
    )
    assert r.exit_code == 0, r.output
    r = cli_env.invoke(main, ["tokens", "create", "--user", "ops", "--ttl", "1h"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "ops" and me["grants"][0]["org_id"] == county.hub_a


def test_tokens_for_a_volunteer_phone(cli_env, client, rt):
    register(client, phone="13807310001")
    r = cli_env.invoke(main, ["tokens", "create", "--phone", "13807310001"])
    assert r.exit_code == 0, r.output
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.output.splitlines()[-1]}"}).json()
    assert me["kind"] == "volunteer"


def test_bad_arguments_are_clear_errors(cli_env, rt):
    r = cli_env.invoke(
        main,
        ["users", "create", "--username", "ops", "--password", "short", "--role", "admin", "--org", "999"],
    )
    assert r.exit_code != 0 and "密码" in r.output
    r = cli_env.invoke(main, ["tokens", "create"])
    assert r.exit_code != 0 and "exactly one" in r.output
    r = cli_env.invoke(main, ["tokens", "create", "--user", "nobody"])
    assert r.exit_code != 0 and "no staff user" in r.output


def test_secret_key_is_required_outside_embedded_mode(cli_env, monkeypatch):
    monkeypatch.delenv("LINLI_SECRET_KEY")
    r = cli_env.invoke(main, ["tokens", "create", "--user", "x"])
    assert r.exit_code != 0 and "LINLI_SECRET_KEY" in r.output


def test_demo_loads_a_small_county_once(cli_env, rt, client):
    r = cli_env.invoke(main, ["demo"])
    assert r.exit_code == 0, r.output
    assert "county_admin" in r.output
    teams = client.get("/api/v1/teams").json()["items"]
    assert any(t["name"] == "泉心食堂助餐志愿服务队" for t in teams)
    r = cli_env.invoke(main, ["demo"])
    assert "nothing loaded" in r.output
    assert os.environ["LINLI_DATABASE_URL"] == rt.settings.database_url


def test_the_demo_lunch_shift_covers_lunch_as_the_readme_says(cli_env, rt):
    """Before: the README's lunch shift (10:30-13:00) ended half an hour before the canteen's lunch
    (11:00-13:30), so the volunteers left while diners were still served."""
    import re
    from pathlib import Path

    from sqlalchemy import select

    from meals.models import MealPoint, MealSlot
    from volunteer.models import Shift

    assert cli_env.invoke(main, ["demo"]).exit_code == 0
    with rt.tx() as s:
        shift = s.scalars(select(Shift).where(Shift.title.like("午餐%"))).one()
        lunch = s.scalars(
            select(MealSlot).join(MealPoint).where(MealPoint.name == "泉心食堂", MealSlot.slot == "lunch")
        ).one()
    assert shift.start_time <= lunch.starts and lunch.ends <= shift.end_time
    readme = Path(__file__).parent.parent.joinpath("README.md").read_text()
    said = re.search(
        r"lunch \((\d\d:\d\d)-(\d\d:\d\d)\).*?lunch shift \((\d\d:\d\d)-(\d\d:\d\d)", readme, re.S
    )
    assert said is not None
    assert said.groups() == (lunch.starts, lunch.ends, shift.start_time, shift.end_time)
