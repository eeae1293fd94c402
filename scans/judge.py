"""Judging a scan by what its code is (扫码判定): the code read and checked (`subjects`), the
station and the volunteer admitted (`admit`), then a volunteer's accepted code goes to their
attendance (`decide`, under their lock) and a diner's card to the meal counter or the delivery
run (`serve_diner`). A refusal is `linli.errors.Refused`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from linli.errors import Refused
from linli.qr import InvalidCode, step_of
from meals import counter, delivery
from scans import repository
from volunteer import attendance

DUPLICATE_WINDOW = timedelta(seconds=60)
NOTHING_HELD: frozenset[int] = frozenset()


def subjects(codes, device, item, at, offline, skew, rec):
    """The code read and checked as of `at`: (code, station id, volunteer id); a diner's card
    returns the code alone (its subjects are looked up where it is served)."""
    try:
        code = codes.parse(item.payload)
    except InvalidCode:
        raise Refused("invalid_code") from None
    rec["code_kind"] = code.kind
    if code.kind == "station_code":
        if device.kind != "volunteer":
            raise Refused("not_allowed_here")
        steps = {step_of(at), step_of(at) - 1}
        if offline:
            steps |= {step_of(at - skew) - 1, step_of(at + skew)}
        if code.number not in steps:
            raise Refused("expired_code" if code.number < max(steps) else "invalid_code")
        return code, code.subject_id, device.volunteer_id
    if code.kind == "volunteer_card":
        if device.kind != "staff" or item.station_id is None:
            raise Refused("not_allowed_here")
        return code, item.station_id, code.subject_id
    if code.kind == "diner_card":
        return code, None, None
    raise Refused("not_allowed_here")


def admit(device, code, station, volunteer, rec) -> dict:
    """The station exists and the device may scan there; the volunteer exists and the card is
    current. Returns who the volunteer is, for the answer."""
    rec["station_known"] = True
    if station is None or station.station_id is None:
        raise Refused("invalid_code" if code.kind == "station_code" else "not_allowed_here")
    rec["station_id"] = station.station_id
    if device.kind == "staff" and not device.may_use(station.path, station.station_id):
        raise Refused("not_allowed_here")
    if volunteer is None:
        raise Refused("unknown_person")
    rec["volunteer_id"] = volunteer.id
    who = {"id": volunteer.id, "name": volunteer.name}
    if code.kind == "volunteer_card" and code.number != volunteer.card_version:
        raise Refused("revoked_card", volunteer=who)
    return who


def decide(
    session: Session,
    volunteer_id: int,
    who: dict,
    station_id: int,
    at: datetime,
    received_at: datetime,
    settings,
    held: frozenset[int],
) -> dict:
    """What a volunteer's accepted code does at a station at a moment, given what came before,
    under the volunteer's lock (the caller holds it): a duplicate, a check-out, a check-in, or why
    not. `held`: activities whose later attendance has closed before this (offline) scan arrived."""
    state = repository.volunteer_state(session, volunteer_id, at - DUPLICATE_WINDOW, at)
    repeated = repeat(state, station_id, at)
    if repeated is not None:
        return repeated
    if state.attendance_id is not None:  # checked in: this scan checks out, here
        return attendance.check_out(session, state, who, station_id, at, received_at)
    return attendance.check_in(
        session,
        volunteer_id,
        who,
        station_id,
        at,
        received_at,
        early_minutes=settings.early_checkin_minutes,
        held=held,
    )


def repeat(last, station_id: int, at: datetime) -> dict | None:
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


def serve_diner(session, device, code, item, rec, at, offline, settings) -> dict:
    """A diner's card at a meal point's counter, scanned by its tablet (meals.counter), or at the
    door by the volunteer on the diner's delivery run (meals.delivery)."""
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
        rec["budgets"] = result.pop("budgets", [])  # taken by the door, last (`counter.take_budgets`)
        if result["outcome"] == "rejected":
            raise Refused(
                result["reason"], **{k: v for k, v in result.items() if k in ("diner", "meal", "price")}
            )
        return result
    if item.station_id is None:
        raise Refused("not_allowed_here")
    found = counter.point_at_station(
        session, item.station_id, at.astimezone(settings.tz).date(), code.subject_id
    )
    rec["station_known"] = True
    if found is None:
        station = repository.station_path(session, item.station_id)
        rec["station_id"] = station.station_id if station else None
        raise Refused("not_allowed_here")
    point, path, slots, diner = found
    rec["station_id"] = point.station_id
    if not device.may_use(path, point.station_id):
        raise Refused("not_allowed_here")
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
        path=path,
    )
    rec["flagged"] = rec["flagged"] or result.pop("flagged", False)  # offline: served twice, held for review
    rec["budgets"] = result.pop("budgets", [])
    if result["outcome"] == "rejected":
        raise Refused(
            result["reason"], **{k: v for k, v in result.items() if k in ("diner", "meal", "price")}
        )
    return result
