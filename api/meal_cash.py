"""The counter offline and its cash (离线取餐台与收款对账): the rules a tablet caches to quote what a
diner pays while offline, and a day's cash sheet per device with the cash counted against it. The
rules are in `meals.counter_rules` and `meals.cash_sheet`."""

from __future__ import annotations

import re
from datetime import date

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.orm import Session

from accounts import service as accounts_service
from accounts.principal import Principal
from api.deps import AUTH, Id, check_times, local_today
from api.meals import staff_at
from api.problems import problems
from linli.runtime import Runtime
from meals import cash_sheet, counter_rules, service
from meals.schemas_cash import CashCountBody, CashCountRead, CashRow, CashSheet, CounterRules
from reports.queries import Column, Sheet
from reports.render import render

STAFF_DEVICE = re.compile(r"^staff:(\d+)(?:\s|$)")


def _csv(view: dict) -> bytes:
    """The sheet as CSV, through the one writer of spreadsheets (`reports.render`: text safe from
    formulas, money in yuan): a row per device and the day's total, then the reversals."""
    keys = [*cash_sheet.FIELDS, "counted", "difference"]
    columns = [Column("device", "设备 device", "text")]
    columns += [Column(k, *cash_sheet.TITLES[k]) for k in keys]
    devices = Sheet("devices", "按设备 by device", columns)
    devices.rows = [[r["device"], *(r[k] for k in keys)] for r in view["devices"]]
    devices.totals = ["合计 total", *(view["total"][k] for k in keys)]
    reversals = Sheet(
        "reversals",
        "冲减 reversals",
        [Column("reversals", "笔数 count"), Column("reversed_paid", "退还现金 cash given back", "fen")],
        [[view["reversals"], view["reversed_paid"]]],
    )
    day = view["day"].isoformat()
    header = {"title": f"{view['meal_point']} 收款对账", "period_start": day, "period_end": day}
    return render("csv", header, [devices, reversals])


def _names(session, ids: set[int]) -> dict[int, str]:
    return {i: accounts_service.staff_user(session, i).display_name for i in ids}


def _staff_of(device: str) -> int | None:
    m = STAFF_DEVICE.match(device)
    return int(m[1]) if m else None


def _sheet(session, view: dict) -> CashSheet:
    rows = [view["total"], *view["devices"]]
    names = _names(
        session,
        {i for r in rows if (i := _staff_of(r["device"])) is not None}
        | {c["counted_by"] for c in view["counts"]},
    )
    row = lambda r: CashRow(**r, staff_name=names.get(_staff_of(r["device"])))  # noqa: E731
    return CashSheet(
        **{k: v for k, v in view.items() if k not in ("total", "devices", "counts")},
        total=row(view["total"]),
        devices=[row(r) for r in view["devices"]],
        counts=[CashCountRead(**c, counted_by_name=names.get(c["counted_by"])) for c in view["counts"]],
    )


class MealCashController(Controller):
    path = "/api/v1/meal-points/{point_id:int}"
    tags = ["助餐 meals"]
    dependencies = AUTH

    @get(
        "/counter-rules",
        operation_id="counterRules",
        sync_to_thread=True,
        summary="What the counter tablet caches to show a provisional amount to collect while offline:"
        " slots and prices, the agreements in stack order, each diner's card version and the"
        " categories the schedules name (no names or other personal data)",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def rules(
        self,
        point_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CounterRules:
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        return CounterRules(**counter_rules.rules(session, point, local_today(rt), rt.clock.now()))

    @get(
        "/cash-sheet",
        operation_id="cashSheet",
        sync_to_thread=True,
        summary="A day's cash sheet (today by default): per device and in all, meals, the cash to"
        " collect, subsidies, full-price, held and voided meals, and the cash counted against it",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def sheet(
        self,
        point_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        day: FromQuery[date | None] = None,
    ) -> CashSheet:
        check_times(day=day)
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        return _sheet(session, cash_sheet.sheet(session, point, day or local_today(rt)))

    @get(
        "/cash-sheet.csv",
        operation_id="cashSheetCsv",
        sync_to_thread=True,
        media_type="text/csv",
        summary="The day's cash sheet as CSV (UTF-8)",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def sheet_csv(
        self,
        point_id: Id,
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
        day: FromQuery[date | None] = None,
    ) -> Response[bytes]:
        check_times(day=day)
        point = service.get_point(session, point_id)
        staff_at(session, principal, point)
        view = cash_sheet.sheet(session, point, day or local_today(rt))
        return Response(
            _csv(view),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="cash-sheet-{point.id}-{view["day"].isoformat()}.csv"'
            },
        )

    @post(
        "/cash-counts",
        operation_id="countCash",
        status_code=201,
        sync_to_thread=True,
        summary="Keep the cash counted for a day (today by default), for the point or one device,"
        " in fen, with who counted and when; the difference to the sheet is kept as seen",
        responses=problems(_403="staff_only, role_required, outside_your_scope", _404="meal_point_not_found"),
    )
    def count(
        self,
        point_id: Id,
        data: JSONBody[CashCountBody],
        principal: NamedDependency[Principal],
        session: NamedDependency[Session],
        rt: NamedDependency[Runtime],
    ) -> CashCountRead:
        point = service.get_point(session, point_id)
        staff_id = staff_at(session, principal, point)
        day = data.day or local_today(rt)
        check_times(day=day)
        row = cash_sheet.record_count(
            session,
            point,
            day,
            counted=data.counted,
            device=data.device,
            note=data.note,
            staff_user_id=staff_id,
            now=rt.clock.now(),
            today=local_today(rt),
        )
        return CashCountRead(
            **cash_sheet.count_view(row), counted_by_name=_names(session, {staff_id})[staff_id]
        )
