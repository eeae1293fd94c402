"""The lock-free path (快速路径), PostgreSQL only: a volunteer's double tap, check-in or check-out,
the commonest scans at a busy counter, settled on one read without the volunteer's lock and one
write, each its own transaction. The only user of `linli.db.Direct` (statements straight to
psycopg). Anything it does not settle the door judges in full (`door`), and both give the same
answers and rows (tests/scans/test_parity.py)."""

from __future__ import annotations

import uuid

from scans import answers, repository
from scans.judge import DUPLICATE_WINDOW, admit, repeat
from volunteer import attendance


def settle(conn, device, item, code, station_id, volunteer_id, rec, at, settings) -> dict | None:
    """A volunteer's online scan judged on one read without their lock (the volunteer, the station,
    the open attendance, the last accepted scan, the activity a check-in would go to) and stored
    in one statement, where that read settles it. None, or Refused or IntegrityError, with nothing
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
    - A check-in only to the activity the full judgement tries first (`judge.decide`), and only where
      it needs no more reads: a confirmed sign-up, filed with a team of its organization.
    - A repeat of an offline scan goes the full way: an offline batch may be undoing that scan's
      attendance under the lock."""
    state = repository.volunteer_station_state(
        conn, volunteer_id, station_id, at - DUPLICATE_WINDOW, at, settings.early_checkin_minutes * 60
    )
    if state is None or state.last_offline:
        return None
    who = admit(device, code, state, state, rec)
    scan_id = item.scan_id or str(uuid.uuid4())
    scanned_at = item.scanned_at or at

    def answer(result: dict) -> dict:
        return answers.answer(
            scan_id, result, {}, station_id=station_id, scanned_at=scanned_at, received_at=at
        )

    def row(answer: dict) -> dict:
        return answers.scan_row(device, item, answer, rec, scanned_at=scanned_at, at=at, offline=False)

    repeated = repeat(state, station_id, at)
    if repeated is not None:
        done = answer(repeated)
        return done if repository.insert_scan(conn, **row(done)) else None
    if state.attendance_id is not None:  # checked in: this scan checks out, here
        if state.attendance_station_id != station_id or at < state.checked_in_at:
            return None
        checked_out_at, minutes = attendance.checked_out(state.checked_in_at, state.ends_at, at)
        done = answer(
            {
                "outcome": "checked_out",
                "volunteer": who,
                "activity": attendance.activity_ref(
                    state.activity_id, state.title, state.starts_at, state.ends_at
                ),
                "attendance_id": state.attendance_id,
                "minutes": minutes,
            }
        )
        written = repository.check_out_and_store(
            conn,
            state.attendance_id,
            state.checked_in_at,
            volunteer_id,
            out_at=checked_out_at,
            minutes=minutes,
            event=attendance.closed_event(state.attendance_id, at),
            scan=row(done),
        )
        return done if written else None
    # not checked in: the activity a check-in tries first (`judge.decide`), read with the rest
    if (
        state.first_id is None
        or state.first_cancelled_at is not None
        or state.first_team_ids
        or not state.first_filed_here
        or state.first_status != "confirmed"
    ):
        return None
    done = answer(
        {
            "outcome": "checked_in",
            "volunteer": who,
            "activity": attendance.activity_ref(
                state.first_id, state.first_title, state.first_starts_at, state.first_ends_at
            ),
        }
    )
    done["attendance_id"] = repository.check_in_and_store(
        conn, state.first_id, volunteer_id, station_id, at=max(at, state.first_starts_at), scan=row(done)
    )
    return done
