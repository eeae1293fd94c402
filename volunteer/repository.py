"""Queries on volunteers, filings, decisions and invitations."""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from linli.db import Direct
from orgs.models import Organization, Station
from volunteer.models import Filing, FilingDecision, TeamInvitation, Volunteer


def get(session: Session, volunteer_id: int) -> Volunteer | None:
    return session.get(Volunteer, volunteer_id)


def by_phone(session: Session, phone: str) -> Volunteer | None:
    return session.scalar(select(Volunteer).where(Volunteer.phone == phone))


def id_hash_taken(session: Session, hashes: list[str]) -> bool:
    return session.scalar(select(Volunteer.id).where(Volunteer.id_hash.in_(hashes)).limit(1)) is not None


def live_filing(session: Session, volunteer_id: int, team_id: int) -> Filing | None:
    return session.scalar(
        select(Filing).where(
            Filing.volunteer_id == volunteer_id,
            Filing.team_id == team_id,
            Filing.status.in_(("pending", "approved")),
        )
    )


def filing(session: Session, filing_id: int, *, for_update: bool = False) -> Filing | None:
    q = select(Filing).where(Filing.id == filing_id)
    return session.scalar(q.with_for_update() if for_update else q)


def filings_of_volunteer(session: Session, volunteer_id: int) -> list[tuple[Filing, Organization]]:
    q = (
        select(Filing, Organization)
        .join(Organization, Organization.id == Filing.team_id)
        .where(Filing.volunteer_id == volunteer_id)
        .order_by(Filing.id.desc())
    )
    return [(f, o) for f, o in session.execute(q)]


def filings_in_subtrees(
    session: Session, paths: list[str], *, status: str | None, team_id: int | None, after_id: int, limit: int
) -> list[tuple[Filing, Organization, Volunteer]]:
    if not paths:
        return []
    q = (
        select(Filing, Organization, Volunteer)
        .join(Organization, Organization.id == Filing.team_id)
        .join(Volunteer, Volunteer.id == Filing.volunteer_id)
        .where(or_(*(Organization.path.startswith(p) for p in paths)), Filing.id > after_id)
    )
    if status:
        q = q.where(Filing.status == status)
    if team_id:
        q = q.where(Filing.team_id == team_id)
    return [(f, o, v) for f, o, v in session.execute(q.order_by(Filing.id).limit(limit))]


def decisions_of(session: Session, filing_id: int) -> list[FilingDecision]:
    return list(
        session.scalars(
            select(FilingDecision).where(FilingDecision.filing_id == filing_id).order_by(FilingDecision.id)
        )
    )


def open_invitation(session: Session, team_id: int, phone: str) -> TeamInvitation | None:
    return session.scalar(
        select(TeamInvitation)
        .where(
            TeamInvitation.team_id == team_id, TeamInvitation.phone == phone, TeamInvitation.used_at.is_(None)
        )
        .limit(1)
    )


# --- activities, sign-ups, attendance ----------------------------------------------------------

from datetime import datetime, timedelta  # noqa: E402

from sqlalchemy import false, func, true  # noqa: E402

from volunteer.models import Activity, Attendance, Scan, Shift, Signup  # noqa: E402


def activity(session: Session, activity_id: int, *, for_update: bool = False) -> Activity | None:
    q = select(Activity).where(Activity.id == activity_id)
    return session.scalar(q.with_for_update() if for_update else q)


def clashing_activity(
    session: Session, station_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None
) -> Activity | None:
    q = select(Activity).where(
        Activity.station_id == station_id, Activity.starts_at < ends_at, Activity.ends_at > starts_at
    )
    if exclude_id is not None:
        q = q.where(Activity.id != exclude_id)
    return session.scalar(q.order_by(Activity.starts_at).limit(1))


def activities(
    session: Session,
    *,
    station_id: int | None,
    org_paths: list[str] | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    after_id: int,
    limit: int,
) -> list[Activity]:
    q = select(Activity).where(Activity.id > after_id)
    if station_id is not None:
        q = q.where(Activity.station_id == station_id)
    if org_paths is not None:
        q = q.join(Organization, Organization.id == Activity.org_id).where(
            or_(*(Organization.path.startswith(p) for p in org_paths))
        )
    if starts_from is not None:
        q = q.where(Activity.starts_at >= starts_from)
    if starts_before is not None:
        q = q.where(Activity.starts_at < starts_before)
    return list(session.scalars(q.order_by(Activity.id).limit(limit)))


def live_signup(session: Session, activity_id: int, volunteer_id: int) -> Signup | None:
    return session.scalar(
        select(Signup).where(
            Signup.activity_id == activity_id,
            Signup.volunteer_id == volunteer_id,
            Signup.status != "cancelled",
        )
    )


def confirmed_count(session: Session, activity_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == activity_id, Signup.status == "confirmed")
    )


def first_waitlisted(session: Session, activity_id: int) -> Signup | None:
    return session.scalar(
        select(Signup)
        .where(Signup.activity_id == activity_id, Signup.status == "waitlisted")
        .order_by(Signup.id)
        .limit(1)
    )


def overlapping_signup(
    session: Session, volunteer_id: int, starts_at: datetime, ends_at: datetime, exclude: int
):
    return session.scalar(
        select(Activity)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.volunteer_id == volunteer_id,
            Signup.status != "cancelled",
            Activity.id != exclude,
            Activity.starts_at < ends_at,
            Activity.ends_at > starts_at,
        )
        .limit(1)
    )


def signups_of(session: Session, activity_id: int) -> list[tuple[Signup, Volunteer]]:
    q = (
        select(Signup, Volunteer)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.activity_id == activity_id, Signup.status != "cancelled")
        .order_by(Signup.id)
    )
    return [(s, v) for s, v in session.execute(q)]


def lock_volunteer(session: Session, volunteer_id: int) -> Volunteer | None:
    """Scans of one volunteer are judged one at a time (row lock; SQLite serialises writers anyway)."""
    return session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id).with_for_update())


def attendance(session: Session, attendance_id: int, *, for_update: bool = False) -> Attendance | None:
    q = select(Attendance).where(Attendance.id == attendance_id)
    return session.scalar(q.with_for_update() if for_update else q)


def insert_scan(session: Session | Direct, **values) -> bool:
    """Store a judged scan; False if its client scan id is already stored (a concurrent replay)."""
    if isinstance(session, Direct):
        return session.execute(_insert_scan("postgresql"), values).fetchone() is not None
    conn = session.connection()
    return conn.execute(_insert_scan(conn.dialect.name), values).scalar() is not None


def _insert_scan(dialect: str):
    stmt = _INSERT_SCAN.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(Scan).on_conflict_do_nothing(index_elements=["scan_id"]).returning(Scan.id)
        _INSERT_SCAN[dialect] = stmt
    return stmt


_INSERT_SCAN: dict = {}


def scan_result(session: Session, scan_id: str) -> tuple[str, dict] | None:
    """The device that sent a stored scan, and the answer it was given; None if there is none."""
    row = session.execute(select(Scan.device, Scan.result).where(Scan.scan_id == scan_id)).first()
    return None if row is None else tuple(row)


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


def rewind(session: Session, scan_row_ids: list[int], attendance_ids: list[int]) -> None:
    """Undo scans to judge them again (`checkin._replay`, in the same transaction): until then they
    count as refused and name no attendance, and the attendances they opened (still open: nothing
    has gone to the ledger) are gone. Every scan naming those attendances is among them: a scan
    names an attendance only from its check-in on."""
    session.execute(
        update(Scan).where(Scan.id.in_(scan_row_ids)).values(outcome="rejected", attendance_id=None)
    )
    if attendance_ids:
        # rare (a volunteer's session split across tablets that uploaded in reverse): the foreign
        # key's check reads scans without an index on attendance_id, which every scan would pay for
        session.execute(
            delete(Attendance).where(Attendance.id.in_(attendance_ids), Attendance.state == "open")
        )


def reopen(session: Session, attendance_ids: list[int], job_ids: list[str]) -> None:
    """Check-outs made earlier in this same transaction, undone with the ledger's event they wrote
    (nothing of them is committed yet)."""
    from linli.outbox import OutboxMessage

    if attendance_ids:
        session.execute(
            update(Attendance)
            .where(Attendance.id.in_(attendance_ids))
            .values(state="open", checked_out_at=None, minutes=None)
        )
        session.execute(delete(OutboxMessage).where(OutboxMessage.job_id.in_(job_ids)))


def update_scan(session: Session, scan_row_id: int, answer: dict) -> None:
    """A scan judged again: its new answer."""
    session.execute(
        update(Scan)
        .where(Scan.id == scan_row_id)
        .values(
            outcome=answer["outcome"],
            reason=answer["reason"],
            attendance_id=answer["attendance_id"],
            result=answer,
        )
    )


def flag_later_attendances(session: Session, volunteer_id: int, activity_id: int, after: datetime, why: str):
    """A volunteer's closed attendances at an activity that end after a moment: for a coordinator."""
    session.execute(
        update(Attendance)
        .where(
            Attendance.volunteer_id == volunteer_id,
            Attendance.activity_id == activity_id,
            Attendance.checked_out_at > after,
            Attendance.state.in_(("closed", "auto_closed")),
        )
        .values(flagged=True, flag_reason=why)
    )


def overdue_open_attendances(session: Session, ended_before: datetime) -> list[tuple[Attendance, Activity]]:
    q = (
        select(Attendance, Activity)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.state == "open", Activity.ends_at < ended_before)
        .with_for_update(of=Attendance, skip_locked=True)
    )
    return [(a, act) for a, act in session.execute(q)]


def attendances_at(
    session: Session,
    *,
    station_ids: list[int] | None,
    org_paths: list[str],
    bound_station_ids: frozenset[int] = frozenset(),
    state: str | None,
    flagged: bool | None,
    after_id: int,
    limit: int,
) -> list[tuple[Attendance, Activity, Volunteer]]:
    q = (
        select(Attendance, Activity, Volunteer)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Attendance.id > after_id)
    )
    if station_ids is not None:
        q = q.where(Attendance.station_id.in_(station_ids))
    scope = [Organization.path.startswith(p) for p in org_paths]
    if bound_station_ids:
        scope.append(Attendance.station_id.in_(bound_station_ids))
    q = q.where(or_(*scope)) if scope else q.where(false())
    if state:
        q = q.where(Attendance.state == state)
    if flagged is not None:
        q = q.where(Attendance.flagged == flagged)
    return [(a, act, v) for a, act, v in session.execute(q.order_by(Attendance.id).limit(limit))]


def shift_activity_exists(session: Session, shift_id: int, starts_at: datetime) -> bool:
    q = select(Activity.id).where(Activity.shift_id == shift_id, Activity.starts_at == starts_at)
    return session.scalar(q) is not None


def all_shifts(session: Session) -> list[Shift]:
    return list(session.scalars(select(Shift).order_by(Shift.id)))


def attendances_of_activity(session: Session, activity_id: int) -> list[tuple[Attendance, Volunteer]]:
    q = (
        select(Attendance, Volunteer)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .where(Attendance.activity_id == activity_id)
        .order_by(Attendance.id)
    )
    return [(a, v) for a, v in session.execute(q)]


def approved_members(session: Session, team_id: int) -> list[Volunteer]:
    q = (
        select(Volunteer)
        .join(Filing, Filing.volunteer_id == Volunteer.id)
        .where(Filing.team_id == team_id, Filing.status == "approved")
        .order_by(Volunteer.id)
    )
    return list(session.scalars(q))


# --- the scan door's statements, built once ----------------------------------------------------
# A scan runs about eight statements; building them anew each time cost more than running them.
# These return plain rows (attribute access like the models) and write with Core statements.

from sqlalchemy import bindparam, cast, insert  # noqa: E402
from sqlalchemy.dialects.postgresql import JSONB  # noqa: E402

from linli import outbox  # noqa: E402
from linli.db import const as _const  # noqa: E402

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
    return (
        q.select_from(Volunteer)
        .outerjoin(
            Attendance, and_(Attendance.volunteer_id == Volunteer.id, Attendance.state == _const("open"))
        )
        .outerjoin(Activity, Activity.id == Attendance.activity_id)
        .outerjoin(_LastScan, _LastScan.id == _LATEST_SCAN_ID)
    )


_STATE = _with_state(select(*_STATE_COLUMNS)).where(Volunteer.id == bindparam("volunteer_id"))
_Team = aliased(Organization)
_FILED_HERE = (
    select(Filing.id)
    .join(_Team, _Team.id == Filing.team_id)
    .where(
        Filing.volunteer_id == bindparam("volunteer_id"),
        Filing.status == _const("approved"),
        _Team.path.startswith(Organization.path),
    )
    .exists()
)
_WINDOW = (
    select(
        _FILED_HERE.label("filed_here"),
        Activity.id,
        Activity.title,
        Activity.starts_at,
        Activity.ends_at,
        Activity.capacity,
        Activity.walk_ins,
        Activity.team_ids,
        Activity.org_id,
        Organization.path,
        Signup.status,
    )
    .join(Organization, Organization.id == Activity.org_id)
    .outerjoin(
        Signup,
        and_(
            Signup.activity_id == Activity.id,
            Signup.volunteer_id == bindparam("volunteer_id"),
            Signup.status != _const("cancelled"),
        ),
    )
    .where(
        Activity.station_id == bindparam("station_id"),
        Activity.starts_at <= bindparam("latest_start"),
        Activity.ends_at >= bindparam("at"),
    )
    # in the order a check-in tries them (`checkin._decide`): signed up for first, then starting first
    .order_by(Signup.status.is_(None), Activity.starts_at, Activity.id)
)
# the one a check-in tries first, for a volunteer not checked in (the outer query's attendance)
_FIRST_IN_WINDOW = _WINDOW.where(Attendance.id.is_(None)).limit(_const(1)).lateral("first_in_window")
_VOLUNTEER_STATION_STATE = _with_state(
    _VOLUNTEER_AND_STATION.add_columns(
        *_STATE_COLUMNS,
        *(
            _FIRST_IN_WINDOW.c[n].label(f"first_{n}")
            for n in ("id", "title", "starts_at", "ends_at", "team_ids", "filed_here", "status")
        ),
    )
).outerjoin(_FIRST_IN_WINDOW, true())
_FILED = (
    select(Organization.id, Organization.path)
    .join(Filing, Filing.team_id == Organization.id)
    .where(Filing.volunteer_id == bindparam("volunteer_id"), Filing.status == _const("approved"))
)
_TAKEN = select(
    select(func.count())
    .select_from(Signup)
    .where(Signup.activity_id == bindparam("activity_id"), Signup.status == _const("confirmed"))
    .scalar_subquery(),
    select(func.count(Attendance.volunteer_id.distinct()))
    .where(
        Attendance.activity_id == bindparam("activity_id"),
        Attendance.state != _const("annulled"),
        Attendance.volunteer_id.not_in(
            select(Signup.volunteer_id).where(
                Signup.activity_id == bindparam("activity_id"), Signup.status == _const("confirmed")
            )
        ),
    )
    .scalar_subquery(),
)
_ATTENDED = (
    select(Attendance.id)
    .where(
        Attendance.activity_id == bindparam("activity_id"),
        Attendance.volunteer_id == bindparam("volunteer_id"),
        Attendance.state != _const("annulled"),
    )
    .limit(_const(1))
)
_LOCK_ACTIVITY = select(Activity.id).where(Activity.id == bindparam("activity_id")).with_for_update()
_INSERT_ATTENDANCE = insert(Attendance).returning(Attendance.id)
_CLOSE_ATTENDANCE = update(Attendance).where(
    Attendance.id == bindparam("attendance_id"), Attendance.state == _const("open")
)
# A check-in or check-out judged on a read without the volunteer's lock (`checkin._settle`),
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


_CLOSED = (
    _CLOSE_ATTENDANCE.where(Attendance.volunteer_id == _VOLUNTEER_LOCKED)
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
)
_OPENED = _INSERT_ATTENDANCE.values(
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
).add_cte(_OPENED)


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


def try_lock_volunteer(session: Session, volunteer_id: int) -> bool:
    """The volunteer's scan lock if free now (PostgreSQL skips a locked row; SQLite has one writer)."""
    q = select(Volunteer.id).where(Volunteer.id == volunteer_id).with_for_update(skip_locked=True)
    return session.connection().execute(q).first() is not None


def volunteer_state(session: Session, volunteer_id: int, since: datetime, at: datetime):
    """After the lock: the open attendance (with its activity) and the last accepted scan from
    `since` to `at`, in one round trip. Columns are None where there is none."""
    return (
        session.connection().execute(_STATE, {"volunteer_id": volunteer_id, "since": since, "at": at}).one()
    )


def window_rows(session: Session, station_id: int, at: datetime, early_seconds: int, volunteer_id: int):
    """Activities at a station whose window (with the early allowance) holds a moment, with their
    organization's path and the volunteer's live sign-up status: the signed-up ones first, then by
    start."""
    params = {
        "station_id": station_id,
        "at": at,
        "latest_start": at + timedelta(seconds=early_seconds),
        "volunteer_id": volunteer_id,
    }
    return list(session.connection().execute(_WINDOW, params))


def approved_team_paths(session: Session, volunteer_id: int) -> list[tuple[int, str]]:
    return [(i, p) for i, p in session.connection().execute(_FILED, {"volunteer_id": volunteer_id})]


def walk_in_has_place(session: Session, activity_id: int, volunteer_id: int, capacity: int) -> bool:
    """Whether a volunteer without a confirmed sign-up may check in: someone who already attended
    this activity keeps the place; otherwise confirmed sign-ups plus distinct walk-ins must leave
    room. The activity row is locked so two walk-ins cannot take the last place together."""
    session.connection().execute(_LOCK_ACTIVITY, {"activity_id": activity_id})
    if (
        session.connection()
        .execute(_ATTENDED, {"activity_id": activity_id, "volunteer_id": volunteer_id})
        .first()
    ):
        return True
    confirmed, walk_ins = session.connection().execute(_TAKEN, {"activity_id": activity_id}).one()
    return confirmed + walk_ins < capacity


def insert_attendance(session: Session, **values) -> int:
    return session.connection().execute(_INSERT_ATTENDANCE, values).scalar_one()


def close_attendance(session: Session, attendance_id: int, **values) -> bool:
    """Close an open attendance; False if it was no longer open."""
    params = {"attendance_id": attendance_id, **values}
    return session.connection().execute(_CLOSE_ATTENDANCE, params).rowcount == 1


def _scan_params(scan: dict) -> dict:
    """`insert_scan`'s values as `_stored_with`'s parameters (the attendance comes from the write)."""
    return {f"scan_{k}": v for k, v in scan.items() if k != "attendance_id"}


def check_out_and_store(
    conn: Direct,
    attendance_id: int,
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
        "lock_volunteer_id": volunteer_id,
        "out_at": out_at,
        "out_minutes": minutes,
        **{f"event_{k}": v for k, v in event.items()},
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


# --- read by points (积分读取) ------------------------------------------------------------------

from volunteer.models import AttendanceCorrection  # noqa: E402


def lock_volunteers_of_attendances(session: Session, attendance_ids) -> None:
    session.execute(
        select(Volunteer.id)
        .where(Volunteer.id.in_(select(Attendance.volunteer_id).where(Attendance.id.in_(attendance_ids))))
        .order_by(Volunteer.id)
        .with_for_update()
    )


def attendances_with_kind_and_path(session: Session, attendance_ids) -> list:
    return session.execute(
        select(Attendance, Activity.kind, Organization.path)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .where(Attendance.id.in_(attendance_ids))
    ).all()


def attendance_of_correction(session: Session, correction_id: int) -> int | None:
    return session.scalar(
        select(AttendanceCorrection.attendance_id).where(AttendanceCorrection.id == correction_id)
    )


def names_of(session: Session, volunteer_ids) -> dict[int, str]:
    return dict(
        session.execute(select(Volunteer.id, Volunteer.name).where(Volunteer.id.in_(volunteer_ids))).all()
    )
