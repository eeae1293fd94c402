"""Demo data (演示数据): a small, realistic county; benchmark scale (`--scale county` and
`--scale province`) is in cli/demo_scale.py.

Names follow the county of the case report (长沙县); people are made up.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from linli.pii import id_check_char
from linli.runtime import Runtime
from orgs import service as orgs_service
from orgs.models import Organization
from volunteer import service as volunteer_service

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
    if scale == "small":
        return load_small(session, rt)
    from cli.demo_scale import load_county

    return load_county(session, rt)


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
    counter = _canteen(session, rt, assoc.id, partner.id, now)
    venue = orgs_service.create_station(
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
    from volunteer import activities

    shift = activities.create_shift(
        session,
        org_id=assoc.id,
        station_id=counter.id,
        title="午餐助餐服务 Lunch service",
        kind="meal_service",
        weekdays="1234567",
        start_time="10:30",  # half an hour to set up before lunch (11:00-13:30), and to its end
        end_time="13:30",
        capacity=8,
        admin_paths=[base.path],
        now=now,
    )
    today = now.astimezone(rt.settings.tz).date()
    activities.generate_shift_activities(session, shift, tz=rt.settings.tz, first_day=today, days=14, now=now)
    # the case report's clash: the dragon-boat club holds the shared centre tomorrow afternoon, so the
    # association's class booked there at that time is refused (the admin page says by whom)
    tomorrow = today + timedelta(days=1)
    activities.create(
        session,
        activities.ActivityInput(
            dragon.id,
            venue.id,
            "龙舟赛志愿者培训 Dragon-boat race volunteer training",
            "other",
            datetime.combine(tomorrow, time(14, 30), rt.settings.tz),
            datetime.combine(tomorrow, time(16, 30), rt.settings.tz),
            40,
            description="赛道引导、补给站和安全员分工 Course guides, supply points and safety roles",
        ),
        admin_paths=[base.path],
        created_by=None,
        now=now,
    )
    session.flush()
    return [
        *[(role, username, DEMO_PASSWORD) for username, role, _, _ in staff],
        ("volunteer", "13807310000", "验证码见 code at /demo/codes"),
    ]


def _canteen(session: Session, rt: Runtime, org_id: int, partner_id: int, now: datetime):
    """泉心食堂: a meal point (its counter is the station the demo coordinator is bound to) with three
    slots, the county's tiered subsidy and the partner's 2 yuan, and a few diners; their cards are
    printed from the admin pages (长者 → 长者卡)."""
    from meals import service as meal_service

    point = meal_service.create_meal_point(
        session,
        org_id=org_id,
        name="泉心食堂",
        address="泉塘街道泉心路1号",
        daily_capacity=300,
        slots=[
            meal_service.SlotInput("breakfast", "07:00", "09:00", 800),
            meal_service.SlotInput("lunch", "11:00", "13:30", 1200),
            meal_service.SlotInput("dinner", "17:00", "20:00", 1200),
        ],
        now=now,
    )
    today = now.astimezone(rt.settings.tz).date()
    for name, kind, order, schedule, partner in (
        ("县民政助餐补贴", "government", 1, COUNTY_TIERS, None),
        (
            "泉心社会企业助餐补贴",
            "enterprise",
            2,
            [{"categories": ["*"], "slots": ["lunch", "dinner"], "amount": 200, "min_self_pay": 100}],
            partner_id,
        ),
    ):
        meal_service.create_agreement(
            session,
            meal_service.AgreementInput(
                name=name,
                funder_kind=kind,
                stack_order=order,
                starts_on=today - timedelta(days=60),
                ends_on=today + timedelta(days=365),
                budget_cap=50_000_000,
                schedule=schedule,
                meal_point_ids=[point.id],
                partner_id=partner,
            ),
            now,
        )
    for i, (name, born, categories, notes, allergies) in enumerate(
        (
            ("王桂英", 1942, ("tekun",), "低盐", "花生"),
            ("李国华", 1950, ("dibao",), "软食", ""),
            ("张秀兰", 1938, (), "", "海鲜"),
            ("陈德胜", 1958, (), "少油", ""),
        )
    ):
        first17 = f"430121{born}{i + 3:02d}{10 + i:02d}{101 + i:03d}"
        meal_service.register_diner(
            session,
            rt.signer,
            meal_service.DinerInput(
                name=name,
                birth_date=date(born, i + 3, 10 + i),
                community="泉塘社区",
                id_number=first17 + id_check_char(first17),
                home_point_id=point.id,
                consent=True,
                dietary_notes=notes,
                allergies=allergies,
                categories=categories,
            ),
            created_by=None,
            now=now,
            today=today,
        )
    return orgs_service.get_station(session, point.station_id)


COUNTY_TIERS = [
    {"categories": ["tekun"], "slots": ["lunch", "dinner"], "amount": 1100},
    {"categories": ["dibao"], "slots": ["lunch", "dinner"], "amount": 900},
    {"categories": ["age_80_89", "age_90_plus"], "slots": ["lunch", "dinner"], "amount": 700},
]
