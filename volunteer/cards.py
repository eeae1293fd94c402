"""Volunteer cards (志愿者卡): a volunteer's own card (its QR code names the card's version, so a
reissued card makes the old one scan as revoked), and printable A4 sheets of a team's cards,
made in the background and kept as generated files."""

from __future__ import annotations

from datetime import datetime
from html import escape

from sqlalchemy.orm import Session

from linli import qr
from linli.errors import conflict, not_found
from linli.outbox import emit
from linli.qr import Codes
from orgs import service as orgs_service
from volunteer import repository
from volunteer.models import GeneratedFile, Volunteer


def reissue(session: Session, volunteer_id: int) -> Volunteer:
    """Lost card: a new card version; the old card then scans as revoked_card."""
    volunteer = repository.lock_volunteer(session, volunteer_id)
    if volunteer is None:
        raise not_found("志愿者 Volunteer", "volunteer_not_found")
    volunteer.card_version += 1
    session.flush()
    return volunteer


def request_sheet(
    session: Session, *, team_id: int, staff_user_id: int, staff_paths: list[str], now: datetime
) -> GeneratedFile:
    """A sheet of a team's cards, asked for by its staff: pending until the worker makes it."""
    team = orgs_service.get_team(session, team_id)
    orgs_service.require_staff_of(staff_paths, team)
    f = GeneratedFile(
        kind="card_sheet",
        status="pending",
        requested_by=staff_user_id,
        subject=f"team:{team.id}",
        created_at=now,
    )
    session.add(f)
    session.flush()
    emit(session, event="card_sheet.requested", job_id=f"card-sheet-{f.id}", args=[f.id], now=now)
    return f


def own_file(session: Session, staff_user_id: int | None, file_id: int) -> GeneratedFile:
    """A generated file, for the staff member who asked for it (anyone else: not found)."""
    f = repository.generated_file(session, file_id)
    if f is None or staff_user_id is None or f.requested_by != staff_user_id:
        raise not_found("文件 File", "file_not_found")
    return f


def ready_file(session: Session, staff_user_id: int | None, file_id: int) -> GeneratedFile:
    f = own_file(session, staff_user_id, file_id)
    if f.status != "ready":
        raise conflict("file_not_ready", "文件尚未生成 The file is not ready yet", file_status=f.status)
    return f


def make_sheet(session: Session, codes: Codes, file_id: int, now: datetime) -> None:
    """The A4 sheet (HTML with print CSS, QR codes as inline SVG: Chinese names print with the
    browser's fonts) of a team's approved volunteers' cards."""
    f = repository.generated_file(session, file_id)
    if f is None or f.status == "ready":
        return
    team = orgs_service.get_team(session, int(f.subject.split(":")[1]))
    cards = []
    for v in repository.approved_members(session, team.id):
        svg = qr.svg(codes.volunteer_card(v.id, v.card_version)).decode()
        svg = svg[svg.index("<svg") :]
        cards.append(
            f'<div class="card"><div class="qr">{svg}</div><div class="who">'
            f"<b>{escape(v.name)}</b><br>{escape(team.name)}<br>志愿者卡 No.{v.id}</div></div>"
        )
    f.content = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(team.name)} 志愿者卡</title><style>"
        "@page{size:A4;margin:10mm}body{margin:0;font-family:sans-serif}"
        ".sheet{display:grid;grid-template-columns:1fr 1fr;gap:6mm}"
        ".card{border:1px dashed #999;height:60mm;display:flex;align-items:center;padding:4mm;"
        "break-inside:avoid}.qr svg{width:45mm;height:45mm}.who{margin-left:4mm;font-size:14pt}"
        f'</style></head><body><div class="sheet">{"".join(cards)}</div></body></html>'
    ).encode()
    f.filename = f"cards-team-{team.id}.html"
    f.media_type = "text/html; charset=utf-8"
    f.status = "ready"
    f.finished_at = now


def sheet_failed(session: Session, file_id: int, error: str, now: datetime) -> None:
    """The requester sees `failed` with the reason, not `pending` forever."""
    f = repository.generated_file(session, file_id)
    if f is not None and f.status != "ready":
        f.status, f.error, f.finished_at = "failed", error[:500], now
