"""The scan door and attendance (扫码签到签退). One function judges every volunteer scan; the
order of checks follows the public contract, and every scan is stored with its answer.

A scan comes either from a volunteer's phone (a station's rotating code) or from a staff tablet at
a station (a volunteer's card). The first accepted scan checks in, the next checks out; a second
scan within 60 seconds repeats the earlier answer as `duplicate`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.bounds import plausible
from linli.errors import FieldError, conflict, invalid, not_found
from linli.outbox import emit
from linli.qr import Codes, InvalidCode, step_of
from orgs import service as orgs_service
from volunteer import activities, repository
from volunteer.models import CORRECTED_MINUTES, REASON_MAX, AttendanceCorrection, Volunteer

DUPLICATE_WINDOW = timedelta(seconds=60)
LATE_UPLOAD = timedelta(hours=24)

MESSAGES = {
    "checked_in": "签到成功 Checked in",
    "checked_out": "签退成功 Checked out",
    "duplicate": "刚刚已扫过 Already scanned just now",
    "invalid_code": "无法识别的二维码 Not a Linli code",
    "expired_code": "二维码已过期，请扫描最新的码 The code has expired; scan the current one",
    "revoked_card": "此卡已作废，请使用新卡 This card was replaced; use the new one",
    "unknown_person": "查无此人 Nobody has this card",
    "not_filed": "尚未加入该组织的服务队（未备案） Not filed with a team of this organization",
    "not_signed_up": "未报名此活动 Not signed up for this activity",
    "outside_window": "现在不在活动时间内 No activity here at this time",
    "capacity_full": "活动人数已满 The activity is full",
    "already_served": "本餐已领取 Already served",
    "checked_in_elsewhere": "已在其他站点签到，请先签退 Checked in elsewhere; check out there first",
    "not_allowed_here": "不能在此处使用 Not allowed here",
    "late_upload": "离线扫码上传超过24小时，待人工核查 Uploaded over 24 hours late; held for review",
    "held_for_review": "此前的离线扫码晚于已结束的考勤送达，待人工核查 "
    "An earlier offline scan arrived after this session was closed; held for review",
    "meal_served": "已供餐 Meal served",
    "scan_id_taken": "该扫码编号已被其他设备使用 This scan id was used by another device",
    "diner_paused": "该长者助餐已暂停 Meals are paused for this diner",
    "not_eligible": "不符合补贴条件，可按原价供餐 No subsidy applies; a full-price meal can be recorded",
    "other_meal_point": "不是本助餐点的长者 Registered at another meal point",
    "weekly_limit_reached": "本周补贴次数已用完 This week's subsidized meals are used up",
    "budget_exhausted": "补贴预算已用完 The subsidy budget is used up",
    "delivered": "已送达 Delivered",
    "not_on_run": "不在您认领的送餐路线上 Not on a delivery run you have taken",
    "day_closed": "当天已日结，不能再记录 The day is closed; no more meals can be recorded",
}

OUTCOMES = ("checked_in", "checked_out", "meal_served", "delivered", "duplicate", "rejected")


@dataclass(frozen=True)
class Device:
    """Who is scanning: a volunteer's phone, or a staff tablet at a station."""

    kind: str  # volunteer | staff
    label: str
    volunteer_id: int | None = None
    staff_user_id: int | None = None
    station_ids: frozenset[int] | None = None  # stations a coordinator is bound to
    org_paths: tuple[str, ...] = ()  # subtrees a staff member works in

    def may_use(self, station_org_path: str, station_id: int) -> bool:
        if self.station_ids and station_id in self.station_ids:
            return True
        return any(station_org_path.startswith(p) for p in self.org_paths)


@dataclass(frozen=True)
class ScanInput:
    payload: str
    station_id: int | None = None
    scan_id: str | None = None
    scanned_at: datetime | None = None
    mode: str | None = None  # diner cards: dine_in (default), pick_up, delivery


def check_input(item: ScanInput, index: int | None = None) -> ScanInput:
    """422 for what no scan could be; returns the scan with its id in canonical UUID form."""
    prefix = f"scans[{index}]." if index is not None else ""
    errors = []
    scan_id = item.scan_id
    if scan_id is not None:
        try:
            scan_id = str(uuid.UUID(scan_id)) if len(scan_id) <= 64 else None
        except (ValueError, AttributeError, TypeError):
            scan_id = None
        if scan_id is None:
            errors.append(
                FieldError(prefix + "scan_id", "invalid_uuid", "scan_id 应为 UUID scan_id must be a UUID")
            )
    if item.scanned_at is not None:
        if item.scanned_at.tzinfo is None:
            errors.append(
                FieldError(prefix + "scanned_at", "timezone_required", "时间须带时区 Give the offset")
            )
        elif not plausible(item.scanned_at):
            errors.append(FieldError(prefix + "scanned_at", "out_of_range", "时间不合理 Implausible time"))
    if item.mode is not None and item.mode not in ("dine_in", "pick_up", "delivery"):
        errors.append(FieldError(prefix + "mode", "invalid", "就餐方式：dine_in/pick_up/delivery"))
    if errors:
        raise invalid(errors)
    return ScanInput(item.payload, item.station_id, scan_id, item.scanned_at, item.mode)


class _Reject(Exception):
    def __init__(self, reason: str, **context) -> None:
        self.reason = reason
        self.context = context


def scan(
    session: Session,
    codes: Codes,
    device: Device,
    item: ScanInput,
    *,
    received_at: datetime,
    offline: bool,
    settings,
) -> dict:
    """Judge one scan and store it. Replaying a scan_id returns the stored answer unchanged."""
    scan_id = item.scan_id or str(uuid.uuid4())
    skew = timedelta(seconds=settings.clock_skew_seconds)
    scanned_at = item.scanned_at or received_at
    # Phones scan online: judge them at the server's time. Offline tablets: at the device's time,
    # never in the future beyond the allowed skew.
    at = min(scanned_at, received_at + skew) if offline else received_at
    # A replayed online scan id is judged again and then found taken when stored: its judgement
    # is rolled back and the stored answer returned (below). No look-up first: replays are rare.
    # Offline batches are sent again whenever a tablet is unsure: look first, as judging one may
    # judge a volunteer's later scans again (`_rewind`).
    if offline and item.scan_id is not None:
        stored = repository.scan_result(session, scan_id)
        if stored is not None and _principal_of(stored[0]) == _principal_of(device.label):
            return stored[1]
    # a batch judges a volunteer's scans in one transaction: each in a savepoint of its own
    savepoint = session.begin_nested() if offline else None
    closed_before = set(_closed_here(session)) if offline else None
    rec: dict = {"station_id": None, "station_known": False, "received_at": received_at, "flagged": False}
    context: dict = {}
    try:
        if offline and received_at - scanned_at > LATE_UPLOAD:
            rec["flagged"] = True
            raise _Reject("late_upload")
        result = _judge(session, codes, device, item, rec, at, offline, skew, settings)
    except _Reject as rej:
        result = {"outcome": "rejected", "reason": rej.reason}
        context = rej.context
        rec["flagged"] = rec["flagged"] or rej.reason == "held_for_review"
    result = _answer(
        scan_id, result, context, station_id=rec["station_id"], scanned_at=scanned_at, received_at=received_at
    )
    if not rec["station_known"] and item.station_id is not None:
        # refused before the station was looked up: store it if it exists (a foreign key)
        station = repository.station_path(session, item.station_id)
        result["station_id"] = rec["station_id"] = station.station_id if station else None
    stored = repository.insert_scan(
        session, **_scan_row(device, item, result, rec, scanned_at=scanned_at, at=at, offline=offline)
    )
    if not stored:
        # The same scan id was judged at the same moment by another request, which committed
        # first: undo this judgement and answer as that one did.
        if savepoint is None:
            session.rollback()
        else:
            savepoint.rollback()
            closed = _closed_here(session)
            closed.clear()
            closed.update(closed_before)
        stored_device, stored_result = repository.scan_result(session, scan_id)
        if _principal_of(stored_device) != _principal_of(device.label):
            # someone else's scan id: their answer (a diner's notes, a name) is not this device's to see
            return {
                **result,
                **dict.fromkeys(
                    ("volunteer", "activity", "attendance_id", "minutes", "diner", "meal", "price")
                ),
                "outcome": "rejected",
                "reason": "scan_id_taken",
                "message": MESSAGES["scan_id_taken"],
            }
        return stored_result
    if rec.get("replay"):
        _replay(session, rec["replay"], settings)
    if savepoint is not None:
        savepoint.commit()
    return result


def _scan_row(
    device: Device,
    item: ScanInput,
    answer: dict,
    rec: dict,
    *,
    scanned_at: datetime,
    at: datetime,
    offline: bool,
) -> dict:
    """A scan as it is stored, with its answer."""
    return {
        "scan_id": answer["scan_id"],
        "device": device.label[:100],
        "payload": (item.payload or "")[:300],
        "scanned_at": scanned_at,
        "received_at": rec["received_at"],
        "effective_at": at,
        "offline": offline,
        "station_id": rec["station_id"],
        "code_kind": rec.get("code_kind"),
        "volunteer_id": rec.get("volunteer_id"),
        "attendance_id": answer["attendance_id"],
        "outcome": answer["outcome"],
        "reason": answer["reason"],
        "result": answer,
        "flagged": rec["flagged"],
    }


def _answer(scan_id: str, result: dict, context: dict, *, station_id, scanned_at, received_at) -> dict:
    """A scan's answer, as the device is told and as it is stored."""
    return {
        "scan_id": scan_id,
        "outcome": result["outcome"],
        "reason": result.get("reason"),
        "message": MESSAGES.get(result.get("reason") or result["outcome"], ""),
        "station_id": station_id,
        "volunteer": result.get("volunteer") or context.get("volunteer"),
        "activity": result.get("activity") or context.get("activity"),
        "attendance_id": result.get("attendance_id"),
        "minutes": result.get("minutes"),
        "scanned_at": scanned_at.isoformat(),
        "received_at": received_at.isoformat(),
        **({"earlier_scan_id": result["earlier_scan_id"]} if "earlier_scan_id" in result else {}),
        **{
            k: result.get(k) or context.get(k)
            for k in ("diner", "meal", "price")
            if k in result or k in context
        },
    }


def batch_groups(codes: Codes, items: list[ScanInput]) -> list[list[int]]:
    """The order an offline batch is judged in: by scan time, a volunteer card's scans together
    (one transaction, so that scans of that volunteer uploaded earlier by another tablet are judged
    again among them, and nothing half-done is committed); every other scan alone."""
    groups: dict[object, list[int]] = {}
    for i in sorted(range(len(items)), key=lambda i: items[i].scanned_at):
        try:
            code = codes.parse(items[i].payload)
        except InvalidCode:
            code = None
        key = ("volunteer", code.subject_id) if code is not None and code.kind == "volunteer_card" else i
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _principal_of(device_label: str) -> str:
    """ "staff:12 tablet-3" → "staff:12": who sent a scan, whatever the device's name."""
    return device_label.split(" ", 1)[0]


def _judge(session, codes, device, item, rec, at, offline, skew, settings) -> dict:
    code, station_id, volunteer_id = _subjects(codes, device, item, at, offline, skew, rec)
    if code.kind == "diner_card":
        return _serve_diner(session, device, code, item, rec, at, offline, settings)
    # one round trip: the volunteer's row, locked (their scans are judged one at a time), and the station
    volunteer = repository.lock_volunteer_with_station(session, volunteer_id, station_id)
    station = volunteer if volunteer is not None else repository.station_path(session, station_id)
    who = _admit(device, code, station, volunteer, rec)

    held = _rewind(session, volunteer.id, at, rec) if offline else _NONE
    return _decide(session, volunteer.id, who, station_id, at, rec["received_at"], settings, held)


_NONE: frozenset[int] = frozenset()


def _subjects(codes, device, item, at, offline, skew, rec):
    """The code read and checked as of `at`: (code, station id, volunteer id); a diner's card
    returns the code alone (its subjects are looked up where it is served)."""
    try:
        code = codes.parse(item.payload)
    except InvalidCode:
        raise _Reject("invalid_code") from None
    rec["code_kind"] = code.kind
    if code.kind == "station_code":
        if device.kind != "volunteer":
            raise _Reject("not_allowed_here")
        steps = {step_of(at), step_of(at) - 1}
        if offline:
            steps |= {step_of(at - skew) - 1, step_of(at + skew)}
        if code.number not in steps:
            raise _Reject("expired_code" if code.number < max(steps) else "invalid_code")
        return code, code.subject_id, device.volunteer_id
    if code.kind == "volunteer_card":
        if device.kind != "staff" or item.station_id is None:
            raise _Reject("not_allowed_here")
        return code, item.station_id, code.subject_id
    if code.kind == "diner_card":
        return code, None, None
    raise _Reject("not_allowed_here")


def _admit(device, code, station, volunteer, rec) -> dict:
    """The station exists and the device may scan there; the volunteer exists and the card is
    current. Returns who the volunteer is, for the answer."""
    rec["station_known"] = True
    if station is None or station.station_id is None:
        raise _Reject("invalid_code" if code.kind == "station_code" else "not_allowed_here")
    rec["station_id"] = station.station_id
    if device.kind == "staff" and not device.may_use(station.path, station.station_id):
        raise _Reject("not_allowed_here")
    if volunteer is None:
        raise _Reject("unknown_person")
    rec["volunteer_id"] = volunteer.id
    who = {"id": volunteer.id, "name": volunteer.name}
    if code.kind == "volunteer_card" and code.number != volunteer.card_version:
        raise _Reject("revoked_card", volunteer=who)
    return who


def _rewind(session: Session, volunteer_id: int, at: datetime, rec: dict) -> frozenset[int]:
    """An offline scan arriving after the volunteer's later offline scans (another tablet uploaded
    first): undo what those did, so that this one is judged on what came before it, and have them
    judged again after it (`_replay`), as if every scan had arrived in time order.

    Only while nothing they did has gone further: an answer a phone or an online tablet showed at
    the time stands (someone acted on it; an offline tablet only said "saved"), and a closed
    attendance has gone to the points ledger. Then this scan is judged on the state as it is; and
    where a closed attendance ends after it, a check-in into that activity would count the same
    time twice, so it is held for review instead. Returns those activities' ids."""
    # an online refusal changed nothing: it keeps its answer and is not judged again
    later = [
        r for r in repository.later_scans(session, volunteer_id, at) if r.offline or r.outcome != "rejected"
    ]
    if not later:
        return _NONE
    closed_here = _closed_here(session)
    if all(_undoable(row, closed_here) for row in later):
        repository.reopen(
            session,
            [r.attendance_id for r in later if r.outcome == "checked_out"],
            [_closed_job_id(r.attendance_id) for r in later if r.outcome == "checked_out"],
        )
        closed_here.difference_update(r.attendance_id for r in later)
        repository.rewind(
            session, [r.id for r in later], [r.attendance_id for r in later if r.outcome == "checked_in"]
        )
        rec["replay"] = later
        return _NONE
    return frozenset(
        r.activity_id
        for r in later
        if r.attendance_state in ("closed", "auto_closed") and r.checked_out_at > at
    )


def _undoable(row, closed_here: set[int]) -> bool:
    """A stored scan whose answer can still change: judged offline, and neither a check-out nor a
    check-in whose attendance has closed since, unless that was in this same transaction (a batch's
    earlier scan of the volunteer, judged again after it): nothing of it has gone to the ledger."""
    if row.attendance_id in closed_here:
        return True
    return row.offline and row.outcome != "checked_out" and row.attendance_state in (None, "open")


def _closed_here(session: Session) -> set[int]:
    """Attendances closed in the session's transaction, not yet committed."""
    return session.info.setdefault("closed_attendances", set())


def _closed_job_id(attendance_id: int) -> str:
    return f"attendance-closed-{attendance_id}"


def _closed_event(attendance_id: int, now: datetime) -> dict:
    """The event for the points ledger when an attendance closes (`emit`'s arguments)."""
    return {
        "func": "workers.jobs.attendance_closed",
        "job_id": _closed_job_id(attendance_id),
        "args": [attendance_id],
        "queue": "points",
        "now": now,
    }


def _replay(session: Session, later, settings) -> None:
    """Judge again, in time order, the scans `_rewind` undid, and store their new answers."""
    volunteer = repository.get(session, later[0].volunteer_id)
    who = {"id": volunteer.id, "name": volunteer.name}
    for row in later:
        context = {}
        try:
            result = _decide(
                session, volunteer.id, who, row.station_id, row.effective_at, row.received_at, settings, _NONE
            )
        except _Reject as rej:
            result, context = {"outcome": "rejected", "reason": rej.reason}, rej.context
        answer = _answer(
            row.scan_id,
            result,
            context,
            station_id=row.station_id,
            scanned_at=row.scanned_at,
            received_at=row.received_at,
        )
        repository.update_scan(session, row.id, answer)


def _repeat(last, station_id: int, at: datetime) -> dict | None:
    """A second scan within a minute of the last accepted one, at the same station: a duplicate,
    the earlier answer again, changing nothing."""
    if (
        last.last_scan_id is not None
        and last.last_station_id == station_id
        and abs(at - last.last_at) <= DUPLICATE_WINDOW
    ):
        return {
            **last.last_result,
            "outcome": "duplicate",
            "reason": None,
            "earlier_scan_id": last.last_scan_id,
        }
    return None


def scan_online(rt, device: Device, item: ScanInput, *, received_at: datetime) -> dict:
    """An online scan (a phone, or a tablet that is online). A volunteer's double tap, check-in or
    check-out, the commonest scans at a busy counter, is settled on a read without the volunteer's
    lock (`_settle`), on PostgreSQL. Anything else (every refusal, a diner's card, a walk-in, a
    repeat of an offline scan), any change since the read, and every scan on SQLite (one writer,
    no round trips: nothing to gain) is judged in full under the lock (`scan`)."""
    rec: dict = {"station_id": None, "station_known": False, "received_at": received_at, "flagged": False}
    try:
        code, station_id, volunteer_id = _subjects(rt.codes, device, item, received_at, False, None, rec)
    except _Reject:
        code = None  # refused: judged in full, under the lock
    if code is not None and code.kind != "diner_card" and not rt.settings.is_sqlite:
        with rt.statements() as conn:
            try:
                answer = _settle(
                    conn, device, item, code, station_id, volunteer_id, rec, received_at, rt.settings
                )
            except (_Reject, IntegrityError):
                answer = None
        if answer is not None:
            return answer
    return _scan_in_full(rt, device, item, received_at)


def _settle(conn, device, item, code, station_id, volunteer_id, rec, at, settings) -> dict | None:
    """A volunteer's online scan judged on one read without their lock (the volunteer, the station,
    the open attendance, the last accepted scan, the activity a check-in would go to) and stored
    in one statement, where that read settles it. None, or _Reject or IntegrityError, with nothing
    written, where it does not: the caller judges the scan in full.

    - A double tap is stored with its earlier answer. A duplicate changes nothing, and what makes
      a scan one is an accepted scan within the minute before it, which is either committed (and
      read) or still being judged (not read: then this scan is a check-in or check-out below, and
      finds it there). A card reissued in the milliseconds between the read and the insert is
      refused from the next scan on. IntegrityError: the attendance it repeats was undone
      meanwhile (`_rewind`), or the scan id is taken.
    - A check-out or check-in is written with its scan in one statement that takes the
      volunteer's lock first, so an offline batch judging the same volunteer is never
      interleaved, and holds only if the read still does: the attendance it closes is still
      open; no other was opened meanwhile (`repository.check_out_and_store`, `check_in_and_store`).
      The same answers as the full judgement, save one case kept as a known limit
      (docs/reliability.md): an offline batch committing, in the same milliseconds, a check-in and
      check-out of this volunteer from the last minute.
    - A check-in only to the activity the full judgement tries first (`_decide`), and only where
      it needs no more reads: a confirmed sign-up, filed with a team of its organization.
    - A repeat of an offline scan goes the full way: an offline batch may be undoing that scan's
      attendance under the lock."""
    state = repository.volunteer_station_state(
        conn, volunteer_id, station_id, at - DUPLICATE_WINDOW, at, settings.early_checkin_minutes * 60
    )
    if state is None or state.last_offline:
        return None
    who = _admit(device, code, state, state, rec)
    scan_id = item.scan_id or str(uuid.uuid4())
    scanned_at = item.scanned_at or at

    def answer(result: dict) -> dict:
        return _answer(scan_id, result, {}, station_id=station_id, scanned_at=scanned_at, received_at=at)

    def row(answer: dict) -> dict:
        return _scan_row(device, item, answer, rec, scanned_at=scanned_at, at=at, offline=False)

    repeated = _repeat(state, station_id, at)
    if repeated is not None:
        done = answer(repeated)
        return done if repository.insert_scan(conn, **row(done)) else None
    if state.attendance_id is not None:  # checked in: this scan checks out, here
        if state.attendance_station_id != station_id or at < state.checked_in_at:
            return None
        checked_out_at, minutes = _checked_out(state.checked_in_at, state.ends_at, at)
        done = answer(
            {
                "outcome": "checked_out",
                "volunteer": who,
                "activity": _act(state.activity_id, state.title, state.starts_at, state.ends_at),
                "attendance_id": state.attendance_id,
                "minutes": minutes,
            }
        )
        written = repository.check_out_and_store(
            conn,
            state.attendance_id,
            volunteer_id,
            out_at=checked_out_at,
            minutes=minutes,
            event=_closed_event(state.attendance_id, at),
            scan=row(done),
        )
        return done if written else None
    # not checked in: the activity a check-in tries first (`_decide`), read with the rest
    if (
        state.first_id is None
        or state.first_team_ids
        or not state.first_filed_here
        or state.first_status != "confirmed"
    ):
        return None
    done = answer(
        {
            "outcome": "checked_in",
            "volunteer": who,
            "activity": _act(state.first_id, state.first_title, state.first_starts_at, state.first_ends_at),
        }
    )
    done["attendance_id"] = repository.check_in_and_store(
        conn, state.first_id, volunteer_id, station_id, at=max(at, state.first_starts_at), scan=row(done)
    )
    return done


def _scan_in_full(rt, device: Device, item: ScanInput, received_at: datetime) -> dict:
    with rt.tx() as session:
        return scan(
            session, rt.codes, device, item, received_at=received_at, offline=False, settings=rt.settings
        )


def _decide(session, volunteer_id, who, station_id, at, received_at, settings, held) -> dict:
    """What a volunteer's accepted code does at a station at a moment, given what came before,
    under the volunteer's lock (the caller holds it): a duplicate, a check-out, a check-in, or why
    not. `held`: activities whose later attendance has closed before this (offline) scan arrived."""
    state = repository.volunteer_state(session, volunteer_id, at - DUPLICATE_WINDOW, at)
    repeated = _repeat(state, station_id, at)
    if repeated is not None:
        return repeated

    if state.attendance_id is not None:  # checked in: this scan checks out, here
        if state.attendance_station_id != station_id:
            raise _Reject("checked_in_elsewhere", volunteer=who)
        activity = _act(state.activity_id, state.title, state.starts_at, state.ends_at)
        if at < state.checked_in_at:  # an offline scan from before the check-in: already in
            return {
                "outcome": "duplicate",
                "volunteer": who,
                "activity": activity,
                "attendance_id": state.attendance_id,
            }
        minutes = close(
            session,
            state.attendance_id,
            state.checked_in_at,
            state.ends_at,
            at,
            state="closed",
            now=received_at,
        )
        assert minutes is not None  # the volunteer's lock keeps it open until here
        return {
            "outcome": "checked_out",
            "volunteer": who,
            "activity": activity,
            "attendance_id": state.attendance_id,
            "minutes": minutes,
        }

    candidates = repository.window_rows(
        session, station_id, at, settings.early_checkin_minutes * 60, volunteer_id
    )
    if not candidates:
        raise _Reject("outside_window", volunteer=who)
    # named-team activities need the volunteer's teams; the rest only whether they filed in the subtree
    filed = (
        repository.approved_team_paths(session, volunteer_id) if any(a.team_ids for a in candidates) else None
    )
    # several at a shared station: the one signed up for first, then the first that admits the volunteer
    reasons = []
    for activity in candidates:
        if activity.team_ids:
            reason = activities.eligibility_problem(session, volunteer_id, activity, activity.path, filed)
        else:
            reason = None if activity.filed_here else "not_filed"
        if reason is None and activity.status != "confirmed":
            if not activity.walk_ins:
                reason = "not_signed_up"
            elif not repository.walk_in_has_place(session, activity.id, volunteer_id, activity.capacity):
                reason = "capacity_full"
        if reason is None and activity.id in held:
            repository.flag_later_attendances(session, volunteer_id, activity.id, at, "earlier_offline_scan")
            raise _Reject(
                "held_for_review",
                volunteer=who,
                activity=_act(activity.id, activity.title, activity.starts_at, activity.ends_at),
            )
        if reason is None:
            # the volunteer's row lock makes this the only open attendance (also a unique index)
            attendance_id = repository.insert_attendance(
                session,
                activity_id=activity.id,
                volunteer_id=volunteer_id,
                station_id=station_id,
                state="open",
                checked_in_at=max(at, activity.starts_at),
                flagged=False,
                created_at=received_at,
            )
            return {
                "outcome": "checked_in",
                "volunteer": who,
                "activity": _act(activity.id, activity.title, activity.starts_at, activity.ends_at),
                "attendance_id": attendance_id,
            }
        reasons.append(reason)
    order = ["not_filed", "not_allowed_here", "not_signed_up", "capacity_full"]
    raise _Reject(
        min(reasons, key=order.index),
        volunteer=who,
        activity=_act(candidates[0].id, candidates[0].title, candidates[0].starts_at, candidates[0].ends_at),
    )


def _serve_diner(session, device, code, item, rec, at, offline, settings) -> dict:
    """A diner's card at a meal point's counter, scanned by its tablet (meals.counter), or at the
    door by the volunteer on the diner's delivery run (meals.delivery)."""
    from meals import counter, delivery

    if device.kind == "volunteer":
        rec["volunteer_id"] = device.volunteer_id
        result, station_id = delivery.deliver(
            session,
            diner_id=code.subject_id,
            card_version=code.number,
            volunteer_id=device.volunteer_id,
            at=at,
            tz=settings.tz,
            device_label=device.label,
            scan_id=item.scan_id,
            offline=offline,
        )
        rec["station_id"], rec["station_known"] = station_id, station_id is not None
        rec["flagged"] = rec["flagged"] or result.pop("flagged", False)
        if result["outcome"] == "rejected":
            raise _Reject(
                result["reason"], **{k: v for k, v in result.items() if k in ("diner", "meal", "price")}
            )
        return result
    if item.station_id is None:
        raise _Reject("not_allowed_here")
    found = counter.point_at_station(session, item.station_id, code.subject_id)
    rec["station_known"] = True
    if found is None:
        station = repository.station_path(session, item.station_id)
        rec["station_id"] = station.station_id if station else None
        raise _Reject("not_allowed_here")
    point, path, slots, diner = found
    rec["station_id"] = point.station_id
    if not device.may_use(path, point.station_id):
        raise _Reject("not_allowed_here")
    result = counter.serve(
        session,
        diner=diner,
        diner_id=code.subject_id,
        card_version=code.number,
        point=point,
        slots=slots,
        at=at,
        tz=settings.tz,
        mode=item.mode or "dine_in",
        device_label=device.label,
        scan_id=item.scan_id,
        offline=offline,
    )
    rec["flagged"] = rec["flagged"] or result.pop("flagged", False)  # offline: served twice, held for review
    if result["outcome"] == "rejected":
        raise _Reject(
            result["reason"], **{k: v for k, v in result.items() if k in ("diner", "meal", "price")}
        )
    return result


def _act(activity_id: int, title: str, starts_at: datetime, ends_at: datetime) -> dict:
    """The activity as a scan's answer names it, its times in UTC (read by `_settle`: in the
    database session's time zone)."""
    return {
        "id": activity_id,
        "title": title,
        "starts_at": starts_at.astimezone(UTC).isoformat(),
        "ends_at": ends_at.astimezone(UTC).isoformat(),
    }


def close(
    session: Session,
    attendance_id: int,
    checked_in_at: datetime,
    ends_at: datetime,
    at: datetime,
    *,
    state: str,
    now: datetime,
    flag: str | None = None,
) -> int | None:
    """Close an open attendance: minutes from check-in to check-out, counted within the activity's
    window; the event for the points ledger is written in the same transaction. Returns the
    minutes, or None if it was no longer open."""
    checked_out_at, minutes = _checked_out(checked_in_at, ends_at, at)
    values = {"checked_out_at": checked_out_at, "minutes": minutes, "state": state}
    if flag:
        values |= {"flagged": True, "flag_reason": flag}
    if not repository.close_attendance(session, attendance_id, **values):
        return None  # closed meanwhile (the forgotten check-out job): nothing more to do
    # an attendance closes once (`_rewind` may undo it before commit)
    emit(session, **_closed_event(attendance_id, now), known_new=True)
    _closed_here(session).add(attendance_id)
    return minutes


def _checked_out(checked_in_at: datetime, ends_at: datetime, at: datetime) -> tuple[datetime, int]:
    """An attendance checked out at `at`: its check-out time and its minutes, counted within the
    activity's window."""
    out = min(max(at, checked_in_at), ends_at)
    return max(at, checked_in_at), max(0, int((out - checked_in_at).total_seconds() // 60))


def close_forgotten(session: Session, *, now: datetime, grace_minutes: int) -> int:
    """Attendances still open `grace` after their activity ended: closed at the scheduled end
    (so capped at the scheduled length) and flagged for a coordinator."""
    rows = repository.overdue_open_attendances(session, now - timedelta(minutes=grace_minutes))
    closed = 0
    for attendance, activity in rows:
        # the volunteer's lock, as a scan takes it; a volunteer being scanned right now waits for the next run
        if not repository.try_lock_volunteer(session, attendance.volunteer_id):
            continue
        minutes = close(
            session,
            attendance.id,
            attendance.checked_in_at,
            activity.ends_at,
            activity.ends_at,
            state="auto_closed",
            now=now,
            flag="forgot_checkout",
        )
        closed += minutes is not None
    return closed


def correct(
    session: Session,
    *,
    attendance_id: int,
    minutes: int | None,
    annul: bool,
    reason: str,
    staff_user_id: int,
    staff_paths: list[str],
    bound_station_ids: frozenset[int] = frozenset(),
    now: datetime,
) -> AttendanceCorrection:
    """A coordinator corrects the minutes, or annuls, with a reason: a new record, and an event for
    the points ledger to adjust."""
    attendance = repository.attendance(session, attendance_id, for_update=True)
    if attendance is None:
        raise not_found("考勤记录 Attendance", "attendance_not_found")
    activity = activities.get(session, attendance.activity_id)
    if attendance.station_id not in bound_station_ids:
        orgs_service.require_staff_of(staff_paths, orgs_service.get(session, activity.org_id))
    reason = (reason or "").strip()
    errors = []
    if not reason:
        errors.append(FieldError("reason", "required", "请填写理由 A reason is required"))
    elif len(reason) > REASON_MAX:
        errors.append(FieldError("reason", "length", "理由最多500字 At most 500 characters"))
    if not annul and (minutes is None or not CORRECTED_MINUTES[0] <= minutes <= CORRECTED_MINUTES[1]):
        errors.append(FieldError("minutes", "out_of_range", "分钟数应为0到1440 Minutes must be 0 to 1440"))
    if errors:
        raise invalid(errors)
    if attendance.state == "open":
        raise conflict("attendance_open", "请先签退再更正 Check out before correcting")
    if attendance.state == "annulled":
        raise conflict("attendance_annulled", "该记录已作废 This attendance is annulled")
    correction = AttendanceCorrection(
        attendance_id=attendance.id,
        minutes_before=attendance.minutes,
        minutes_after=0 if annul else minutes,
        annulled=annul,
        reason=reason,
        corrected_by=staff_user_id,
        corrected_at=now,
    )
    session.add(correction)
    attendance.minutes = correction.minutes_after
    if annul:
        attendance.state = "annulled"
    attendance.flagged = False
    session.flush()
    emit(
        session,
        func="workers.jobs.attendance_corrected",
        job_id=f"attendance-corrected-{correction.id}",
        args=[correction.id],
        now=now,
        queue="points",
    )
    return correction


def reissue_card(session: Session, volunteer_id: int) -> Volunteer:
    volunteer = repository.lock_volunteer(session, volunteer_id)
    if volunteer is None:
        raise not_found("志愿者 Volunteer", "volunteer_not_found")
    volunteer.card_version += 1
    session.flush()
    return volunteer


def attendances(session: Session, **filters):
    return repository.attendances_at(session, **filters)


def attendances_of_activity(session: Session, activity_id: int):
    return repository.attendances_of_activity(session, activity_id)
