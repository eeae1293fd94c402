"""The scan door (扫码入口): one entry for every scan, online (`scan_online`) or from an offline
tablet's batch (`scan_batch`). A scan is judged by what its code is (`judge`) and stored with its
answer; a replayed scan id returns the stored answer.

A scan comes either from a volunteer's phone (a station's rotating code) or from a staff tablet
at a station (a volunteer's or a diner's card). A volunteer's first accepted scan checks in, the
next checks out; a second scan within 60 seconds repeats the earlier answer as `duplicate`. A
diner's card records a meal at the counter, or a delivery at the door.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrity import service as integrity
from linli.bounds import plausible
from linli.errors import FieldError, Refused, conflict, invalid
from linli.qr import Codes
from meals import counter
from meals.models import MODES
from scans import answers, fast, judge, repository
from scans import offline as offline_scans
from scans.schemas import Device, ScanInput
from volunteer import attendance

LATE_UPLOAD = timedelta(hours=24)


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
                FieldError(
                    prefix + "scan_id", "invalid_uuid", "scan_id 应为 UUID 格式 scan_id must be a UUID"
                )
            )
    if item.scanned_at is not None:
        if item.scanned_at.tzinfo is None:
            errors.append(
                FieldError(prefix + "scanned_at", "timezone_required", "时间须带时区 Give the offset")
            )
        elif not plausible(item.scanned_at):
            errors.append(FieldError(prefix + "scanned_at", "out_of_range", "时间不合理 Implausible time"))
    if item.mode is not None and item.mode not in MODES:
        errors.append(
            FieldError(
                prefix + "mode",
                "invalid",
                "就餐方式应为 dine_in、pick_up 或 delivery 之一 Mode must be dine_in, pick_up or delivery",
            )
        )
    if errors:
        raise invalid(errors)
    return ScanInput(item.payload, item.station_id, scan_id, item.scanned_at, item.mode)


def scan_online(rt, device: Device, item: ScanInput, *, received_at: datetime) -> dict:
    """An online scan (a phone, or a tablet that is online). A volunteer's double tap, check-in or
    check-out, the commonest scans at a busy counter, is settled on a read without the volunteer's
    lock (`fast.settle`), on PostgreSQL. Anything else (every refusal, a diner's card, a walk-in, a
    repeat of an offline scan), any change since the read, and every scan on SQLite (one writer,
    no round trips: nothing to gain) is judged in full under the lock (`store`)."""
    rec: dict = {"station_id": None, "station_known": False, "received_at": received_at, "flagged": False}
    try:
        code, station_id, volunteer_id = judge.subjects(rt.codes, device, item, received_at, False, None, rec)
    except Refused:
        code = None  # refused: judged in full, under the lock
    if code is not None and code.kind != "diner_card" and not rt.settings.is_sqlite:
        with rt.statements() as conn:
            try:
                answer = fast.settle(
                    conn, device, item, code, station_id, volunteer_id, rec, received_at, rt.settings
                )
            except (Refused, IntegrityError):
                answer = None
        if answer is not None:
            return answer
    return scan_in_full(rt, device, item, received_at)


def scan_in_full(rt, device: Device, item: ScanInput, received_at: datetime) -> dict:
    with rt.tx(door=True) as session:
        return store(
            session, rt.codes, device, item, received_at=received_at, offline=False, settings=rt.settings
        )


def scan_batch(rt, device: Device, items: list[ScanInput], *, received_at: datetime) -> list[dict]:
    """An offline tablet's batch, each scan checked (`check_input`) and with its id and time:
    judged as of each scan's time, in time order, a transaction per scan or per volunteer's scans
    (a replay resumes where a cut-off upload stopped). The answers in the order sent."""
    results: dict[int, dict] = {}
    for group in offline_scans.batch_groups(rt.codes, items):
        with rt.tx(door=True) as session:
            for i in group:
                results[i] = store(
                    session,
                    rt.codes,
                    device,
                    items[i],
                    received_at=received_at,
                    offline=True,
                    settings=rt.settings,
                )
    return [results[i] for i in range(len(items))]


def store(
    session: Session,
    codes: Codes,
    device: Device,
    item: ScanInput,
    *,
    received_at: datetime,
    offline: bool,
    settings,
    tries: int = 5,
) -> dict:
    """Judge one scan and store it. Replaying a scan_id returns the stored answer unchanged. A
    meal's subsidies are taken from the funders' budgets last (`counter.take_budgets`): online,
    together with the transaction's commit, which then ends here; where other meals took a budget
    meanwhile, the scan is judged again on what is left (`tries` times)."""
    scan_id = item.scan_id or str(uuid.uuid4())
    skew = timedelta(seconds=settings.clock_skew_seconds)
    scanned_at = item.scanned_at or received_at
    # Phones scan online: judge them at the server's time. Offline tablets: at the device's time,
    # never in the future beyond the allowed skew.
    at = min(scanned_at, received_at + skew) if offline else received_at
    # A replayed online scan id is judged again and then found taken when stored: its judgement
    # is rolled back and the stored answer returned (below). No look-up first: replays are rare.
    # Offline batches are sent again whenever a tablet is unsure: look first, as judging one may
    # judge a volunteer's later scans again (`offline_scans.rewind`).
    if offline and item.scan_id is not None:
        stored = repository.scan_result(session, scan_id)
        if stored is not None and stored.device is None:
            return _archived(stored, received_at)
        if stored is not None and answers.principal_of(stored.device) == answers.principal_of(device.label):
            return stored.result
    # a batch judges a volunteer's scans in one transaction: each in a savepoint of its own
    savepoint = session.begin_nested() if offline else None
    closed_before = set(attendance.closed_here(session)) if offline else None
    rec: dict = {"station_id": None, "station_known": False, "received_at": received_at, "flagged": False}
    context: dict = {}
    try:
        if offline and received_at - scanned_at > LATE_UPLOAD:
            rec["flagged"] = True
            raise Refused("late_upload")
        result = _judge(session, codes, device, item, rec, at, offline, skew, settings)
        if offline:  # paid as usual, or held for the hub's review (docs/integrity.md)
            result |= integrity.judge_offline(
                session, device, result, claimed_at=scanned_at, received_at=received_at, tz=settings.tz
            )
    except Refused as rej:
        result = {"outcome": "rejected", "reason": rej.reason}
        context = rej.context
        rec["flagged"] = rec["flagged"] or rej.reason == "held_for_review"
    result = answers.answer(
        scan_id, result, context, station_id=rec["station_id"], scanned_at=scanned_at, received_at=received_at
    )
    if not rec["station_known"] and item.station_id is not None:
        # refused before the station was looked up: store it if it exists (a foreign key)
        station = repository.station_path(session, item.station_id)
        result["station_id"] = rec["station_id"] = station.station_id if station else None
    stored = repository.insert_scan(
        session, **answers.scan_row(device, item, result, rec, scanned_at=scanned_at, at=at, offline=offline)
    )
    if not stored:
        # The same scan id was judged at the same moment by another request, which committed
        # first: undo this judgement and answer as that one did.
        _undo(session, savepoint, closed_before)
        stored = repository.scan_result(session, scan_id)
        if stored.device is None:
            return _archived(stored, received_at)
        if answers.principal_of(stored.device) != answers.principal_of(device.label):
            # someone else's scan id: their answer (a diner's notes, a name) is not this device's to see
            return {
                **result,
                **dict.fromkeys(
                    ("volunteer", "activity", "attendance_id", "minutes", "diner", "meal", "price")
                ),
                "outcome": "rejected",
                "reason": "scan_id_taken",
                "message": answers.MESSAGES["scan_id_taken"],
            }
        return stored.result
    if rec.get("replay"):
        offline_scans.replay(session, rec["replay"], settings)
    if rec.get("budgets") and not counter.take_budgets(session, rec["budgets"], commit=savepoint is None):
        _undo(session, savepoint, closed_before)
        if tries <= 1:
            raise conflict(
                "concurrent_change",
                "补贴额度刚被同时的其他餐次用去，请重扫 Other meals took the subsidy budget just now; scan again",
            )
        return store(
            session,
            codes,
            device,
            item,
            received_at=received_at,
            offline=offline,
            settings=settings,
            tries=tries - 1,
        )
    if savepoint is not None:
        savepoint.commit()
    return result


def _undo(session: Session, savepoint, closed_before: set | None) -> None:
    """Roll back what judging one scan wrote: the transaction online, the scan's savepoint in a
    batch (and the attendances it closed, as the batch keeps them)."""
    if savepoint is None:
        session.rollback()
    else:
        savepoint.rollback()
        closed = attendance.closed_here(session)
        closed.clear()
        closed.update(closed_before)


def _archived(stored, received_at: datetime) -> dict:
    """A replay of a scan whose month was archived (`linli partitions detach`): its key remains, so
    it is still a duplicate and changes nothing, but its answer went with the month; the answer
    says only that (whoever sends it: nothing of the earlier answer is shown), with the time the
    earlier scan was judged as of as its `scanned_at`."""
    return answers.answer(
        stored.scan_id,
        {"outcome": "duplicate", "earlier_scan_id": stored.scan_id},
        {},
        station_id=None,
        scanned_at=stored.effective_at,
        received_at=received_at,
    )


def _judge(session, codes, device, item, rec, at, offline, skew, settings) -> dict:
    code, station_id, volunteer_id = judge.subjects(codes, device, item, at, offline, skew, rec)
    if code.kind == "diner_card":
        return judge.serve_diner(session, device, code, item, rec, at, offline, settings)
    # one round trip: the volunteer's row, locked (their scans are judged one at a time), and the station
    volunteer = repository.lock_volunteer_with_station(session, volunteer_id, station_id)
    station = volunteer if volunteer is not None else repository.station_path(session, station_id)
    who = judge.admit(device, code, station, volunteer, rec)

    held = offline_scans.rewind(session, volunteer.id, at, rec) if offline else judge.NOTHING_HELD
    return judge.decide(session, volunteer.id, who, station_id, at, rec["received_at"], settings, held)
