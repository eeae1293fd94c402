"""Demo data (演示数据): a small, realistic county; or benchmark scale with `--scale county`.

Names follow the county of the case report (长沙县); people are made up.
"""

from __future__ import annotations

import random

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from linli.pii import id_check_char
from linli.runtime import Runtime
from linli.settings import TERMS_VERSION
from orgs import service as orgs_service
from orgs.models import Organization
from volunteer import service as volunteer_service
from volunteer.models import Filing, FilingDecision, Volunteer

DEMO_PASSWORD = "linli-demo-2026"

HUBS = ["泉塘街道", "星沙街道", "湘龙街道", "榔梨街道", "黄兴镇", "江背镇"]
VOLUNTEERS = [
    "王秀英",
    "李建国",
    "张桂兰",
    "刘志强",
    "陈丽华",
    "杨明",
    "赵淑珍",
    "黄伟",
    "周晓燕",
    "吴海涛",
    "阿依古丽·买买提",
    "欧阳娜娜",
    "司马亮",
    "扎西·多吉",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
GIVEN = "秀英桂兰建国志强丽华明淑珍伟晓燕海涛红梅国华玉兰文军小平德胜春花金凤永忠雪梅建华海燕立新凤英"


def load_if_empty(session: Session, rt: Runtime, scale: str = "small") -> list[tuple[str, str, str]]:
    if session.scalar(select(func.count()).select_from(Organization)):
        return []
    return load_small(session, rt) if scale == "small" else load_county(session, rt)


def load_small(session: Session, rt: Runtime) -> list[tuple[str, str, str]]:
    now = rt.clock.now()
    base = orgs_service.create_root(session, name="长沙县社会组织孵化服务基地", now=now)
    hubs = {
        name: orgs_service.create_child(
            session, parent_id=base.id, name=f"{name}枢纽型社区社会组织服务中心", join_mode=None, now=now
        )
        for name in HUBS
    }
    quantang = hubs["泉塘街道"]
    assoc = orgs_service.create_child(
        session, parent_id=quantang.id, name="泉塘社区志愿者协会", join_mode=None, now=now
    )
    dragon = orgs_service.create_child(
        session, parent_id=quantang.id, name="泉塘龙舟协会", join_mode=None, now=now
    )
    meal_team = orgs_service.create_child(
        session, parent_id=assoc.id, name="泉心食堂助餐志愿服务队", join_mode="approval", now=now
    )
    orgs_service.create_child(session, parent_id=dragon.id, name="龙舟志愿服务队", join_mode="open", now=now)
    orgs_service.create_child(
        session, parent_id=assoc.id, name="周末课堂志愿服务队", join_mode="invitation", now=now
    )
    xingsha_org = orgs_service.create_child(
        session, parent_id=hubs["星沙街道"].id, name="星沙邻里互助会", join_mode=None, now=now
    )
    orgs_service.create_child(
        session, parent_id=xingsha_org.id, name="星沙助老志愿服务队", join_mode="approval", now=now
    )
    partner = orgs_service.create_partner(session, name="泉心社会企业", now=now)
    counter = orgs_service.create_station(
        session, org_id=assoc.id, name="泉心食堂取餐台", kind="counter", shared=False, now=now
    )
    orgs_service.create_station(
        session, org_id=quantang.id, name="泉塘社区活动中心", kind="venue", shared=True, now=now
    )

    staff = [
        ("county_admin", "admin", {"org_id": base.id}, "县基地管理员"),
        ("quantang_admin", "admin", {"org_id": quantang.id}, "泉塘枢纽管理员"),
        ("quanxin_counter", "coordinator", {"org_id": assoc.id, "station_id": counter.id}, "泉心食堂协调员"),
        ("quanxin_partner", "partner", {"partner_id": partner.id}, "泉心社会企业"),
    ]
    for username, role, scope, display in staff:
        accounts_service.create_staff_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=display,
            now=now,
            **scope,
        )

    from points import shop

    for name, price, stock, limit in (
        ("大米5斤 Rice, 2.5 kg", 200, 30, 1),
        ("食用油1桶 Cooking oil", 300, 20, 1),
        ("洗衣液 Laundry liquid", 120, 50, 2),
        ("爱心理发券 Haircut voucher", 80, 100, 0),
    ):
        shop.create_item(
            session,
            quantang.id,
            shop.ItemInput(
                name=name, price=price, stock=stock, per_volunteer_limit=limit, limit_period="month"
            ),
            now,
        )

    rng = random.Random(7)
    for i, name in enumerate(VOLUNTEERS):
        first17 = f"430121{1950 + i * 3}{(i % 12) + 1:02d}{(i % 27) + 1:02d}{rng.randrange(100, 999)}"
        reg = volunteer_service.Registration(
            name=name, phone=f"1380731{i:04d}", id_number=first17 + id_check_char(first17), consent=True
        )
        v = volunteer_service.register(session, rt.signer, reg, now=now, today=now.date())
        if i < 8:
            volunteer_service.apply(session, volunteer_id=v.id, team_id=meal_team.id, now=now)
    session.flush()
    return [
        *[(role, username, DEMO_PASSWORD) for username, role, _, _ in staff],
        ("volunteer", "13807310000", "验证码见 code at /demo/codes"),
    ]


def load_county(session: Session, rt: Runtime, volunteers: int = 30_000) -> list[tuple[str, str, str]]:
    """Benchmark scale: 18 hubs, 1,184 community organizations with a team each, tens of thousands
    of volunteers (bulk inserted; no ID numbers), a third of them filed with a team."""
    now = rt.clock.now()
    rng = random.Random(1184)
    base = orgs_service.create_root(session, name="长沙县社会组织孵化服务基地", now=now)
    hubs = [
        orgs_service.create_child(
            session, parent_id=base.id, name=f"第{i + 1}枢纽服务中心", join_mode=None, now=now
        )
        for i in range(18)
    ]
    teams = []
    for i in range(1184):
        org = orgs_service.create_child(
            session, parent_id=hubs[i % 18].id, name=f"社区社会组织{i + 1:04d}", join_mode=None, now=now
        )
        mode = ("open", "approval", "approval", "invitation")[i % 4]
        teams.append(
            orgs_service.create_child(
                session, parent_id=org.id, name=f"志愿服务队{i + 1:04d}", join_mode=mode, now=now
            )
        )
    accounts_service.create_staff_user(
        session, username="county_admin", password=DEMO_PASSWORD, role="admin", org_id=base.id, now=now
    )
    rows = [
        {
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
            "phone": f"139{i:08d}",
            "consent_terms_version": TERMS_VERSION,
            "consented_at": now,
            "created_at": now,
        }
        for i in range(volunteers)
    ]
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Volunteer), rows[chunk : chunk + 5000])
    ids = list(session.scalars(select(Volunteer.id).order_by(Volunteer.id)))
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
    for chunk in range(0, len(filings), 5000):
        session.execute(insert(Filing), filings[chunk : chunk + 5000])
    filing_ids = list(session.scalars(select(Filing.id)))
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
    for chunk in range(0, len(decisions), 5000):
        session.execute(insert(FilingDecision), decisions[chunk : chunk + 5000])
    return [("admin", "county_admin", DEMO_PASSWORD)]
