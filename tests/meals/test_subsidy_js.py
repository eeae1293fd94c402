"""The counter's offline quote (api/static/counter_offline.js) splits a price as `meals.subsidy.split`
does: the same parts and the same refusal for random schedules, categories, caps and budgets."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from meals.subsidy import Funding, split

SCRIPT = Path(__file__).resolve().parents[2] / "api" / "static" / "counter_offline.js"
CATEGORIES = ["tekun", "dibao", "age_80_89", "living_alone"]


def tier(rng: random.Random) -> dict:
    t = {
        "categories": rng.choice([["*"], rng.sample(CATEGORIES, rng.randint(1, 2))]),
        "slots": rng.sample(["breakfast", "lunch", "dinner"], rng.randint(1, 3)),
    }
    if rng.random() < 0.5:
        t["amount"] = rng.randint(1, 1500)
    else:
        t["percent"] = rng.randint(1, 100)
        if rng.random() < 0.5:
            t["cap"] = rng.randint(0, 800)
    if rng.random() < 0.4:
        t["min_self_pay"] = rng.randint(0, 500)
    if rng.random() < 0.2:
        t["min_price"] = rng.randint(0, 1500)
    if rng.random() < 0.3:
        t["residence"] = rng.choice(["local", "other"])
    return t


def cases(n: int = 400) -> list[dict]:
    rng = random.Random(20)
    out = []
    for _ in range(n):
        fundings = [
            {
                "id": i + 1,
                "stack_order": rng.randint(0, 3),
                "schedule": [tier(rng) for _ in range(rng.randint(1, 3))],
                "budget_left": rng.choice([0, 300, 10_000_000]),
                "week_cap": rng.choice([None, 1, 3]),
                "used_this_week": rng.randint(0, 3),
                "home_point_only": rng.random() < 0.2,
                "month_cap": rng.choice([None, 2, 8]),
                "used_this_month": rng.randint(0, 8),
            }
            for i in range(rng.randint(1, 3))
        ]
        out.append(
            {
                "price": rng.randint(0, 2000),
                "categories": rng.sample(CATEGORIES, rng.randint(0, 2)),
                "slot": rng.choice(["breakfast", "lunch", "dinner"]),
                "home": rng.random() < 0.7,
                "fundings": fundings,
                "residence": rng.choice([None, "local", "other"]),
            }
        )
    return out


def test_the_offline_quote_splits_a_price_as_the_server_does(tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is needed to run the tablet's script outside a browser")
    given = cases()
    runner = tmp_path / "run.js"
    runner.write_text(
        SCRIPT.read_text()
        + "\nconst cases = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));\n"
        + "console.log(JSON.stringify(cases.map((c) => CounterOffline.split(c.price, new Set(c.categories),"
        + " c.slot, c.home, c.fundings, c.residence).slice(0, 2))));\n"
    )
    (tmp_path / "cases.json").write_text(json.dumps(given))
    out = subprocess.run(
        [node, str(runner), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(out.stdout)
    problems = set()
    for c, (parts, problem) in zip(given, got, strict=True):
        want_parts, want_problem, _ = split(
            c["price"],
            set(c["categories"]),
            c["slot"],
            c["home"],
            [Funding(**f) for f in c["fundings"]],
            c["residence"],
        )
        assert ([tuple(p) for p in parts], problem) == (want_parts, want_problem), c
        problems.add(want_problem)
    assert problems >= {
        None,
        "not_eligible",
        "budget_exhausted",
        "weekly_limit_reached",
        "other_meal_point",
        "monthly_limit_reached",
    }
