"""The export for the national volunteer information system (全国志愿服务信息系统导出).

A county administrator holding the export grant (`records_export`, `records.identity`) asks for
the county's service records of a period (at most `MAX_DAYS` days), with a purpose; the worker
builds the file (event `record_export.requested`, like a report): one row per attendance that the
ledger counted (closed, verified, not annulled) at an activity of an organization in the county,
its check-in within the period (local days), in the column order of the national system's
import (`COLUMNS`). The numbers come from `records.identity.reveal_many` (each volunteer's
decryption audited); a volunteer without a stored number still has their rows, the number blank,
and is counted in `missing_identity`. The file is kept encrypted (`linli.idcrypt.seal_file`,
bound to its row) for `KEEP_DAYS` days and given once, to the admin who asked while they still
hold the grant; then it is wiped. Every step is audited: `record_export.requested`, `.built`,
`.downloaded`, `.refused`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Grant, Principal
from integrity import service as integrity
from linli.errors import FieldError, LinliError, conflict, forbidden, invalid, not_found
from linli.idcrypt import IdCryptError, IdKeyring, open_file, seal_file
from linli.outbox import emit
from records import repository, service
from records import repository_exports as repo
from records.identity import export_counties, reveal_many
from records.models_exports import FORMATS, KEEP_DAYS, KINDS, MAX_DAYS, REASON_LENGTH, RecordExport
from volunteer import identity as volunteer_identity

MAX_ATTEMPTS = 4  # the first run and RQ's three retries (as reports)
# the national system's names of the ID types (证件类型), by Linli's codes (volunteer.identity)
ID_TYPE_NAMES = {
    "resident_id": "居民身份证",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "passport": "护照",
    "foreign_permanent": "外国人永久居留身份证",
}
# the import's columns, in its order: (key, heading)
COLUMNS = (
    ("name", "姓名"),
    ("id_type", "证件类型"),
    ("id_number", "证件号码"),
    ("phone", "手机号"),
    ("gender", "性别"),
    ("birth_date", "出生日期"),
    ("organization", "组织"),
    ("activity", "活动"),
    ("starts_at", "开始"),
    ("ends_at", "结束"),
    ("hours", "时长(小时)"),
    ("place", "地点"),
    ("recorder", "记录人"),
)


@dataclass(frozen=True)
class ExportAsk:
    kind: str | None
    period_start: date | None
    period_end: date | None
    format: str | None
    reason: str | None


def problems(ask: ExportAsk) -> list[FieldError]:
    errors = []
    if ask.kind not in KINDS:
        errors.append(FieldError("kind", "invalid_choice", "导出类型应为 service_records"))
    if ask.format not in FORMATS:
        errors.append(FieldError("format", "invalid_choice", "格式应为 xlsx 或 csv Format is xlsx or csv"))
    if ask.period_start is None or ask.period_end is None:
        missing = "period_start" if ask.period_start is None else "period_end"
        errors.append(FieldError(missing, "required", "请填写期间 The period is required"))
    elif not (2000 <= ask.period_start.year < 2100 and 2000 <= ask.period_end.year < 2100):
        errors.append(FieldError("period_start", "out_of_range", "日期不合理 Implausible date"))
    elif ask.period_end < ask.period_start:
        errors.append(FieldError("period_end", "before_start", "结束日期早于开始日期 Ends before it starts"))
    elif (ask.period_end - ask.period_start).days + 1 > MAX_DAYS:
        errors.append(FieldError("period_end", "too_long", f"期间最长{MAX_DAYS}天 At most {MAX_DAYS} days"))
    if not REASON_LENGTH[0] <= len((ask.reason or "").strip()) <= REASON_LENGTH[1]:
        errors.append(
            FieldError("reason", "length", "请说明用途（4到200字） Give the purpose, 4 to 200 characters")
        )
    return errors


def _refuse(session: Session, principal: Principal, subject: str, now: datetime, why: str, detail: dict):
    """403 `why`, audited (`record_export.refused`), the audit row kept although the request fails."""
    where = sorted(principal.admin_paths, key=len)[:1] or ["/"]
    integrity.audit(
        session,
        "record_export.refused",
        subject,
        where[0],
        principal.staff_user_id,
        now,
        {"why": why, **detail},
    )
    error: LinliError = forbidden(
        "需要县级管理员的导出授权 Requires a county administrator's export grant"
        if why == "export_grant_required"
        else "仅限申请导出的管理员下载 Only the administrator who asked may download it",
        why,
    )
    error.commit = True
    return error


def _require_staff(principal: Principal) -> None:
    if principal.kind != "staff" or principal.staff_user_id is None:
        raise forbidden("仅限工作人员 Staff only", "staff_only")


def request(session: Session, principal: Principal, ask: ExportAsk, *, now: datetime) -> RecordExport:
    """Ask for an export. 403 `staff_only`; 422 field by field; 403 `export_grant_required`
    (audited) for anyone but a county admin holding the grant. Nothing else is written on a
    refusal."""
    _require_staff(principal)
    if errors := problems(ask):
        raise invalid(errors)
    counties = export_counties(principal)
    if not counties:
        raise _refuse(
            session,
            principal,
            "record_export:new",
            now,
            "export_grant_required",
            {
                "reason": ask.reason.strip(),
                "period": [ask.period_start.isoformat(), ask.period_end.isoformat()],
            },
        )
    export = RecordExport(
        org_path=counties[0],
        requested_by=principal.staff_user_id,
        kind=ask.kind,
        period_start=ask.period_start,
        period_end=ask.period_end,
        format=ask.format,
        reason=ask.reason.strip(),
        status="queued",
        attempts=0,
        created_at=now,
    )
    session.add(export)
    session.flush()
    integrity.audit(
        session,
        "record_export.requested",
        f"record_export:{export.id}",
        export.org_path,
        principal.staff_user_id,
        now,
        {"reason": export.reason, "period": [export.period_start.isoformat(), export.period_end.isoformat()]},
    )
    emit(
        session,
        event="record_export.requested",
        job_id=f"record-export-{export.id}",
        args=[export.id],
        now=now,
        queue="reports",
        known_new=True,
    )
    return export


def get_visible(session: Session, principal: Principal, export_id: int) -> RecordExport:
    """An export of the caller's county: 403 `export_grant_required` without the grant, 404
    `export_not_found` for another county's (not told apart from none)."""
    _require_staff(principal)
    counties = export_counties(principal)
    if not counties:
        raise forbidden(
            "需要县级管理员的导出授权 Requires a county administrator's export grant", "export_grant_required"
        )
    export = session.get(RecordExport, export_id)
    if export is None or export.org_path not in counties:
        raise not_found("导出 Export", "export_not_found")
    return export


def listing(session: Session, principal: Principal, after_id: int, limit: int) -> list[RecordExport]:
    _require_staff(principal)
    counties = export_counties(principal)
    if not counties:
        raise forbidden(
            "需要县级管理员的导出授权 Requires a county administrator's export grant", "export_grant_required"
        )
    return repo.of_counties(session, counties, after_id, limit)


# --- building (the worker) ----------------------------------------------------------------------


def requester(session: Session, user_id: int) -> Principal:
    """The admin who asked, with the grants they hold now (none if the account is disabled)."""
    user = accounts_service.staff_user(session, user_id)
    roles = accounts_service.roles_over(session, user_id) if user.active else []
    return Principal(
        kind="staff", staff_user_id=user_id, grants=tuple(Grant(role=r, org_path=p) for r, p in roles)
    )


def start(session: Session, export_id: int) -> RecordExport | None:
    """Take an export to build: None if built, failed or expired already (a redelivered job)."""
    export = repo.locked(session, export_id)
    if export is None or export.status not in ("queued", "running"):
        return None
    export.status = "running"
    export.attempts += 1
    return export


def failed(session: Session, export_id: int, reason: str, now: datetime, *, last: bool = False) -> bool:
    """A failed attempt; True if it was the last (the export is then `failed`)."""
    export = repo.locked(session, export_id)
    last = last or export.attempts >= MAX_ATTEMPTS
    export.status = "failed" if last else "queued"
    export.error = reason[:1000]
    if last:
        export.built_at = now
    return last


def get(session: Session, export_id: int) -> RecordExport:
    export = session.get(RecordExport, export_id)
    if export is None:
        raise not_found("导出 Export", "export_not_found")
    return export


def still_granted(session: Session, export: RecordExport, now: datetime) -> bool:
    """Whether the admin who asked still holds the grant over the county; if not, the export
    fails for good and the refusal is audited."""
    actor = requester(session, export.requested_by)
    if export.org_path in export_counties(actor):
        return True
    integrity.audit(
        session,
        "record_export.refused",
        f"record_export:{export.id}",
        export.org_path,
        export.requested_by,
        now,
        {"why": "export_grant_required", "step": "build"},
    )
    export.status, export.error, export.built_at = "failed", "export_grant_required", now
    return False


def gender_and_birth(id_type: str | None, number: str | None) -> tuple[str, str]:
    """From a resident ID (GB 11643): the 17th character odd is male; the date of birth is
    characters 7 to 14. Blank for other ID types and for no number."""
    if id_type != "resident_id" or not number or len(number) != 18 or not number[16].isdigit():
        return "", ""
    gender = "男" if int(number[16]) % 2 else "女"
    return gender, f"{number[6:10]}-{number[10:12]}-{number[12:14]}"


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else ""


def rows(
    session: Session, export: RecordExport, *, keys: IdKeyring, now: datetime, tz: ZoneInfo
) -> tuple[list[list[str]], int]:
    """(the file's rows in `COLUMNS` order, volunteers without a readable number); the caller
    has checked `still_granted`."""
    actor = requester(session, export.requested_by)
    start_at = datetime.combine(export.period_start, time(0), tz)
    end_at = datetime.combine(export.period_end + timedelta(days=1), time(0), tz)
    found = repo.county_service(session, export.org_path, start_at, end_at)
    ids = [r.id for r in found]
    counted: dict[int, tuple[int, int]] = {}
    last_fix: dict[int, int] = {}
    for i in range(0, len(ids), repo.CHUNK):
        part = ids[i : i + repo.CHUNK]
        counted |= repository.counted(session, part)
        for c in repository.corrections(session, part):  # in order: the last one stays
            last_fix[c.attendance_id] = c.corrected_by
    found = [r for r in found if r.id in counted]  # settled by the ledger
    volunteers = sorted({r.volunteer_id for r in found})
    identities = service_identities(session, volunteers)
    numbers = reveal_many(session, volunteers, keys=keys, actor=actor, reason=export.reason, now=now)
    names = repo.staff_names(session, {*last_fix.values(), *(r.created_by for r in found if r.created_by)})
    out = []
    for r in found:
        number = numbers.get(r.volunteer_id)
        id_type = identities.get(r.volunteer_id)
        gender, birth = gender_and_birth(id_type, number)
        recorder_id = last_fix.get(r.id) or r.created_by
        out.append(
            [
                r.volunteer_name,
                ID_TYPE_NAMES.get(id_type, "") if number else "",
                number or "",
                r.phone,
                gender,
                birth,
                r.org_name,
                r.title,
                _local(r.checked_in_at, tz),
                _local(r.checked_out_at, tz),
                service.hours(counted[r.id][0]),
                r.place,
                names.get(recorder_id, r.org_name) if recorder_id else r.org_name,
            ]
        )
    return out, sum(1 for v in volunteers if v not in numbers)


def service_identities(session: Session, volunteer_ids: list[int]) -> dict[int, str | None]:
    """{volunteer id: ID type} (the type is not secret; the number is `reveal_many`'s)."""
    return {vid: t for vid, (t, _) in volunteer_identity.sealed_many(session, volunteer_ids).items()}


def _aad(export_id: int) -> bytes:
    return f"linli:record-export:{export_id}".encode()


def finish(
    session: Session,
    export_id: int,
    content: bytes,
    *,
    rows: int,
    missing: int,
    keys: IdKeyring,
    now: datetime,
) -> RecordExport:
    """Keep the built file, encrypted, for `KEEP_DAYS` days (audited `record_export.built`)."""
    export = repo.locked(session, export_id)
    export.file_enc = seal_file(keys, content, _aad(export.id))
    export.sha256 = hashlib.sha256(content).hexdigest()
    export.size = len(content)
    export.rows, export.missing_identity = rows, missing
    export.status, export.error, export.built_at = "ready", None, now
    export.expires_at = now + timedelta(days=KEEP_DAYS)
    integrity.audit(
        session,
        "record_export.built",
        f"record_export:{export.id}",
        export.org_path,
        None,
        now,
        {"rows": rows, "missing_identity": missing, "sha256": export.sha256},
    )
    return export


def filename(export: RecordExport) -> str:
    return (
        f"linli-service-records-{export.period_start.isoformat()}-{export.period_end.isoformat()}"
        f"-{export.id}.{export.format}"
    )


def take_file(
    session: Session, principal: Principal, export_id: int, *, keys: IdKeyring, now: datetime
) -> tuple[RecordExport, bytes]:
    """The file, once: to the admin who asked, while they hold the grant over the county (403
    `export_grant_required` / `export_requester_only`, audited); 404 `export_not_found`; 409
    `export_not_ready`; 410 `already_downloaded`, `export_expired`. The file is wiped and the
    download recorded in the same transaction as it is read."""
    _require_staff(principal)
    export = repo.locked(session, export_id)
    counties = export_counties(principal)
    subject = f"record_export:{export_id}"
    if export is None or (counties and export.org_path not in counties):
        raise not_found("导出 Export", "export_not_found")
    if not counties:
        raise _refuse(session, principal, subject, now, "export_grant_required", {"step": "download"})
    if export.requested_by != principal.staff_user_id:
        raise _refuse(session, principal, subject, now, "export_requester_only", {"step": "download"})
    if export.downloaded_at is not None:
        raise _gone(
            "already_downloaded", "文件已下载过，每次导出只能下载一次 Downloaded already: once per export"
        )
    if export.status == "expired" or (export.expires_at is not None and export.expires_at <= now):
        raise _gone("export_expired", f"文件已超过{KEEP_DAYS}天并已删除，请重新申请 Expired; ask again")
    if export.status != "ready" or export.file_enc is None:
        raise conflict(
            "export_not_ready", "导出文件尚未生成 The file is not ready yet", export_status=export.status
        )
    try:
        content = open_file(keys, export.file_enc, _aad(export.id))
    except IdCryptError:
        raise conflict(
            "export_unreadable", "导出文件无法解密（密钥已移除？）The file does not decrypt (a key removed?)"
        ) from None
    export.file_enc = None
    export.downloaded_at, export.downloaded_by = now, principal.staff_user_id
    integrity.audit(
        session,
        "record_export.downloaded",
        subject,
        export.org_path,
        principal.staff_user_id,
        now,
        {"sha256": export.sha256, "rows": export.rows},
    )
    return export, content


def _gone(code: str, detail: str) -> LinliError:
    return LinliError(code=code, detail=detail, status=410, title="已不可下载 Gone")


def expire_files(session: Session, now: datetime) -> int:
    """Files past `expires_at` wiped (the daily sweep); their exports `expired`."""
    return repo.expire(session, now)
