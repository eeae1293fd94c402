"""Finding activities to join from a volunteer's phone (找活动、报名).

A volunteer sees the upcoming activities of the organizations above the teams they are filed
with, by start time, and the ones they signed up for; each says what the volunteer can do about
it: sign up (the waitlist when no place is left), cancel their sign-up, or why not. A cancelled
activity is shown only to those signed up for it, as cancelled with the reason. The "why not"
is asked of the same rules `activities.sign_up` enforces, so the phone offers a button only
where signing up can succeed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from volunteer import activities, repository, repository_joining
from volunteer.models import Activity


@dataclass(frozen=True)
class OpenActivity:
    activity: Activity
    station_name: str
    org_name: str
    spots_left: int  # places before sign-ups go to the waitlist
    signup: str | None  # the volunteer's live sign-up: confirmed | waitlisted
    why_not: str | None  # not signed up and may not: not_allowed_here | signup_overlap

    @property
    def may_sign_up(self) -> bool:
        return self.signup is None and self.why_not is None


def upcoming(
    session: Session, volunteer_id: int, *, now: datetime, signed_up_only: bool, offset: int, limit: int
) -> list[OpenActivity]:
    rows = repository_joining.upcoming(
        session, volunteer_id, now=now, signed_up_only=signed_up_only, offset=offset, limit=limit
    )
    filed = repository.approved_team_paths(session, volunteer_id)
    mine = repository_joining.live_signup_windows(session, volunteer_id, now)
    found = []
    for activity, station_name, org_name, org_path, confirmed, signup in rows:
        why_not = None
        if signup is None:
            why_not = activities.eligibility_problem(session, volunteer_id, activity, org_path, filed)
            if why_not is None and any(
                other != activity.id and starts < activity.ends_at and ends > activity.starts_at
                for other, starts, ends in mine
            ):
                why_not = "signup_overlap"
        found.append(
            OpenActivity(
                activity=activity,
                station_name=station_name,
                org_name=org_name,
                spots_left=0 if activity.cancelled_at else max(0, activity.capacity - confirmed),
                signup=signup,
                why_not=why_not,
            )
        )
    return found
