"""A volunteer's notices (通知): the inbox, read marks, and quiet hours and SMS per kind."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from accounts.principal import Principal
from api.deps import AUTH, Cursor, Id, Limit, next_cursor, page, require_volunteer
from api.problems import problems
from linli.runtime import Runtime
from volunteer import notices
from volunteer.models import NOTICE_KINDS
from volunteer.schemas import NoticePage, NoticeRead, NoticeSettingsBody, NoticeSettingsRead, NoticesRead


class MyNoticesController(Controller):
    path = "/api/v1/me"
    tags = ["通知 notices"]
    dependencies = AUTH

    @get(
        "/notices",
        operation_id="myNotices",
        sync_to_thread=True,
        summary="My notices, newest first, and how many are unread",
        responses=problems(_403="volunteers_only"),
    )
    def my_notices(
        self,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> NoticePage:
        volunteer_id = require_volunteer(principal)
        before, limit = page(cursor, limit)
        rows, unread = notices.inbox(session, volunteer_id, before_id=before or None, limit=limit)
        items = [NoticeRead.of(n) for n in rows]
        return NoticePage(
            items=items, next=next_cursor(items, limit, items[-1].id if items else None), unread=unread
        )

    @post(
        "/notices/{notice_id:int}/read",
        operation_id="readNotice",
        status_code=200,
        sync_to_thread=True,
        summary="Mark one of my notices read",
        responses=problems(_403="volunteers_only", _404="notice_not_found"),
    )
    def read(
        self,
        notice_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> NoticeRead:
        volunteer_id = require_volunteer(principal)
        return NoticeRead.of(notices.read(session, volunteer_id, notice_id, rt.clock.now()))

    @post(
        "/notices/read-all",
        operation_id="readAllNotices",
        status_code=200,
        sync_to_thread=True,
        summary="Mark all my notices read",
        responses=problems(_403="volunteers_only"),
    )
    def read_all(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session], rt: NamedDependency[Runtime]
    ) -> NoticesRead:
        volunteer_id = require_volunteer(principal)
        return NoticesRead(marked=notices.read_all(session, volunteer_id, rt.clock.now()), unread=0)

    @get(
        "/notice-settings",
        operation_id="myNoticeSettings",
        sync_to_thread=True,
        summary="My quiet hours (no SMS then; local time) and the kinds not sent by SMS",
        responses=problems(_403="volunteers_only"),
    )
    def my_settings(
        self, principal: NamedDependency[Principal], session: NamedDependency[Session]
    ) -> NoticeSettingsRead:
        start, end, off = notices.settings(session, require_volunteer(principal))
        return NoticeSettingsRead(quiet_start=start, quiet_end=end, sms_off=off, kinds=list(NOTICE_KINDS))

    @put(
        "/notice-settings",
        operation_id="saveMyNoticeSettings",
        sync_to_thread=True,
        summary="Set my quiet hours and the kinds not sent by SMS (the inbox keeps every notice)",
        responses=problems(_403="volunteers_only"),
    )
    def save_settings(
        self,
        data: JSONBody[NoticeSettingsBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> NoticeSettingsRead:
        start, end, off = notices.save_settings(
            session,
            require_volunteer(principal),
            quiet_start=data.quiet_start,
            quiet_end=data.quiet_end,
            sms_off=list(data.sms_off),
            now=rt.clock.now(),
        )
        return NoticeSettingsRead(quiet_start=start, quiet_end=end, sms_off=off, kinds=list(NOTICE_KINDS))
