"""The API's bodies and answers for service records (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from linli.bounds import RowId, by_service
from records.models import RATINGS, TRAINING_MINUTES


class LateRead(msgspec.Struct):
    days_late: int  # days past the 20-day window
    reason: str
    entered_by: int
    entered_at: datetime


class RecordCorrectionRead(msgspec.Struct):
    id: int
    minutes_before: int | None  # the old value, kept
    minutes_after: int
    annulled: bool
    reason: str
    corrected_by: int
    corrected_at: datetime
    late: LateRead | None


class RuleUsedRead(msgspec.Struct):
    id: int | None  # None: the defaults, before the hub's first version
    version: int
    rounding_minutes: int
    minimum_minutes: int
    daily_cap: int


class ServiceRowRead(msgspec.Struct):
    id: int  # the attendance
    activity: str
    activity_kind: str
    org_id: RowId
    organization: str
    place: str
    starts_at: datetime
    ends_at: datetime | None
    day: date  # the local day of the check-in (the ledger's day)
    minutes: int  # what the points ledger counted
    hours: str
    points: int
    state: str  # counted | pending | unverified | annulled
    rule: RuleUsedRead | None
    corrections: list[RecordCorrectionRead]
    late: LateRead | None


class ServicePage(msgspec.Struct):
    items: list[ServiceRowRead]
    next: str | None


class FilingRead(msgspec.Struct):
    team_id: int
    team: str
    approved_at: datetime | None


class RecordVolunteerRead(msgspec.Struct):
    name: str
    volunteer_number: str
    id_type: str | None
    id_last4: str | None  # never the full number
    filings: list[FilingRead]


class TotalsRead(msgspec.Struct):
    minutes: int
    hours: str
    activities: int
    manual_minutes: int  # added by hand, kept apart
    training_minutes: int


class YearRead(msgspec.Struct):
    year: int
    minutes: int
    hours: str


class OrgMinutesRead(msgspec.Struct):
    org_id: RowId
    organization: str
    minutes: int
    hours: str


class KindMinutesRead(msgspec.Struct):
    kind: str
    minutes: int
    hours: str


class RecordTrainingRead(msgspec.Struct):
    id: int
    title: str
    organization: str
    day: date
    minutes: int
    hours: str
    late: LateRead | None


class RecordCommendationRead(msgspec.Struct):
    id: int
    title: str
    period_start: date
    period_end: date
    certificate_id: int | None


class RecordEvaluationRead(msgspec.Struct):
    id: int
    organization: str
    period_start: date
    period_end: date
    rating: str
    comment: str


class RecordRead(msgspec.Struct):
    volunteer: RecordVolunteerRead
    totals: TotalsRead
    by_year: list[YearRead]
    by_org: list[OrgMinutesRead]
    by_kind: list[KindMinutesRead]
    service: ServicePage  # a page of the rows, newest first (`limit`, `cursor`)
    trainings: list[RecordTrainingRead]  # at most 200, newest first
    commendations: list[RecordCommendationRead]
    evaluations: list[RecordEvaluationRead]

    @classmethod
    def of(cls, record: dict, offset: int, limit: int) -> RecordRead:
        rows = record["service"]
        more = len(rows) > offset + limit
        body = {
            **record,
            "service": {
                "items": rows[offset : offset + limit],
                "next": str(offset + limit) if more else None,
            },
        }
        return msgspec.convert(body, cls, from_attributes=True)


class TrainingBody(msgspec.Struct):
    org_id: RowId
    title: str
    minutes: Annotated[int, by_service(between=TRAINING_MINUTES)]
    day: date
    late_reason: str | None = None  # required more than 20 days after the day, admins only


class TrainingRead(msgspec.Struct):
    id: int
    volunteer_id: int
    org_id: RowId
    organization: str
    title: str
    minutes: int
    day: date
    recorded_by: int
    recorded_at: datetime

    @classmethod
    def of(cls, t, organization: str) -> TrainingRead:
        return cls(
            t.id,
            t.volunteer_id,
            t.org_id,
            organization,
            t.title,
            t.minutes,
            t.day,
            t.recorded_by,
            t.recorded_at,
        )


class TrainingPage(msgspec.Struct):
    items: list[TrainingRead]
    next: str | None


class EvaluationBody(msgspec.Struct):
    org_id: RowId
    period_start: date
    period_end: date
    rating: Annotated[str, by_service(choices=RATINGS)]
    comment: str = ""


class EvaluationRead(msgspec.Struct):
    id: int
    volunteer_id: int
    org_id: RowId
    organization: str
    period_start: date
    period_end: date
    rating: str
    comment: str
    evaluated_by: int
    evaluated_at: datetime

    @classmethod
    def of(cls, e, organization: str) -> EvaluationRead:
        return cls(
            e.id,
            e.volunteer_id,
            e.org_id,
            organization,
            e.period_start,
            e.period_end,
            e.rating,
            e.comment,
            e.evaluated_by,
            e.evaluated_at,
        )


class EvaluationPage(msgspec.Struct):
    items: list[EvaluationRead]
    next: str | None
