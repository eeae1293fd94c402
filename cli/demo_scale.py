"""Demo data at benchmark scale (规模演示数据): `linli demo --scale county` (one county: 18 hubs,
1,184 organizations, 30,000 volunteers, 148 meal points, a year of meals, about 1.3 million) and
`linli demo --scale province --counties N` (N such counties, each with its own base organization,
hubs, meal points, partners, volunteers and year of meals; ids never collide). Run again with a
larger N, the province grows by the missing counties; each county is loaded and committed in its
own transaction, so a stopped load keeps the whole counties it finished.

The county's rows are bulk inserted with their ids given; the organizations, meal points and
agreements go through the services. A hidden `--fraction` (tests) shrinks each county: its
organizations, volunteers and days of meals.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from cli.demo import COUNTY_TIERS, DEMO_PASSWORD, GIVEN, SURNAMES
from linli import partitions
from linli.runtime import Runtime
from linli.settings import TERMS_VERSION
from orgs import service as orgs_service
from orgs.models import Organization
from volunteer.models import Filing, FilingDecision, Volunteer

# the province's counties, in loading order (湖南省); past the list, 第N县
COUNTIES = [
    "长沙县", "浏阳市", "宁乡市", "望城区", "湘潭县", "湘乡市", "韶山市", "醴陵市", "攸县", "茶陵县",
    "炎陵县", "衡阳县", "衡南县", "衡山县", "衡东县", "祁东县", "耒阳市", "常宁市", "邵东市", "新邵县",
]  # fmt: skip
ORGANIZATIONS, VOLUNTEERS, DAYS, HUBS = 1184, 30_000, 365, 18
CHUNK = 5000
PARTNERS = ("泉心社会企业", "星沙爱心餐饮", "湘龙养老服务公司")


class _Silent:
    def phase(self, name: str) -> None: ...
    def advance(self, steps: int = 1) -> None: ...


@dataclass
class County:
    """The names of the k-th county (k from 1). The first is exactly `--scale county`'s county."""

    k: int

    @property
    def name(self) -> str:
        return COUNTIES[self.k - 1] if self.k <= len(COUNTIES) else f"第{self.k}县"

    @property
    def prefix(self) -> str:  # the first county's names stay as `--scale county` has always made them
        return "" if self.k == 1 else self.name

    @property
    def base(self) -> str:
        return f"{self.name}社会组织孵化服务基地"

    @property
    def admin(self) -> str:
        return "county_admin" if self.k == 1 else f"county{self.k:02d}_admin"

    def phone(self, i: int) -> str:
        return f"139{(self.k - 1) * 1_000_000 + i:08d}"


@dataclass
class Loaded:
    """What a run loaded: counties, rows by table, seconds in all and by county."""

    counties: list[str] = field(default_factory=list)
    existing: int = 0
    rows: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def report(self) -> list[str]:
        total_s = sum(self.seconds) or 1e-9
        lines = [
            f"已加载 loaded {len(self.counties)} 个县 counties ({', '.join(self.counties)}) in "
            f"{total_s:.0f} s: {total_s / len(self.counties):.0f} s 每县 per county"
            + (f" ({', '.join(f'{x:.0f}' for x in self.seconds)} s)" if len(self.seconds) > 1 else ""),
            f"  合计 total {sum(self.rows.values()):,} rows, {sum(self.rows.values()) / total_s:,.0f} rows/s",
        ]
        lines += [f"  {table:<16} {n:>12,} rows" for table, n in self.rows.most_common()]
        return lines


def existing_counties(session: Session) -> int:
    """How many counties of ours the database holds (0 when empty). Raises ValueError when it holds
    other data (the small demo, or a real deployment's)."""
    if not session.scalar(select(func.count()).select_from(Organization)):
        return 0
    roots = session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.parent_id.is_(None))
        .order_by(Organization.id)
    ).all()
    for k, (root_id, name) in enumerate(roots, start=1):
        county = County(k)
        hub = session.scalar(
            select(func.count())
            .select_from(Organization)
            .where(Organization.parent_id == root_id, Organization.name == f"{county.prefix}第1枢纽服务中心")
        )
        if name != county.base or not hub:
            raise ValueError(name)
    return len(roots)


def load_counties(
    rt: Runtime,
    counties: int,
    *,
    fraction: float = 1.0,
    progress: Callable[[str, int], object] | None = None,
    only_if_empty: bool = False,
) -> Loaded:
    """Load counties until there are `counties` (each in its own transaction). `progress(label,
    total)` makes the progress display of one county (cli.progress.Progress)."""
    loaded = Loaded()
    with rt.tx() as session:
        if only_if_empty and session.scalar(select(func.count()).select_from(Organization)):
            return loaded  # `--scale county` loads into an empty database only, as it always has
        loaded.existing = existing_counties(session)
    organizations = max(24, round(ORGANIZATIONS * fraction))  # a meal point for each partner
    volunteers = max(3, round(VOLUNTEERS * fraction))
    days = max(1, round(DAYS * fraction))
    for k in range(loaded.existing + 1, counties + 1):
        county = County(k)
        label = f"演示数据 demo 县 county {k}/{counties} {county.name}"
        display = progress(label, steps(organizations, volunteers, days)) if progress else _Silent()
        started = time.perf_counter()
        with rt.tx() as session:
            loaded.logins += load_county(
                session,
                rt,
                volunteers=volunteers,
                days=days,
                organizations=organizations,
                county=county,
                progress=display,
                rows=loaded.rows,
            )
        if hasattr(display, "finish"):
            display.finish()
        loaded.seconds.append(time.perf_counter() - started)
        loaded.counties.append(county.name)
    return loaded


# a county's progress steps, weighed by the time they take (about 10 ms a unit, measured): an
# organization (through the services), a chunk of bulk rows, the diners, a day of meals, ANALYZE
W_ORG, W_CHUNK, W_DINERS, W_DAY, W_STATS = 1, 30, 100, 100, 300


def steps(organizations: int, volunteers: int, days: int) -> int:
    """The progress units of one county."""
    chunks = math.ceil(volunteers / CHUNK) + 2 * math.ceil(math.ceil(volunteers / 3) / CHUNK)
    return organizations * W_ORG + chunks * W_CHUNK + W_DINERS + days * W_DAY + W_STATS


def load_county(
    session: Session,
    rt: Runtime,
    volunteers: int = VOLUNTEERS,
    days: int = DAYS,
    *,
    organizations: int = ORGANIZATIONS,
    county: County | None = None,
    progress=None,
    rows: Counter | None = None,
) -> list[tuple[str, str, str]]:
    """Benchmark scale: 18 hubs, 1,184 community organizations with a team each, tens of thousands
    of volunteers (bulk inserted; no ID numbers), a third of them filed with a team, and `days` of
    meals (a test asks for fewer). `county`: which of the province's counties (the first if not
    given); `rows` counts the rows inserted, by table."""
    county = county or County(1)
    progress = progress or _Silent()
    rows = rows if rows is not None else Counter()
    now = rt.clock.now()
    rng = random.Random(1184 * county.k)
    progress.phase("组织 organizations")
    base = orgs_service.create_root(session, name=county.base, now=now)
    hubs = [
        orgs_service.create_child(
            session, parent_id=base.id, name=f"{county.prefix}第{i + 1}枢纽服务中心", join_mode=None, now=now
        )
        for i in range(min(HUBS, organizations))
    ]
    teams = []
    for i in range(organizations):
        org = orgs_service.create_child(
            session,
            parent_id=hubs[i % len(hubs)].id,
            name=f"{county.prefix}社区社会组织{i + 1:04d}",
            join_mode=None,
            now=now,
        )
        mode = ("open", "approval", "approval", "invitation")[i % 4]
        teams.append(
            orgs_service.create_child(
                session,
                parent_id=org.id,
                name=f"{county.prefix}志愿服务队{i + 1:04d}",
                join_mode=mode,
                now=now,
            )
        )
        progress.advance(W_ORG)
    rows["organizations"] += 1 + len(hubs) + 2 * organizations
    accounts_service.create_staff_user(
        session, username=county.admin, password=DEMO_PASSWORD, role="admin", org_id=base.id, now=now
    )
    progress.phase("志愿者 volunteers")
    before = session.scalar(select(func.max(Volunteer.id))) or 0
    people = [
        {
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
            "phone": county.phone(i),
            "consent_terms_version": TERMS_VERSION,
            "consented_at": now,
            "created_at": now,
        }
        for i in range(volunteers)
    ]
    _insert(session, Volunteer, people, progress, rows)
    ids = list(session.scalars(select(Volunteer.id).where(Volunteer.id > before).order_by(Volunteer.id)))
    progress.phase("备案 filings")
    before = session.scalar(select(func.max(Filing.id))) or 0
    filings = [
        {
            "volunteer_id": vid,
            "team_id": teams[vid % len(teams)].id,
            "status": "approved",
            "created_at": now,
            "decided_at": now,
        }
        for vid in ids[::3]
    ]
    _insert(session, Filing, filings, progress, rows)
    filing_ids = list(session.scalars(select(Filing.id).where(Filing.id > before)))
    decisions = [
        {
            "filing_id": fid,
            "decision": "approved",
            "decided_by": None,
            "reason": "演示数据 demo",
            "decided_at": now,
        }
        for fid in filing_ids
    ]
    _insert(session, FilingDecision, decisions, progress, rows)
    county_meals(
        session, rt, [o.parent_id for o in teams], rng, days=days, county=county, progress=progress, rows=rows
    )
    return [("admin", county.admin, DEMO_PASSWORD)]


def _insert(session: Session, model, items: list[dict], progress, rows: Counter) -> None:
    for chunk in range(0, len(items), CHUNK):
        session.execute(insert(model), items[chunk : chunk + CHUNK])
        progress.advance(W_CHUNK)
    rows[model.__tablename__] += len(items)


def _bulk(session: Session, model, items: list[dict]) -> None:
    """Insert rows of plain values (ids given). On PostgreSQL by COPY: a day of a county's meals and
    subsidies (about 8,500 rows) in a fraction of the time a multi-row INSERT takes in Python."""
    if not items:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model), items)
        return
    session.flush()  # what the services added goes first: the rows refer to it
    columns = list(items[0])
    conn = session.connection().connection.driver_connection  # the session's transaction
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for item in items:
            copy.write_row([item[c] for c in columns])


def county_meals(
    session: Session,
    rt: Runtime,
    org_ids: list[int],
    rng: random.Random,
    diners_each: int = 40,
    days: int = DAYS,
    *,
    county: County | None = None,
    progress=None,
    rows: Counter | None = None,
) -> int:
    """A year of lunches at county scale (bulk inserted, ids given after those already there): a
    meal point for every eighth organization, 40 diners each, each eating on about 60% of days; the
    county pays by tier at every point, and three partner enterprises each fund a third of the
    points (2 yuan, at least 1 yuan paid by the diner). Returns the number of meals."""
    from meals import service as meal_service
    from meals.models import Diner, FundingAgreement, Meal, MealSubsidy

    county = county or County(1)
    progress = progress or _Silent()
    rows = rows if rows is not None else Counter()
    progress.phase("助餐点 meal points")
    now = rt.clock.now()
    today = now.astimezone(rt.settings.tz).date()
    first = today - timedelta(days=days)
    partitions.ensure_months(session.connection(), first, today)  # PostgreSQL: the year's months
    points = [
        meal_service.create_meal_point(
            session,
            org_id=org_id,
            name=f"{county.prefix}社区助餐点{i + 1:03d}",
            address=f"{county.name}助餐路{i + 1}号",
            daily_capacity=300,
            slots=[meal_service.SlotInput("lunch", "11:00", "13:30", 1200)],
            now=now,
        ).id
        for i, org_id in enumerate(org_ids[::8])
    ]
    rows["meal_points"] += len(points)
    partners = [
        orgs_service.create_partner(session, name=f"{county.prefix}{name}", now=now).id for name in PARTNERS
    ]
    government = meal_service.create_agreement(
        session,
        meal_service.AgreementInput(
            name=f"{county.prefix or '县'}民政助餐补贴",
            funder_kind="government",
            stack_order=1,
            starts_on=first,
            ends_on=today + timedelta(days=365),
            budget_cap=10**11,
            schedule=COUNTY_TIERS,
            meal_point_ids=points,
        ),
        now,
    ).id
    enterprise = {}
    for n, partner_id in enumerate(partners):
        agreement = meal_service.create_agreement(
            session,
            meal_service.AgreementInput(
                name=f"{county.prefix}企业助餐补贴{n + 1}",
                funder_kind="enterprise",
                stack_order=2,
                starts_on=first,
                ends_on=today + timedelta(days=365),
                budget_cap=10**11,
                schedule=[{"categories": ["*"], "slots": ["lunch"], "amount": 200, "min_self_pay": 100}],
                meal_point_ids=points[n::3],
                partner_id=partner_id,
            ),
            now,
        ).id
        enterprise |= dict.fromkeys(points[n::3], agreement)
    diner_id = session.scalar(select(func.max(Diner.id))) or 0
    meal_id = session.scalar(select(func.max(Meal.id))) or 0
    subsidy_id = session.scalar(select(func.max(MealSubsidy.id))) or 0
    first_meal = meal_id
    diners = []
    for point in points:
        for _ in range(diners_each):
            diner_id += 1
            kind = rng.random()
            categories = ["tekun"] if kind < 0.1 else ["dibao"] if kind < 0.3 else []
            diners.append(
                {
                    "id": diner_id,
                    "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
                    "birth_date": date(1930 + rng.randrange(30), 1 + rng.randrange(12), 1),
                    "community": f"社区{point}",
                    "id_hash": f"demo${diner_id}",
                    "id_last4": f"{diner_id % 10000:04d}",
                    "consent_by": "self",
                    "consented_at": now,
                    "dietary_notes": "",
                    "allergies": "",
                    "categories": categories,
                    "home_point_id": point,
                    "delivery": False,
                    "card_version": 1,
                    "created_at": now,
                }
            )
    session.execute(insert(Diner), diners)
    rows["diners"] += len(diners)
    progress.advance(W_DINERS)
    progress.phase("助餐 meals")
    tier_of = {"tekun": (1100, "tekun"), "dibao": (900, "dibao")}
    used = {government: 0, **dict.fromkeys(enterprise.values(), 0)}
    for offset in range(days):
        day = first + timedelta(days=offset)
        served_at = datetime.combine(day, clock_time(11, 40), rt.settings.tz).astimezone(UTC)
        meals, parts = [], []
        for d in diners:
            if rng.random() >= 0.6:
                continue
            meal_id += 1
            age = day.year - d["birth_date"].year
            amount, tier = tier_of.get(
                (d["categories"] or [""])[0], (700, "age_80_89+age_90_plus") if age >= 80 else (0, "")
            )
            split = [(government, amount, tier)] if amount else []
            left = 1200 - amount
            part = min(200, left - 100)
            if part > 0:
                split.append((enterprise[d["home_point_id"]], part, "*"))
            subsidy = sum(a for _, a, _ in split)
            meals.append(
                {
                    "id": meal_id,
                    "meal_point_id": d["home_point_id"],
                    "diner_id": d["id"],
                    "slot": "lunch",
                    "service_day": day,
                    "mode": "dine_in",
                    "price": 1200,
                    "subsidy": subsidy,
                    "paid": 1200 - subsidy,
                    "subsidized": bool(split),
                    "status": "served",
                    "served_at": served_at,
                    "served_by": "demo",
                }
            )
            for agreement, a, tier in split:
                subsidy_id += 1
                used[agreement] += a
                parts.append(
                    {
                        "id": subsidy_id,
                        "meal_id": meal_id,
                        "agreement_id": agreement,
                        "amount": a,
                        "tier": tier,
                        "meal_point_id": d["home_point_id"],
                        "diner_id": d["id"],
                        "service_day": day,
                        "voided": False,
                    }
                )
        _bulk(session, Meal, meals)
        _bulk(session, MealSubsidy, parts)
        rows["meals"] += len(meals)
        rows["meal_subsidies"] += len(parts)
        progress.advance(W_DAY)
    for agreement, amount in used.items():
        session.get(FundingAgreement, agreement).budget_used = amount
    progress.phase("统计 statistics")
    if session.get_bind().dialect.name == "postgresql":  # ids were given: move the sequences on
        for table in ("diners", "meals", "meal_subsidies"):
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
        session.execute(text("ANALYZE diners, meals, meal_subsidies"))  # bulk loaded: plans need statistics
    session.flush()
    progress.advance(W_STATS)
    return meal_id - first_meal
