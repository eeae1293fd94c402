"""The API types of what projects deliver (项目成效; `api/project_delivery.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from grants.delivery import COUNT_RANGE, NOTE_MAX
from grants.models_delivery import ActivityLink, ProjectMealPoint, ServedCount
from linli.bounds import RowId, by_service
from linli.qr import MAX_PAYLOAD


class LinkBody(msgspec.Struct):
    project_id: RowId


class LinkRead(msgspec.Struct):
    activity_id: int
    project_id: int
    linked_by: int
    linked_at: datetime
    unlinked_by: int | None
    unlinked_at: datetime | None
    changed: bool = True  # False: the activity was linked to this project already

    @classmethod
    def of(cls, row: ActivityLink, changed: bool = True) -> LinkRead:
        return cls(
            row.activity_id,
            row.project_id,
            row.linked_by,
            row.linked_at,
            row.unlinked_by,
            row.unlinked_at,
            changed,
        )


class MealPointBody(msgspec.Struct):
    meal_point_id: RowId


class MealPointRead(msgspec.Struct):
    project_id: int
    meal_point_id: int
    added_by: int
    added_at: datetime
    added: bool = True  # False: named already

    @classmethod
    def of(cls, row: ProjectMealPoint, added: bool = True) -> MealPointRead:
        return cls(row.project_id, row.meal_point_id, row.added_by, row.added_at, added)


class ServedParts(msgspec.Struct):
    entered: int  # the latest counts entered for the linked activities, added up
    diner_scans: int  # diners scanned at them, each once per activity
    meals: int  # meals served at the project's meal points within its dates


class DeliveryRead(msgspec.Struct):
    project_id: int
    activities_held: int  # linked activities that ended and were not cancelled
    served: int  # person-times served (服务人次): the parts added up
    served_parts: ServedParts
    volunteer_times: int  # volunteer person-times (志愿者人次): closed attendances, never annulled
    volunteers: int  # distinct volunteers
    service_minutes: int
    meal_point_ids: list[int]


class CountBody(msgspec.Struct):
    count: Annotated[int, by_service(between=COUNT_RANGE)]
    # a photo of the activity (照片), base64 JPEG or PNG, at most 2 MB, read from its bytes
    photo: str | None = None
    note: Annotated[str, msgspec.Meta(max_length=NOTE_MAX)] = ""


class CountRead(msgspec.Struct):
    id: int
    activity_id: int
    count: int
    note: str
    photo_type: str | None
    photo_size: int | None
    photo_url: str | None
    entered_by: int
    entered_at: datetime
    current: bool  # the latest entry: the one that counts

    @classmethod
    def of(cls, row: ServedCount, current: bool) -> CountRead:
        url = f"/api/v1/activities/{row.activity_id}/served/{row.id}/photo" if row.photo_type else None
        return cls(
            row.id,
            row.activity_id,
            row.count,
            row.note,
            row.photo_type,
            row.photo_size,
            url,
            row.entered_by,
            row.entered_at,
            current,
        )


class CountPage(msgspec.Struct):
    items: list[CountRead]
    next: str | None


class ScanBody(msgspec.Struct):
    payload: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PAYLOAD)]  # the diner card's QR text


class ScanRead(msgspec.Struct):
    activity_id: int
    diner_id: int
    outcome: str  # counted | already_counted
    already_counted: bool
    scanned_at: datetime  # when this diner was first counted here
    diners_scanned: int  # diners counted at the activity so far
