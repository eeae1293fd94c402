"""The scan door's statements (扫码的查询): scans stored and read again, a volunteer's state for
a scan (the open attendance, the last accepted scan), and the lock-free path's one-statement
check-ins and check-outs. Built once at import: building them anew each time cost more than
running them. They return plain rows (attribute access like the models) and write with Core.

The lock-free statements compose volunteer's attendance statements (`volunteer.repository`:
WINDOW, INSERT_ATTENDANCE, CLOSE_ATTENDANCE) and the outbox into one round trip: the one place
a package reads another's repository (docs/architecture.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, bindparam, cast, false, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from linli import outbox
from linli.db import Direct
from linli.db import const as _const
from orgs.models import Organization, Station
from scans.models import Scan, ScanKey
from volunteer.models import Activity, Attendance, AttendanceKey, Volunteer
from volunteer.repository import CLOSE_ATTENDANCE, INSERT_ATTENDANCE, WINDOW


def insert_scan(session: Session | Direct, **values) -> bool:
    """Store a judged scan with its key; False, and nothing stored, if its client scan id is
    already a key (a replay). PostgreSQL: one statement, the scan inserted only where its key was;
    SQLite (one writer): the key, then the scan."""
    conn = session if isinstance(session, Direct) else session.connection()
    if conn.dialect.name == "postgresql":
        return conn.execute(_INSERT_SCAN, _scan_params(values, keep_attendance=True)).fetchone() is not None
    key = {"scan_id": values["scan_id"], "effective_at": values["effective_at"]}
    if conn.execute(_INSERT_KEY_SQLITE, key).first() is None:
        return False
    conn.execute(insert(Scan), values)
    return True


def scan_result(session: Session, scan_id: str) -> StoredScan | None:
    """A stored scan id: its key's time, and the device and answer of its scan (None where its
    month was archived: `linli partitions detach`); None if the id is no key. The key's time names
    the scan's one partition (read after the key: a join would read every month)."""
    effective_at = session.scalar(select(ScanKey.effective_at).where(ScanKey.scan_id == scan_id))
    if effective_at is None:
        return None
    row = session.execute(
        select(Scan.device, Scan.result).where(Scan.scan_id == scan_id, Scan.effective_at == effective_at)
    ).first()
    return StoredScan(scan_id, effective_at, *(row or (None, None)))


class StoredScan(NamedTuple):
    scan_id: str
    effective_at: datetime
    device: str | None
    result: dict | None


# Refusals that depend on the volunteer's state or the time, not on the code or the device: a scan
# refused for one of these is judged again when an earlier offline scan changes what came before it.
STATEFUL_REFUSALS = ("checked_in_elsewhere", "outside_window", "not_filed", "not_signed_up", "capacity_full")


def later_scans(session: Session, volunteer_id: int, at: datetime):
    """A volunteer's scans judged as of a moment after `at` whose answer came from their state
    (accepted, or refused for one of STATEFUL_REFUSALS), in time order, with the state now of the
    attendance each names."""
    q = (
        select(
            Scan.id,
            Scan.scan_id,
            Scan.volunteer_id,
            Scan.station_id,
            Scan.scanned_at,
            Scan.received_at,
            Scan.effective_at,
            Scan.offline,
            Scan.outcome,
            Scan.attendance_id,
            Attendance.state.label("attendance_state"),
            Attendance.activity_id,
            Attendance.checked_out_at,
        )
        .outerjoin(Attendance, Attendance.id == Scan.attendance_id)
        .where(
            Scan.volunteer_id == volunteer_id,
            Scan.effective_at > at,
            Scan.code_kind.in_(("station_code", "volunteer_card")),
            or_(Scan.outcome != "rejected", Scan.reason.in_(STATEFUL_REFUSALS)),
        )
        .order_by(Scan.effective_at, Scan.id)
    )
    return list(session.execute(q))


def rewind(session: Session, scans) -> None:
    """Undo scans (`later_scans`' rows) to judge them again (`offline.replay`, in the same
    transaction): until then they count as refused and name no attendance (the attendances they
    opened are then deleted: `volunteer.attendance.drop_open`). Every scan naming those attendances
    is among them: a scan names an attendance only from its check-in on. Their times bound the
    months read (partitions)."""
    session.execute(
        update(Scan)
        .where(Scan.id.in_([r.id for r in scans]), Scan.effective_at >= min(r.effective_at for r in scans))
        .values(outcome="rejected", attendance_id=None)
    )


def update_scan(session: Session, scan, answer: dict) -> None:
    """A scan (a `later_scans` row) judged again: its new answer. Its time names its month."""
    session.execute(
        update(Scan)
        .where(Scan.id == scan.id, Scan.effective_at == scan.effective_at)
        .values(
            outcome=answer["outcome"],
            reason=answer["reason"],
            attendance_id=answer["attendance_id"],
            result=answer,
        )
    )


_STATION_PATH = (
    select(Station.id.label("station_id"), Organization.path)
    .join(Organization, Organization.id == Station.org_id)
    .where(Station.id == bindparam("station_id"))
)
_VOLUNTEER_AND_STATION = select(
    Volunteer.id,
    Volunteer.name,
    Volunteer.card_version,
    select(Station.id).where(Station.id == bindparam("station_id")).scalar_subquery().label("station_id"),
    select(Organization.path)
    .join(Station, Station.org_id == Organization.id)
    .where(Station.id == bindparam("station_id"))
    .scalar_subquery()
    .label("path"),
).where(Volunteer.id == bindparam("volunteer_id"))
# FOR NO KEY UPDATE: scans of one volunteer still queue for it, but a duplicate stored meanwhile
# (its foreign key takes FOR KEY SHARE on the volunteer) does not wait
_LOCK_WITH_STATION = _VOLUNTEER_AND_STATION.with_for_update(of=Volunteer, key_share=True)
_LATEST_SCAN_ID = (
    select(Scan.id)
    .where(
        Scan.volunteer_id == bindparam("volunteer_id"),
        # not in_(): its expanding parameter would render the SQL again for every scan
        or_(Scan.outcome == _const("checked_in"), Scan.outcome == _const("checked_out")),
        Scan.effective_at >= bindparam("since"),
        # not a later one: an offline batch uploaded after another tablet's later scans of the
        # same volunteer would otherwise compare a double tap with those and miss the scan it repeats
        Scan.effective_at <= bindparam("at"),
    )
    .order_by(Scan.effective_at.desc(), Scan.id.desc())  # ties: the last stored
    .limit(_const(1))
    .scalar_subquery()
)
_LastScan = aliased(Scan)
# a volunteer's state for the scan door: the open attendance (with its activity) and the last
# accepted scan in a window (None where there is none)
_STATE_COLUMNS = (
    Attendance.id.label("attendance_id"),
    Attendance.station_id.label("attendance_station_id"),
    Attendance.checked_in_at,
    Activity.id.label("activity_id"),
    Activity.title,
    Activity.starts_at,
    Activity.ends_at,
    _LastScan.scan_id.label("last_scan_id"),
    _LastScan.station_id.label("last_station_id"),
    _LastScan.effective_at.label("last_at"),
    _LastScan.result.label("last_result"),
    _LastScan.offline.label("last_offline"),
)


def _with_state(q):
    # the open attendance through its key (one per volunteer, unpartitioned), then in its month only
    return (
        q.select_from(Volunteer)
        .outerjoin(AttendanceKey, and_(AttendanceKey.volunteer_id == Volunteer.id, AttendanceKey.open))
        .outerjoin(
            Attendance,
            and_(
                Attendance.id == AttendanceKey.id,
                Attendance.checked_in_at == AttendanceKey.checked_in_at,
                Attendance.state == _const("open"),
            ),
        )
        .outerjoin(Activity, Activity.id == Attendance.activity_id)
        .outerjoin(_LastScan, _LastScan.id == _LATEST_SCAN_ID)
    )


_STATE = _with_state(select(*_STATE_COLUMNS)).where(Volunteer.id == bindparam("volunteer_id"))
# the one a check-in tries first, for a volunteer not checked in (the outer query's attendance)
_FIRST_IN_WINDOW = WINDOW.where(Attendance.id.is_(None)).limit(_const(1)).lateral("first_in_window")
_VOLUNTEER_STATION_STATE = _with_state(
    _VOLUNTEER_AND_STATION.add_columns(
        *_STATE_COLUMNS,
        *(
            _FIRST_IN_WINDOW.c[n].label(f"first_{n}")
            for n in (
                "id",
                "title",
                "starts_at",
                "ends_at",
                "team_ids",
                "filed_here",
                "status",
                "cancelled_at",
            )
        ),
    )
).outerjoin(_FIRST_IN_WINDOW, true())
# A check-in or check-out judged on a read without the volunteer's lock (`fast.settle`),
# written in one statement (PostgreSQL: data-modifying CTEs; one round trip, its own transaction).
# The write takes the volunteer's lock first, then holds only if the read still does: the
# attendance it closes is still open (else nothing is written); no other was opened meanwhile
# (else the unique index on open attendances fails the whole statement). The scan is stored
# with it, once per row written; a scan id already stored fails the whole statement too.
_VOLUNTEER_LOCKED = (
    select(Volunteer.id)
    .where(Volunteer.id == bindparam("lock_volunteer_id"))  # not a column's name: SQLAlchemy keeps those
    .with_for_update(key_share=True)
    .scalar_subquery()
)
_SCAN_COLUMNS = (
    "scan_id",
    "device",
    "payload",
    "scanned_at",
    "received_at",
    "effective_at",
    "offline",
    "station_id",
    "code_kind",
    "volunteer_id",
    "outcome",
    "reason",
    "flagged",
)


def _stored_with(attendance, result):
    """The scan (parameters scan_<column>), inserted once per row of `attendance`, with its id."""
    columns = Scan.__table__.c
    return (
        insert(Scan)
        .from_select(
            [*_SCAN_COLUMNS, "attendance_id", "result"],
            select(
                *(bindparam(f"scan_{n}", type_=columns[n].type) for n in _SCAN_COLUMNS),
                attendance.c.id,
                result,
            ).select_from(attendance),
        )
        .returning(Scan.attendance_id)
    )


def _key_of(rows):
    """The scan's key (parameters scan_scan_id, scan_effective_at), inserted once per row of
    `rows`; no ON CONFLICT: a key already there fails the whole statement (IntegrityError)."""
    columns = ScanKey.__table__.c
    return insert(ScanKey).from_select(
        ["scan_id", "effective_at"],
        select(
            bindparam("scan_scan_id", type_=columns.scan_id.type),
            bindparam("scan_effective_at", type_=columns.effective_at.type),
        ).select_from(rows),
    )


# a judged scan (`insert_scan`, PostgreSQL): its key, and the scan only where the key was new
_KEY_ADDED = (
    pg_insert(ScanKey)
    .values(scan_id=bindparam("scan_scan_id"), effective_at=bindparam("scan_effective_at"))
    .on_conflict_do_nothing(index_elements=["scan_id"])
    .returning(ScanKey.scan_id)
    .cte("key_added")
)
_INSERT_SCAN = (
    insert(Scan)
    .from_select(
        [*_SCAN_COLUMNS, "attendance_id", "result"],
        select(
            *(bindparam(f"scan_{n}", type_=Scan.__table__.c[n].type) for n in _SCAN_COLUMNS),
            bindparam("scan_attendance_id", type_=Scan.__table__.c.attendance_id.type),
            bindparam("scan_result", type_=Scan.result.type),
        ).select_from(_KEY_ADDED),
    )
    .returning(Scan.id)
    .add_cte(_KEY_ADDED)
)
_INSERT_KEY_SQLITE = (
    sqlite_insert(ScanKey).on_conflict_do_nothing(index_elements=["scan_id"]).returning(ScanKey.scan_id)
)
_CLOSED = (
    CLOSE_ATTENDANCE.where(Attendance.volunteer_id == _VOLUNTEER_LOCKED)
    .values(
        checked_out_at=bindparam("out_at", type_=Attendance.checked_out_at.type),
        minutes=bindparam("out_minutes", type_=Attendance.minutes.type),
        state=_const("closed"),
    )
    .returning(Attendance.id)
    .cte("closed")
)
_CHECK_OUT = (
    _stored_with(_CLOSED, bindparam("scan_result", type_=Scan.result.type))
    .add_cte(_CLOSED)
    .add_cte(outbox.emitted_with(_CLOSED))
    .add_cte(_key_of(_CLOSED).cte("closed_key"))
)
_OPENED = INSERT_ATTENDANCE.values(
    activity_id=bindparam("in_activity_id"),
    volunteer_id=_VOLUNTEER_LOCKED,
    station_id=bindparam("in_station_id"),
    state=_const("open"),
    checked_in_at=bindparam("in_at"),
    flagged=false(),
    created_at=bindparam("in_created_at"),
).cte("opened")
# the answer stored names the attendance, whose id is known only here
_CHECK_IN = _stored_with(
    _OPENED,
    cast(
        cast(bindparam("scan_result", type_=Scan.result.type), JSONB).op("||")(
            func.jsonb_build_object(_const("attendance_id"), _OPENED.c.id)
        ),
        Scan.result.type,
    ),
).add_cte(_OPENED, _key_of(_OPENED).cte("opened_key"))


def lock_volunteer_with_station(session: Session, volunteer_id: int, station_id: int):
    """The volunteer's row, locked, with the named station's id (None if there is none) and its
    organization's path: one round trip; None if there is no such volunteer."""
    return (
        session.connection()
        .execute(_LOCK_WITH_STATION, {"volunteer_id": volunteer_id, "station_id": station_id})
        .first()
    )


def volunteer_station_state(
    conn: Direct, volunteer_id: int, station_id: int, since: datetime, at: datetime, early_seconds: int
):
    """Without a lock, in one round trip: the volunteer and the named station (as
    `lock_volunteer_with_station`) with the volunteer's state (as `volunteer_state`) and, if they
    are not checked in, the activity a check-in tries first among `window_rows` (columns first_*);
    None if there is no such volunteer."""
    params = {
        "volunteer_id": volunteer_id,
        "station_id": station_id,
        "since": since,
        "at": at,
        "latest_start": at + timedelta(seconds=early_seconds),
    }
    return conn.execute(_VOLUNTEER_STATION_STATE, params).fetchone()


def station_path(session: Session, station_id: int):
    return session.connection().execute(_STATION_PATH, {"station_id": station_id}).first()


def volunteer_state(session: Session, volunteer_id: int, since: datetime, at: datetime):
    """After the lock: the open attendance (with its activity) and the last accepted scan from
    `since` to `at`, in one round trip. Columns are None where there is none."""
    return (
        session.connection().execute(_STATE, {"volunteer_id": volunteer_id, "since": since, "at": at}).one()
    )


def _scan_params(scan: dict, *, keep_attendance: bool = False) -> dict:
    """`insert_scan`'s values as the statements' parameters (scan_<column>); in the lock-free
    check-in and check-out the attendance comes from the write."""
    return {f"scan_{k}": v for k, v in scan.items() if keep_attendance or k != "attendance_id"}


def check_out_and_store(
    conn: Direct,
    attendance_id: int,
    checked_in_at: datetime,
    volunteer_id: int,
    *,
    out_at: datetime,
    minutes: int,
    event: dict,
    scan: dict,
) -> bool:
    """In one statement (PostgreSQL), under the volunteer's lock: close the attendance, write its
    event for the ledger (`event`: `outbox.emit`'s arguments) and store the scan (`scan`: `insert_scan`'s
    values). False, and nothing written, if the attendance is no longer open. IntegrityError if
    the scan id is taken."""
    params = {
        "attendance_id": attendance_id,
        "attendance_checked_in_at": checked_in_at,
        "lock_volunteer_id": volunteer_id,
        "out_at": out_at,
        "out_minutes": minutes,
        **{f"outbox_{k}": v for k, v in event.items()},
        **_scan_params(scan),
    }
    return conn.execute(_CHECK_OUT, params).fetchone() is not None


def check_in_and_store(
    conn: Direct, activity_id: int, volunteer_id: int, station_id: int, *, at: datetime, scan: dict
) -> int:
    """In one statement (PostgreSQL), under the volunteer's lock: open an attendance checked in
    at `at` and store the scan (`insert_scan`'s values; its answer gains the attendance's id).
    Returns the attendance's id. IntegrityError, and nothing written, if the volunteer has an open
    attendance now or the scan id is taken."""
    params = {
        "lock_volunteer_id": volunteer_id,
        "in_activity_id": activity_id,
        "in_station_id": station_id,
        "in_at": at,
        "in_created_at": scan["received_at"],
        **_scan_params(scan),
    }
    return conn.execute(_CHECK_IN, params).fetchone()[0]
