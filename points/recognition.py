"""Recognition (表彰与证明): commendation rounds and certificates.

A hub runs a round for a month, quarter or year: the engine proposes volunteers by its rules
(top N by verified service time in each organization, thresholds such as hours or deliveries),
never anyone under the round's minimum (`floor_minutes`: a floor whatever the reason), staff review
the list (remove, add by hand), then confirm once the period is over (409 `round_not_over` before:
a month's commendation is for the whole month), when each one's minutes are counted again. Confirmed commendations post their bonus
points and each gets a certificate. A volunteer may also have a service-record certificate of their
verified hours over a period. Certificates carry a QR code of `/verify/{code}`; the code is signed.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from linli import pdftext, qr
from linli.errors import FieldError, conflict, invalid, not_found
from linli.pii import mask_name
from linli.signing import Signer
from orgs import service as orgs_service
from points import awards, notices, rules
from points import repository_recognition as repo
from points.models import ROUND_BONUS, ROUND_PERIODS, Certificate, Commendation, CommendationRound
from volunteer import service as volunteer_service

PERIOD_MONTHS = ROUND_PERIODS
DEFAULT_ROUND_RULES = {"top_n_per_org": 3, "min_minutes": None, "min_deliveries": None, "floor_minutes": None}
SERVICE_KINDS = ("service", "adjustment")


def period_end(period: str, start: date) -> date:
    """The last day of the month, quarter or year starting at `start`."""
    months = start.month - 1 + PERIOD_MONTHS[period]
    return date(start.year + months // 12, months % 12 + 1, 1) - timedelta(days=1)


def check_round(title: str, period: str, start: date, rules: dict, bonus_points: int) -> dict:
    errors = []
    if not 1 <= len((title or "").strip()) <= 100:
        errors.append(FieldError("title", "length", "标题1到100字 Title of 1 to 100 characters"))
    if period not in PERIOD_MONTHS:
        errors.append(
            FieldError(
                "period",
                "invalid",
                "周期应为 month、quarter 或 year 之一 Period must be month, quarter or year",
            )
        )
    elif start.day != 1 or (start.month - 1) % PERIOD_MONTHS[period] or not 2000 <= start.year < 2100:
        errors.append(
            FieldError(
                "period_start",
                "not_period_start",
                "须为月、季或年的第一天 Must be the first day of the period",
            )
        )
    merged = {**DEFAULT_ROUND_RULES, **(rules or {})}
    if set(merged) != set(DEFAULT_ROUND_RULES) or any(
        v is not None and (not isinstance(v, int) or not 0 <= v <= 100_000) for v in merged.values()
    ):
        errors.append(
            FieldError(
                "rules",
                "invalid",
                "规则中 top_n_per_org、min_minutes、min_deliveries、floor_minutes 应为非负整数或空 "
                "Rules: top_n_per_org, min_minutes, min_deliveries and floor_minutes are whole numbers or null",
            )
        )
    if not ROUND_BONUS[0] <= bonus_points <= ROUND_BONUS[1]:
        errors.append(
            FieldError("bonus_points", "out_of_range", "奖励积分应为0到100000 Bonus must be 0 to 100000")
        )
    if errors:
        raise invalid(errors)
    return merged


def propose_round(
    session: Session,
    *,
    hub_id: int,
    title: str,
    period: str,
    period_start: date,
    rules: dict,
    bonus_points: int,
    created_by: int | None,
    now: datetime,
) -> CommendationRound:
    rules = check_round(title, period, period_start, rules, bonus_points)
    end = period_end(period, period_start)
    round_ = CommendationRound(
        hub_id=hub_id,
        title=title.strip(),
        period=period,
        period_start=period_start,
        period_end=end,
        rules=rules,
        bonus_points=bonus_points,
        status="proposed",
        created_by=created_by,
        created_at=now,
    )
    session.add(round_)
    session.flush()
    served = _service_by_org(session, hub_id, period_start, end)
    deliveries = repo.deliveries_by_volunteer(session, hub_id, period_start, end)
    reasons: dict[int, list[str]] = defaultdict(list)
    home: dict[int, tuple[int, int]] = {}  # volunteer -> (org, minutes there)
    totals: dict[int, int] = defaultdict(int)
    by_org: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (volunteer_id, org_id), minutes in served.items():
        totals[volunteer_id] += minutes
        if minutes > home.get(volunteer_id, (None, -1))[1]:
            home[volunteer_id] = (org_id, minutes)
    for volunteer_id, (org_id, _) in home.items():
        by_org[org_id].append((totals[volunteer_id], volunteer_id))
    if rules["top_n_per_org"]:
        for ranked in by_org.values():
            for minutes, volunteer_id in sorted(ranked, key=lambda x: (-x[0], x[1]))[
                : rules["top_n_per_org"]
            ]:
                if minutes > 0:
                    reasons[volunteer_id].append(f"所在组织服务时长前{rules['top_n_per_org']}名")
    if rules["min_minutes"]:
        for volunteer_id, minutes in totals.items():
            if minutes >= rules["min_minutes"]:
                reasons[volunteer_id].append(f"服务满{rules['min_minutes'] // 60}小时")
    if rules["min_deliveries"]:
        for volunteer_id, n in deliveries.items():
            if n >= rules["min_deliveries"]:
                reasons[volunteer_id].append(f"送餐满{rules['min_deliveries']}次")
    floor = rules["floor_minutes"] or 0
    for volunteer_id in sorted(v for v in reasons if totals.get(v, 0) >= floor):
        session.add(
            Commendation(
                round_id=round_.id,
                volunteer_id=volunteer_id,
                org_id=home.get(volunteer_id, (None, 0))[0],
                minutes=totals.get(volunteer_id, 0),
                deliveries=deliveries.get(volunteer_id, 0),
                reason="；".join(reasons[volunteer_id]),
                status="proposed",
            )
        )
    session.flush()
    return round_


def _service_by_org(session: Session, hub_id: int, start: date, end: date) -> dict[tuple[int, int], int]:
    """Verified minutes in the period, by (volunteer, organization under the hub)."""
    rows = repo.minutes_by_org_path(session, hub_id, SERVICE_KINDS, start, end)
    out: dict[tuple[int, int], int] = defaultdict(int)
    for volunteer_id, path, minutes in rows:
        ids = [int(p) for p in path.strip("/").split("/")]
        out[(volunteer_id, ids[2] if len(ids) > 2 else ids[-1])] += int(minutes)
    return out


def rounds_of(session: Session, hub_id: int, *, before_id: int, limit: int) -> list[CommendationRound]:
    """A page of a hub's rounds, the newest (last started) first."""
    return repo.rounds_of(session, hub_id, before_id, limit)


def get_round(session: Session, round_id: int) -> CommendationRound:
    round_ = repo.round_(session, round_id)
    if round_ is None:
        raise not_found("表彰 Commendation round", "round_not_found")
    return round_


def commendations_of(session: Session, round_id: int) -> list[tuple[Commendation, str]]:
    """A round's commendations, most minutes first, each with the volunteer's name."""
    commendations = repo.commendations_in(session, round_id)
    if not commendations:
        return []
    names = volunteer_service.names_of(session, {c.volunteer_id for c in commendations})
    return [(c, names[c.volunteer_id]) for c in commendations]


def _open_round(session: Session, round_id: int) -> CommendationRound:
    round_ = repo.round_(session, round_id, for_update=True)
    if round_ is None:
        raise not_found("表彰 Commendation round", "round_not_found")
    if round_.status != "proposed":
        raise conflict("round_confirmed", "本轮表彰已确认 This round is confirmed")
    return round_


def set_included(
    session: Session, round_id: int, volunteer_id: int, include: bool, reason: str
) -> Commendation:
    """Staff review: take someone off the list, or add someone of the hub (with a reason)."""
    round_ = _open_round(session, round_id)
    c = repo.commendation(session, round_.id, volunteer_id)
    if c is None:
        if not include:
            raise not_found("提名 Commendation", "commendation_not_found")
        # someone of this hub (filed or served here): 404 for nobody, 403 for someone elsewhere
        volunteer_service.require_reached(
            session, volunteer_id, [orgs_service.get(session, round_.hub_id).path]
        )
        if not 1 <= len((reason or "").strip()) <= 200:
            raise invalid([FieldError("reason", "length", "请写明理由（1到200字） A reason is required")])
        served = _service_by_org(session, round_.hub_id, round_.period_start, round_.period_end)
        c = Commendation(
            round_id=round_.id,
            volunteer_id=volunteer_id,
            org_id=None,
            minutes=sum(m for (v, _), m in served.items() if v == volunteer_id),
            deliveries=0,
            reason=f"工作人员提名：{reason.strip()}",
            status="proposed",
        )
        session.add(c)
    else:
        c.status = "proposed" if include else "removed"
    session.flush()
    return c


def confirm_round(
    session: Session, round_id: int, *, staff_user_id: int, now: datetime, tz
) -> CommendationRound:
    """Confirm: each commendation kept posts its bonus points and gets a certificate."""
    round_ = _open_round(session, round_id)
    if now.astimezone(tz).date() <= round_.period_end:
        raise conflict(
            "round_not_over",
            f"本期至{round_.period_end}结束，结束后才能确认 The period ends on {round_.period_end}: confirm after it",
            period_end=round_.period_end.isoformat(),
        )
    rule = rules.current_rule(session, round_.hub_id, now)
    totals: dict[int, int] = defaultdict(int)  # the whole period's minutes, counted again
    for (volunteer_id, _), minutes in _service_by_org(
        session, round_.hub_id, round_.period_start, round_.period_end
    ).items():
        totals[volunteer_id] += minutes
    bonuses = []
    for c, name in commendations_of(session, round_.id):
        if c.status != "proposed":
            continue
        c.status = "confirmed"
        c.minutes = totals[c.volunteer_id]
        if round_.bonus_points:
            bonuses.append(
                awards.AwardSpec(
                    key=f"commendation:{c.id}",
                    kind="commendation",
                    volunteer_id=c.volunteer_id,
                    hub_id=round_.hub_id,
                    day=round_.period_end,
                    minutes=0,
                    points=round_.bonus_points,
                    rule=rule,
                    note=round_.title,
                )
            )
        cert = Certificate(
            kind="commendation",
            volunteer_id=c.volunteer_id,
            holder_name=name,
            hub_id=round_.hub_id,
            title=round_.title,
            period_start=round_.period_start,
            period_end=round_.period_end,
            minutes=c.minutes,
            issued_at=now,
        )
        session.add(cert)
        session.flush()
        c.certificate_id = cert.id
        notices.certificate_issued(session, cert, now)
    awards.post_awards(session, bonuses, now=now, tz=tz)  # one ledger batch: accounts locked once
    round_.status, round_.confirmed_by, round_.confirmed_at = "confirmed", staff_user_id, now
    session.flush()
    return round_


def issue_service_record(
    session: Session, volunteer_id: int, start: date, end: date, now: datetime, today: date
) -> Certificate:
    """A certificate of the volunteer's verified service time over [start, end]."""
    errors = []
    if end < start:
        errors.append(FieldError("period_end", "before_start", "结束日期须不早于开始日期 End before start"))
    if start.year < 2000 or end > today:
        errors.append(
            FieldError("period_end", "out_of_range", "期间须在2000年至今天之间 Period must end by today")
        )
    if errors:
        raise invalid(errors)
    volunteer = volunteer_service.get(session, volunteer_id)
    minutes = repo.minutes_of(session, volunteer_id, SERVICE_KINDS, start, end)
    cert = Certificate(
        kind="service_record",
        volunteer_id=volunteer_id,
        holder_name=volunteer.name,
        hub_id=None,
        title="志愿服务记录证明",
        period_start=start,
        period_end=end,
        minutes=int(minutes),
        issued_at=now,
    )
    session.add(cert)
    session.flush()
    return cert


def commendations_for(session: Session, volunteer_id: int) -> list[tuple[Commendation, CommendationRound]]:
    return repo.confirmed_commendations_of(session, volunteer_id)


def certificates_of(session: Session, volunteer_id: int) -> list[Certificate]:
    return repo.certificates_of(session, volunteer_id)


# Codes and documents ---------------------------------------------------------------------------

_PURPOSE = "certificate"


def certificate_code(signer: Signer, certificate_id: int) -> str:
    """The public id printed on the certificate, e.g. "1042-4f1c2a9b07d3e8aa": the number and a MAC."""
    return f"{certificate_id}-{signer.mac(_PURPOSE, str(certificate_id).encode()).hex()[:16]}"


def find_by_code(session: Session, signer: Signer, code: str) -> Certificate | None:
    """The certificate a code names, or None if the code is forged, altered or unknown."""
    number, _, mac = (code or "").partition("-")
    if not (number.isascii() and number.isdigit() and len(number) <= 12 and len(mac) == 16):
        return None
    try:
        mac_raw = bytes.fromhex(mac)
    except ValueError:
        return None
    if not any(signer.verify(_PURPOSE, number.encode(), mac_raw, kid, length=8) for kid in signer.key_ids):
        return None
    return repo.certificate(session, int(number))


def public_view(cert: Certificate) -> dict:
    """What the verification page shows: the holder's name partly masked."""
    return {
        "holder": mask_name(cert.holder_name),
        "kind": cert.kind,
        "title": cert.title,
        "period": f"{cert.period_start:%Y.%m.%d}–{cert.period_end:%Y.%m.%d}",
        "hours": round(cert.minutes / 60, 1),
        "issued": cert.issued_at,
    }


def pdf(cert: Certificate, verify_url: str, hub_name: str | None, tz) -> bytes:
    """An A4 landscape certificate. Every line is wrapped to the frame (`linli.pdftext`): a long
    name or title takes more lines, the body shrinks only when it would reach the footer."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    font = pdftext.register()
    out = io.BytesIO()
    width, height = landscape(A4)
    c = canvas.Canvas(out, pagesize=(width, height))
    c.setTitle(f"{cert.title} {cert.holder_name}")
    c.setLineWidth(3)
    c.rect(36, 36, width - 72, height - 72)
    c.setFont(font, 40)
    heading = "荣誉证书" if cert.kind == "commendation" else "志愿服务记录证明"
    c.drawCentredString(width / 2, height - 120, heading)
    hours = f"{cert.minutes // 60}小时{cert.minutes % 60}分钟"
    period = f"{cert.period_start:%Y年%m月%d日}至{cert.period_end:%Y年%m月%d日}"
    if cert.kind == "commendation":
        body = [
            f"{cert.holder_name} 同志：",
            f"在{period}期间积极参加志愿服务，累计服务{hours}，表现突出，特发此证，以资鼓励。（{cert.title}）",
        ]
    else:
        body = [
            f"兹证明 {cert.holder_name} 于{period}期间参加经核实的志愿服务，累计服务时长{hours}。",
            "特此证明。",
        ]
    text_w, top, bottom = width - 180, height - 190, 210  # the footer and QR code live below `bottom`
    size = pdftext.shrink_to(body, text_w, 20, top - bottom, leading=2.0)
    y = top
    for paragraph in body:
        y = pdftext.draw(c, paragraph, 90, y, text_w, size, leading=2.0)
    foot_w = width - 90 - 230  # left of the QR code
    c.setFont("Helvetica", 9)
    pdftext.draw(c, f"Verify: {verify_url}", 90, 50, foot_w, 9, font="Helvetica")
    c.setFont(font, 16)
    c.drawString(90, 75, f"{cert.issued_at.astimezone(tz):%Y年%m月%d日}")
    issuer = hub_name or "邻里志愿服务平台"
    issuer_size = pdftext.shrink_to([issuer], foot_w, 16, 100, leading=1.3)
    pdftext.draw(
        c,
        issuer,
        90,
        100 + pdftext.height_of(issuer, foot_w, issuer_size, leading=1.3) - issuer_size * 1.3,
        foot_w,
        issuer_size,
        leading=1.3,
    )
    c.drawImage(ImageReader(io.BytesIO(qr.png(verify_url, box_size=4))), width - 200, 50, 140, 140)
    c.showPage()
    c.save()
    return out.getvalue()
