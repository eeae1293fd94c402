"""Offline batches (离线批量): a tablet that lost the network uploads its scans later. They are
judged as of their scan time, in time order, a volunteer's scans together; a scan arriving after
the same volunteer's later offline scans (another tablet uploaded first) has them undone and
judged again after it (`rewind`, `replay`), as if every scan had arrived in time order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from linli.errors import Refused
from linli.qr import Codes, InvalidCode
from scans import answers, repository
from scans.judge import NOTHING_HELD, decide
from scans.schemas import ScanInput
from volunteer import attendance
from volunteer import service as volunteer_service


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


def rewind(session: Session, volunteer_id: int, at: datetime, rec: dict) -> frozenset[int]:
    """An offline scan arriving after the volunteer's later offline scans (another tablet uploaded
    first): undo what those did, so that this one is judged on what came before it, and have them
    judged again after it (`replay`), as if every scan had arrived in time order.

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
        return NOTHING_HELD
    closed_here = attendance.closed_here(session)
    if all(_undoable(row, closed_here) for row in later):
        attendance.reopen(session, [r.attendance_id for r in later if r.outcome == "checked_out"])
        closed_here.difference_update(r.attendance_id for r in later)
        repository.rewind(session, later)
        attendance.drop_open(session, [r.attendance_id for r in later if r.outcome == "checked_in"])
        rec["replay"] = later
        return NOTHING_HELD
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


def replay(session: Session, later, settings) -> None:
    """Judge again, in time order, the scans `rewind` undid, and store their new answers."""
    volunteer = volunteer_service.get(session, later[0].volunteer_id)
    who = {"id": volunteer.id, "name": volunteer.name}
    for row in later:
        context = {}
        try:
            result = decide(
                session,
                volunteer.id,
                who,
                row.station_id,
                row.effective_at,
                row.received_at,
                settings,
                NOTHING_HELD,
            )
        except Refused as rej:
            result, context = {"outcome": "rejected", "reason": rej.reason}, rej.context
        answer = answers.answer(
            row.scan_id,
            result,
            context,
            station_id=row.station_id,
            scanned_at=row.scanned_at,
            received_at=row.received_at,
        )
        repository.update_scan(session, row, answer)
