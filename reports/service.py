"""Asking for reports, building them, and telling partners (报表服务).

A request is checked and scoped when it is made: a partner (a partner user or API key) gets the
meal points and agreements its enterprise funds, aggregated and suppressed; hub staff get their
subtree, and admins may ask for an internal (unsuppressed) report. Anything else is 403, logged.
The report is built by a worker job (event `report.requested`, retried with back-off by RQ,
then marked failed with its reason); a partner with a webhook is told (`reports.webhooks`). The same request for a period that has ended returns the
existing report. Files are kept `KEEP` days with their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from accounts.principal import Principal
from linli import scope
from linli.errors import FieldError, LinliError, conflict, forbidden, invalid, not_found
from linli.outbox import emit
from meals.models import AgreementPoint, FundingAgreement, MealPoint
from orgs.models import Organization, Partner
from reports import queries, queries_people, rounds, suppression
from reports.models import FORMATS, GRANULARITIES, KINDS, MONTHLY_KINDS, PartnerWebhook, Report
from reports.render import MEDIA_TYPES, render

log = logging.getLogger("linli.reports")

KEEP = timedelta(days=90)
BUILD_STEPS = 2  # the phases `build` names: the query, the file
SETTLED = timedelta(days=2)  # offline scans arrive up to a day late: a period is final 2 days after
STUCK = timedelta(hours=1)  # a report queued or running longer has lost its worker
FRESH = timedelta(minutes=10)  # an open period's report built this recently is given again
REQUESTS_PER_HOUR = 30  # report requests per caller (asks answered by an existing report count too)
MAX_ATTEMPTS = 4  # the first run and RQ's three retries
MAX_DAYS = 366
TITLES = {
    "meal_usage": "助餐服务使用情况 meal usage",
    "volunteer_contribution": "志愿服务贡献 volunteer contribution",
    "programme_summary": "项目汇总 programme summary",
    "round_summary": "微创投轮次报告 micro-grant round summary",
}


@dataclass(frozen=True)
class ReportAsk:
    kind: str
    period_start: date | None  # a round's report: the round's days, whatever is sent
    period_end: date | None
    format: str
    granularity: str = "month"
    org_id: int | None = None  # hub staff: a part of their subtree
    meal_point_ids: tuple[int, ...] = ()
    internal: bool = False  # hub admins: no suppression of small cells
    round_id: int | None = None  # round_summary: the round


def _check(ask: ReportAsk) -> None:
    errors = []
    if ask.kind not in KINDS:
        errors.append(FieldError("kind", "invalid_choice", "报表类型应为 " + "、".join(KINDS)))
    if ask.format not in FORMATS:
        errors.append(FieldError("format", "invalid_choice", "格式应为 json、csv 或 xlsx"))
    if ask.granularity not in GRANULARITIES:
        errors.append(FieldError("granularity", "invalid_choice", "粒度应为 day、week 或 month"))
    if ask.period_start is None or ask.period_end is None:
        missing = "period_start" if ask.period_start is None else "period_end"
        errors.append(FieldError(missing, "required", "请填写期间 The period is required"))
    elif not (2000 <= ask.period_start.year < 2100 and 2000 <= ask.period_end.year < 2100):
        errors.append(FieldError("period_start", "out_of_range", "日期不合理 Implausible date"))
    elif ask.period_end < ask.period_start:
        errors.append(FieldError("period_end", "before_start", "结束日期早于开始日期 Ends before it starts"))
    elif (ask.period_end - ask.period_start).days >= MAX_DAYS and ask.kind != rounds.KIND:
        errors.append(FieldError("period_end", "too_long", "期间最长一年 At most a year"))
    if len(ask.meal_point_ids) > 500:
        errors.append(FieldError("meal_point_ids", "too_many", "最多500个助餐点 At most 500"))
    if errors:
        raise invalid(errors)


def refuse(principal: Principal, what: str, code: str = "outside_your_scope"):
    who = principal.staff_user_id or principal.partner_id or principal.volunteer_id
    log.warning("report refused: %s:%s asked for %s", principal.kind, who, what)
    return forbidden("无权查看该范围的报表 Outside what you may see", code)


def partner_of(principal: Principal) -> int | None:
    if principal.kind == "api_key":
        return principal.partner_id
    return next((g.partner_id for g in principal.grants if g.role == "partner" and g.partner_id), None)


def scope_for(session: Session, principal: Principal, ask: ReportAsk) -> tuple[dict, int | None, int | None]:
    """(what the report stores as its scope, its partner, its organization), or 403."""
    partner_id = partner_of(principal)
    if partner_id is not None:
        if ask.kind == "programme_summary":
            raise refuse(principal, ask.kind, "not_for_partners")
        if ask.internal or ask.org_id is not None:
            raise refuse(principal, "internal or organization scope")
        funded = set(
            session.scalars(
                select(AgreementPoint.meal_point_id)
                .join(FundingAgreement, FundingAgreement.id == AgreementPoint.agreement_id)
                .where(FundingAgreement.partner_id == partner_id)
            )
        )
        if not set(ask.meal_point_ids) <= funded:
            raise refuse(principal, f"meal points {sorted(set(ask.meal_point_ids) - funded)[:10]}")
        return {"partner_id": partner_id, "meal_point_ids": sorted(ask.meal_point_ids)}, partner_id, None
    paths = principal.staff_paths if principal.kind == "staff" else []
    if not paths:
        raise refuse(principal, "a report without staff or partner rights", "staff_only")
    if ask.org_id is not None:
        org = session.get(Organization, ask.org_id)
        if org is None:
            raise not_found("组织 Organization", "org_not_found")
        if not scope.covers(paths, org.path):
            raise refuse(principal, f"organization {ask.org_id}")
    else:
        org = session.scalar(select(Organization).where(Organization.path == min(paths, key=len)))
    if ask.internal and not scope.covers(principal.admin_paths, org.path):
        raise refuse(principal, "an internal report", "admin_required")
    if ask.meal_point_ids:
        inside = set(
            session.scalars(
                select(MealPoint.id)
                .join(Organization, Organization.id == MealPoint.org_id)
                .where(MealPoint.id.in_(ask.meal_point_ids), scope.within(Organization.path, [org.path]))
            )
        )
        if inside != set(ask.meal_point_ids):
            raise refuse(principal, f"meal points {sorted(set(ask.meal_point_ids) - inside)[:10]}")
    stored = {"org_path": org.path, "meal_point_ids": sorted(ask.meal_point_ids), "internal": ask.internal}
    return stored, None, org.id


def request_key(ask: ReportAsk, stored: dict) -> str:
    what = {
        "kind": ask.kind,
        "period": [ask.period_start.isoformat(), ask.period_end.isoformat()],
        "granularity": ask.granularity,
        "format": ask.format,
        "scope": stored,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def request(
    session: Session,
    principal: Principal | None,
    ask: ReportAsk,
    *,
    now: datetime,
    tz: ZoneInfo,
    scope=None,
    monthly: bool = False,
) -> tuple[Report, bool]:
    """A report for the ask: (report, whether it existed). The monthly job gives the scope, and
    finds the reports it asked for already (it may run twice on the first of the month). An ended,
    settled period is built once; for a period still open, the same ask while one is being built,
    or within `FRESH` of one built, gets that one (a hundred clicks build one file, not a hundred)."""
    subject = None
    if (ask.kind == rounds.KIND or ask.round_id is not None) and scope is None:
        ask, subject = rounds.with_period(session, ask, now, tz)  # a round named is checked, always
    _check(ask)
    if subject is not None and ask.kind == rounds.KIND:
        stored, partner_id, org_id = rounds.scope_for(principal, ask, subject, refuse, partner_of(principal))
    else:
        stored, partner_id, org_id = scope if scope is not None else scope_for(session, principal, ask)
        if subject is not None:  # a round named for another kind: checked like any id, then refused
            rounds.scope_for(principal, ask, subject, refuse, partner_of(principal))
            rounds.only_for_rounds(ask)
    key = request_key(ask, stored)
    ended = datetime.combine(ask.period_end + timedelta(days=1), time(0), tz)
    settled = ended + SETTLED
    # an ended, settled period: built once (after it settled); an open one: fresh for a while
    final = now >= settled or monthly
    since = (ended if monthly else settled) if final else now - FRESH
    # still being built (not stuck: a worker killed mid-build), and for a final period since then
    building = Report.status.in_(("queued", "running")) & (Report.created_at > now - STUCK)
    if final:
        building &= Report.created_at >= since
    existing = session.scalar(
        select(Report)
        .where(
            Report.request_key == key,
            ((Report.status == "done") & (Report.expires_at > now) & (Report.created_at >= since)) | building,
        )
        .order_by(Report.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, True
    if partner_id is not None and not monthly and subject is None:  # a round's: the round's days
        _no_difference(session, partner_id, ask, now, tz)
    report = Report(
        kind=ask.kind,
        period_start=ask.period_start,
        period_end=ask.period_end,
        granularity=ask.granularity,
        format=ask.format,
        scope=stored,
        request_key=key,
        partner_id=partner_id,
        org_id=org_id,
        internal=bool(stored.get("internal")),
        requested_by=principal.staff_user_id if principal is not None else None,
        status="queued",
        attempts=0,
        created_at=now,
    )
    session.add(report)
    session.flush()
    emit(
        session,
        event="report.requested",
        job_id=f"report-{report.id}",
        args=[report.id],
        now=now,
        queue="reports",
        known_new=True,
    )
    return report, False


def _whole_months(first: date, last: date) -> bool:
    """The days first..last are whole calendar months (none, when last < first, are)."""
    return last < first or (first.day == 1 and (last + timedelta(days=1)).day == 1)


def _no_difference(session: Session, partner_id: int, ask: ReportAsk, now: datetime, tz: ZoneInfo) -> None:
    """Two reports of overlapping periods, subtracted, give the days in one and not the other
    unsuppressed; a report of a period still running, asked again later, gives the meals in
    between. A partner's new report may overlap one it has of the same kind only when both
    periods had ended when they were built and each period's days outside the other are whole
    calendar months (the same period again among them): the finest a subtraction isolates is then
    a whole month. Otherwise 422 `period_overlaps_earlier`."""
    start, end = ask.period_start, ask.period_end
    day = timedelta(days=1)

    def ended(last: date) -> datetime:
        return datetime.combine(last + day, time(0), tz)

    earlier = session.execute(
        select(Report.period_start, Report.period_end, Report.created_at).where(
            Report.partner_id == partner_id,
            Report.kind == ask.kind,
            Report.status != "failed",
            Report.period_start <= end,
            Report.period_end >= start,
        )
    )
    for first, last, built in earlier:
        pieces = ((start, first - day), (last + day, end), (first, start - day), (end + day, last))
        if now >= ended(end) and built >= ended(last) and all(_whole_months(a, b) for a, b in pieces):
            continue
        raise LinliError(
            code="period_overlaps_earlier",
            detail=(
                f"与已有报表的期间（{first.isoformat()} 至 {last.isoformat()}）部分重叠，两份相减会暴露被隐藏的小数；"
                "请申请已结束的整月，或不重叠的期间 Overlaps the period of an earlier report: subtracted, the "
                "two would show what is hidden; ask for whole ended months, or a period that does not overlap"
            ),
            status=422,
            title="期间重叠 Overlapping period",
        )


def visible(session: Session, principal: Principal, report: Report) -> bool:
    partner_id = partner_of(principal)
    if partner_id is not None:
        return report.partner_id == partner_id
    if report.org_id is None or principal.kind != "staff":
        return False
    path = session.scalar(select(Organization.path).where(Organization.id == report.org_id))
    # an internal (unsuppressed) report is for admins only, like asking for one
    paths = principal.admin_paths if report.internal else principal.staff_paths
    return scope.covers(paths, path)


def get_visible(session: Session, principal: Principal, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise not_found("报表 Report", "report_not_found")
    if not visible(session, principal, report):
        raise refuse(principal, f"report {report_id}")
    return report


def list_visible(session: Session, principal: Principal, after_id: int, limit: int) -> list[Report]:
    q = select(Report).where(Report.id > after_id).order_by(Report.id).limit(limit)
    partner_id = partner_of(principal)
    if partner_id is not None:
        q = q.where(Report.partner_id == partner_id)
    elif principal.kind == "staff" and principal.staff_paths:
        q = q.join(Organization, Organization.id == Report.org_id).where(
            scope.within(Organization.path, principal.staff_paths),
            or_(Report.internal.is_(False), scope.within(Organization.path, principal.admin_paths)),
        )
    else:
        raise refuse(principal, "the report list", "staff_only")
    return list(session.scalars(q))


def file_of(report: Report, now: datetime) -> Report:
    if report.status != "done":
        raise conflict(
            "report_not_ready", "报表尚未生成 The report is not ready yet", report_status=report.status
        )
    if report.content is None or (report.expires_at and report.expires_at <= now):
        raise LinliError(
            code="report_expired",
            detail="报表文件已过期，请重新申请 The file has expired; ask again",
            status=410,
            title="已过期 Gone",
        )
    return report


# ---------------------------------------------------------------------------------------------
# building


def build(
    session: Session,
    report_id: int,
    *,
    now: datetime,
    tz: ZoneInfo,
    step: Callable[[str], None] | None = None,
) -> Report:
    """Compute and render the report into its row, in one transaction. `step(name)`: told as each
    of its `BUILD_STEPS` phases begins (the job's progress lines)."""
    content = compose(session, session.get(Report, report_id), now=now, tz=tz, step=step)
    return store(session, report_id, content, now=now)


def ended(report: Report, now: datetime, tz: ZoneInfo) -> bool:
    """Whether the report's period has ended: its report is kept as final (built once, `request`),
    so its figures are read with everything committed before the build (`Runtime.read(latest=True)`)."""
    return now >= datetime.combine(report.period_end + timedelta(days=1), time(0), tz)


def compose(
    session: Session,
    report: Report,
    *,
    now: datetime,
    tz: ZoneInfo,
    step: Callable[[str], None] | None = None,
) -> bytes:
    """The report's file, read with `session` (the job reads it on the read replica: writes
    nothing). `step(name)`: told as each of its `BUILD_STEPS` phases begins."""
    step = step or (lambda name: None)
    step("统计 query")
    scope = queries.resolve_scope(session, report.scope)
    today = now.astimezone(tz).date()
    start, end = report.period_start, report.period_end
    if report.kind == "meal_usage":
        sheets = queries.meal_usage(session, scope, start, end, report.granularity, today)
    elif report.kind == "volunteer_contribution":
        sheets = queries_people.volunteer_contribution(session, scope, start, end, tz)
    elif report.kind == rounds.KIND:
        sheets = rounds.round_summary(session, scope, report.scope["round_id"], now)
    else:
        sheets = queries_people.programme_summary(session, scope, start, end, tz)
    partner = session.get(Partner, report.partner_id) if report.partner_id else None
    org = session.get(Organization, report.org_id) if report.org_id else None
    header = {
        "id": report.id,
        "kind": report.kind,
        "title": TITLES[report.kind],
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "granularity": report.granularity,
        "for": partner.name if partner else org.name if org else "",
        "suppressed_below": None if not scope.suppress else suppression.SUPPRESS_BELOW,
        "generated_at": now.isoformat(),
        "money": "fen",
        **({"round_id": report.scope["round_id"]} if report.kind == rounds.KIND else {}),
    }
    step("生成文件 render")
    return render(report.format, header, sheets)


def store(session: Session, report_id: int, content: bytes, *, now: datetime) -> Report:
    """Keep the built file in the report's row (the job's transaction on the primary)."""
    report = session.get(Report, report_id)
    start, end = report.period_start, report.period_end
    report.content = content
    report.size = len(content)
    report.sha256 = hashlib.sha256(content).hexdigest()
    report.media_type = MEDIA_TYPES[report.format]
    report.filename = f"linli-{report.kind}-{start.isoformat()}-{end.isoformat()}-{report.id}.{report.format}"
    report.status, report.error, report.finished_at = "done", None, now
    report.expires_at = now + KEEP
    if report.partner_id and session.get(PartnerWebhook, report.partner_id) is not None:
        emit(
            session,
            event="report.ready",
            job_id=f"report-ready-{report.id}",
            args=[report.id],
            now=now,
            queue="webhooks",
            known_new=True,
        )
    return report


def start(session: Session, report_id: int) -> Report | None:
    """Take a report to build: None if it is done or failed already (a redelivered job)."""
    report = session.get(Report, report_id, with_for_update=True)
    if report is None or report.status in ("done", "failed"):
        return None
    report.status = "running"
    report.attempts += 1
    return report


def failed(session: Session, report_id: int, reason: str, now: datetime) -> bool:
    """Record a failed attempt; True if it was the last (the report is then `failed`)."""
    report = session.get(Report, report_id, with_for_update=True)
    last = report.attempts >= MAX_ATTEMPTS
    report.status = "failed" if last else "queued"
    report.error = reason[:1000]
    if last:
        report.finished_at = now
    return last


def expire_files(session: Session, now: datetime) -> int:
    return session.execute(
        update(Report)
        .where(Report.expires_at <= now, Report.content.is_not(None))
        .values(content=None)
        .execution_options(synchronize_session=False)
    ).rowcount


# ---------------------------------------------------------------------------------------------
# monthly


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def monthly(session: Session, *, now: datetime, tz: ZoneInfo) -> int:
    """Last month's reports for every partner that funds a meal point and every hub (XLSX,
    aggregated and suppressed: what a hub passes on to its funders). Asking twice builds nothing
    more (the period has ended)."""
    start, end = last_month(now.astimezone(tz).date())
    made = 0
    partners = session.scalars(
        select(FundingAgreement.partner_id).where(FundingAgreement.partner_id.is_not(None)).distinct()
    )
    for partner_id in sorted(partners):
        for kind in ("meal_usage", "volunteer_contribution"):
            ask = ReportAsk(kind, start, end, "xlsx")
            _, existed = request(
                session,
                None,
                ask,
                now=now,
                tz=tz,
                scope=({"partner_id": partner_id, "meal_point_ids": []}, partner_id, None),
                monthly=True,
            )
            made += not existed
    for hub in session.scalars(
        select(Organization).where(Organization.kind == "hub").order_by(Organization.id)
    ):
        for kind in MONTHLY_KINDS:
            ask = ReportAsk(kind, start, end, "xlsx")
            stored = {"org_path": hub.path, "meal_point_ids": [], "internal": False}
            _, existed = request(
                session, None, ask, now=now, tz=tz, scope=(stored, None, hub.id), monthly=True
            )
            made += not existed
    return made
