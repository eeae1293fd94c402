"""Rounds (微创投轮次): a hub or the county base opens one with its funders, call period, review
criteria and limits; its state moves call → review → notice → granted. The state the answers show
is the effective one: a call whose closing time has passed is in review. When the public notice
has ended, approved proposals become projects (`take_effect`: lazily on reading a round or a
project, and every 15 minutes from `workers.cron`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from grants import repository_rounds as repo
from grants.models import FUNDER_KINDS, GrantRound, Project, RoundFunder
from linli import scope
from linli.bounds import plausible
from linli.errors import FieldError, invalid, not_found
from meals import service as meals_service
from orgs import service as orgs_service

NAME_MAX = 100
CRITERIA_MAX = 10
CRITERION_NAME_MAX = 50
NOTICE_DAYS = (1, 60)
FUNDERS_MAX = 20
AMOUNT_MAX = 10**12  # fen: ten billion yuan, more than any round
GRANTS_MAX = 1000


@dataclass
class FunderInput:
    kind: str
    name: str
    amount: int  # fen
    partner_id: int | None = None


@dataclass
class RoundInput:
    org_id: int
    name: str
    call_opens_at: datetime
    call_closes_at: datetime
    criteria: list[dict]  # [{"name": ..., "weight": ...}]
    funders: list[FunderInput] = field(default_factory=list)
    description: str = ""
    max_grants: int | None = None
    total_limit: int | None = None
    grant_limit: int | None = None
    notice_days: int = 7


def _fen(value, name: str, errors: list[FieldError]) -> None:
    if value is not None and not 1 <= value <= AMOUNT_MAX:
        errors.append(
            FieldError(name, "out_of_range", "金额应为1分到1百亿元 An amount of 1 fen to 10^12 fen")
        )


def _criteria_errors(criteria: list[dict]) -> list[FieldError]:
    if not 1 <= len(criteria) <= CRITERIA_MAX:
        return [FieldError("criteria", "length", "评审标准应有1到10项 1 to 10 criteria")]
    errors = []
    names = [str(c.get("name", "")).strip() for c in criteria]
    for i, (name, c) in enumerate(zip(names, criteria, strict=True)):
        if not 1 <= len(name) <= CRITERION_NAME_MAX:
            errors.append(
                FieldError(f"criteria[{i}].name", "length", "标准名称1到50字 A name of 1 to 50 characters")
            )
        weight = c.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            errors.append(
                FieldError(f"criteria[{i}].weight", "out_of_range", "权重应为1到100 A weight of 1 to 100")
            )
    if len(set(names)) != len(names):
        errors.append(FieldError("criteria", "duplicate", "标准名称不能重复 Criteria need different names"))
    if not errors and sum(c["weight"] for c in criteria) != 100:
        errors.append(FieldError("criteria", "weights_sum", "权重之和应为100 The weights must sum to 100"))
    return errors


def open_round(
    session: Session, data: RoundInput, *, admin_paths: list[str], staff_user_id: int, now: datetime
):
    """A hub admin (or the county base's) opens a round; every mistake is told at once, nothing written."""
    org = orgs_service.find(session, data.org_id)
    if org is None:
        raise invalid([FieldError("org_id", "not_found", "组织不存在 Organization not found")])
    scope.require(admin_paths, org.path, "您无权为该组织开设微创投 Not your hub")
    for f in data.funders[:FUNDERS_MAX]:  # a funder reads the round's report: the meal agreements' rule
        if f.partner_id is not None:
            meals_service.require_partner_linkable(session, admin_paths, f.partner_id)
    errors = []
    if org.kind not in ("base", "hub"):
        errors.append(
            FieldError(
                "org_id",
                "not_a_hub",
                "只有枢纽或县基地可开设微创投 Only a hub or the county base opens a round",
            )
        )
    if not 1 <= len(data.name.strip()) <= NAME_MAX:
        errors.append(FieldError("name", "length", "名称1到100字 A name of 1 to 100 characters"))
    if not (plausible(data.call_opens_at) and plausible(data.call_closes_at)):
        errors.append(
            FieldError("call_closes_at", "implausible", "时间应带时区 Times with a zone, 2000 to 2100")
        )
    elif data.call_closes_at <= data.call_opens_at:
        errors.append(
            FieldError(
                "call_closes_at",
                "before_opening",
                "截止时间应晚于开始时间 The call must close after it opens",
            )
        )
    errors += _criteria_errors(data.criteria)
    if not data.funders:
        errors.append(FieldError("funders", "no_funders", "至少填写一个资助方 At least one funder"))
    elif len(data.funders) > FUNDERS_MAX:
        errors.append(FieldError("funders", "length", "资助方最多20个 At most 20 funders"))
    for i, f in enumerate(data.funders[:FUNDERS_MAX]):
        if f.kind not in FUNDER_KINDS:
            errors.append(
                FieldError(
                    f"funders[{i}].kind", "invalid_choice", "资助方类型 government、enterprise 或 charity"
                )
            )
        if not 1 <= len(f.name.strip()) <= NAME_MAX:
            errors.append(
                FieldError(f"funders[{i}].name", "length", "名称1到100字 A name of 1 to 100 characters")
            )
        _fen(f.amount, f"funders[{i}].amount", errors)
    for name in ("total_limit", "grant_limit"):
        _fen(getattr(data, name), name, errors)
    if data.max_grants is not None and not 1 <= data.max_grants <= GRANTS_MAX:
        errors.append(FieldError("max_grants", "out_of_range", "资助数量1到1000 1 to 1000 grants"))
    if data.max_grants is None and data.total_limit is None:
        errors.append(
            FieldError(
                "max_grants", "no_limit", "请填写资助数量或总额上限 Say how many grants or their total"
            )
        )
    funds = sum(f.amount for f in data.funders if 1 <= f.amount <= AMOUNT_MAX)
    if data.total_limit is not None and data.funders and data.total_limit > funds:
        errors.append(
            FieldError("total_limit", "over_funds", "总额超过资助方资金 More than the funders give")
        )
    if not NOTICE_DAYS[0] <= data.notice_days <= NOTICE_DAYS[1]:
        errors.append(FieldError("notice_days", "out_of_range", "公示期1到60天 1 to 60 days"))
    if errors:
        raise invalid(errors)
    row = repo.add(
        session,
        GrantRound(
            org_id=org.id,
            name=data.name.strip(),
            description=data.description,
            call_opens_at=data.call_opens_at,
            call_closes_at=data.call_closes_at,
            criteria=[{"name": c["name"].strip(), "weight": c["weight"]} for c in data.criteria],
            max_grants=data.max_grants,
            total_limit=data.total_limit,
            grant_limit=data.grant_limit,
            notice_days=data.notice_days,
            state="call",
            created_by=staff_user_id,
            created_at=now,
        ),
    )
    for f in data.funders:
        session.add(
            RoundFunder(
                round_id=row.id, partner_id=f.partner_id, kind=f.kind, name=f.name.strip(), amount=f.amount
            )
        )
    session.flush()
    return row


def state_of(row: GrantRound, now: datetime) -> str:
    """The effective state: a call whose closing time has passed is in review."""
    if row.state == "call" and now >= row.call_closes_at:
        return "review"
    return row.state


def get(session: Session, round_id: int, *, for_update: bool = False) -> GrantRound:
    row = repo.round_(session, round_id, for_update=for_update)
    if row is None:
        raise not_found("轮次 Round", "round_not_found")
    return row


def org_path(session: Session, row: GrantRound) -> str:
    return orgs_service.get(session, row.org_id).path


def require_hub_admin(session: Session, row: GrantRound, admin_paths: list[str]) -> str:
    """403 unless an admin over the round's hub; returns the hub's path."""
    path = org_path(session, row)
    scope.require(admin_paths, path, "只有本轮的枢纽管理员可以操作 Only the round's hub admins")
    return path


def is_reviewer(session: Session, round_id: int, staff_user_id: int | None) -> bool:
    return staff_user_id is not None and repo.reviewer(session, round_id, staff_user_id) is not None


def visible(
    session: Session,
    round_id: int,
    *,
    staff_paths: list[str],
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
) -> GrantRound:
    """A round for its hub's staff, for admins of organizations that may apply, for its reviewers
    (404 for anyone else: a round is not told to who cannot see it)."""
    row = get(session, round_id)
    path = org_path(session, row)
    if not (
        scope.covers(staff_paths, path)
        or any(scope.covers([path], p) for p in admin_paths)
        or is_reviewer(session, round_id, staff_user_id)
    ):
        raise not_found("轮次 Round", "round_not_found")
    take_effect_of(session, row, now)
    return row


def listing(session: Session, *, staff_paths: list[str], staff_user_id: int, after_id: int, limit: int):
    return repo.rounds_for(session, staff_paths, staff_user_id, after_id=after_id, limit=limit)


def funders(session: Session, round_id: int) -> list[RoundFunder]:
    return repo.funders(session, round_id)


def take_effect_of(session: Session, row: GrantRound, now: datetime) -> int:
    """After the notice: each approved proposal becomes a project (once), the round granted."""
    if row.state != "notice" or row.notice_ends_at is None or row.notice_ends_at > now:
        return 0
    made = 0
    for p in repo.approved(session, row.id):
        if repo.project_of(session, p.id) is None:
            session.add(
                Project(
                    round_id=row.id,
                    proposal_id=p.id,
                    org_id=p.org_id,
                    title=p.title,
                    granted=p.decided_amount,
                    starts_on=p.starts_on,
                    ends_on=p.ends_on,
                    status="active",
                    created_at=now,
                )
            )
            made += 1
    row.state = "granted"
    session.flush()
    return made


def take_effect(session: Session, now: datetime) -> int:
    """Every round whose notice has ended (the periodic job): how many projects were made."""
    return sum(take_effect_of(session, row, now) for row in repo.notices_ended(session, now))


def project(session: Session, project_id: int, *, staff_paths: list[str], now: datetime) -> Project:
    row = repo.project(session, project_id)
    if row is None:
        raise not_found("项目 Project", "project_not_found")
    scope.require(
        staff_paths, orgs_service.get(session, row.org_id).path, "您无权查看此项目 Not your project"
    )
    return row


def projects_of(
    session: Session,
    round_id: int,
    *,
    staff_paths: list[str],
    admin_paths: list[str],
    staff_user_id: int,
    now: datetime,
    after_id: int,
    limit: int,
) -> list[Project]:
    """A round's projects, for whoever sees the round: the hub's staff all of them, an
    organization's staff their own (as `project` lets them read each)."""
    row = visible(
        session,
        round_id,
        staff_paths=staff_paths,
        admin_paths=admin_paths,
        staff_user_id=staff_user_id,
        now=now,
    )
    everyone = scope.covers(staff_paths, org_path(session, row))
    return repo.projects_of_round(
        session, row.id, paths=None if everyone else staff_paths, after_id=after_id, limit=limit
    )


def public_notice(session: Session, round_id: int, now: datetime) -> dict | None:
    """What the public notice page shows (no login): the round, and its approved projects once the
    notice has started. None if there is no such round."""
    row = repo.round_(session, round_id)
    if row is None:
        return None
    take_effect_of(session, row, now)
    published = row.state in ("notice", "granted")
    approved = repo.approved(session, row.id) if published else []
    names = repo.org_names(session, {p.org_id for p in approved} | {row.org_id})
    return {
        "round": row,
        "hub": names.get(row.org_id, ""),
        "state": state_of(row, now),
        "published": published,
        "open": row.state == "notice",
        "items": [
            {"title": p.title, "org": names.get(p.org_id, ""), "amount": p.decided_amount, "field": p.field}
            for p in approved
        ],
        "total": sum(p.decided_amount for p in approved),
    }
