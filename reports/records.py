"""A volunteer's service record as a download (志愿服务记录下载): the record's sheets, rendered by
`reports.render` (CSV or XLSX, formula-safe like every export)."""

from __future__ import annotations

from reports.queries import Column, Sheet
from reports.render import MEDIA_TYPES, render

STATES = {
    "counted": "已计入 counted",
    "pending": "待结算 pending",
    "unverified": "待核实 unverified",
    "annulled": "作废 annulled",
}


def _rule(rule: dict | None) -> str:
    if rule is None:
        return ""
    name = "默认规则 defaults" if rule["version"] == 0 else f"第{rule['version']}版 version {rule['version']}"
    return (
        f"{name}：取整{rule['rounding_minutes']}分钟，最短{rule['minimum_minutes']}分钟，"
        f"每日上限{rule['daily_cap']}分"
    )


def sheets(record: dict) -> list[Sheet]:
    """The record as sheets: service rows (every one), totals by year, by organization and by
    activity kind, training, commendations and evaluations."""
    v = record["volunteer"]
    service = Sheet(
        "service",
        "服务记录 service",
        [
            Column("day", "日期 day", "date"),
            Column("activity", "活动 activity", "text"),
            Column("organization", "组织 organization", "text"),
            Column("place", "地点 place", "text"),
            Column("starts_at", "开始 start", "text"),
            Column("ends_at", "结束 end", "text"),
            Column("minutes", "分钟 minutes"),
            Column("hours", "小时 hours", "text"),
            Column("state", "状态 state", "text"),
            Column("rule", "计时规则 rule", "text"),
            Column("late", "逾期补录 late entry", "text"),
        ],
        [
            [
                s["day"],
                s["activity"],
                s["organization"],
                s["place"],
                s["starts_at"].isoformat(),
                s["ends_at"].isoformat() if s["ends_at"] else "",
                s["minutes"],
                s["hours"],
                STATES[s["state"]],
                _rule(s["rule"]),
                s["late"]["reason"] if s["late"] else "",
            ]
            for s in record["service"]
        ],
        [
            "",
            "合计 total",
            "",
            "",
            "",
            "",
            record["totals"]["minutes"],
            record["totals"]["hours"],
            "",
            "",
            "",
        ],
    )

    def minutes_sheet(key, title, label, rows):
        return Sheet(
            key,
            title,
            [
                Column(key, label, "text"),
                Column("minutes", "分钟 minutes"),
                Column("hours", "小时 hours", "text"),
            ],
            [[str(name), m, h] for name, m, h in rows],
        )

    person = Sheet(
        "volunteer",
        "基本信息 volunteer",
        [Column("field", "项目 field", "text"), Column("value", "内容 value", "text")],
        [
            ["姓名 name", v["name"]],
            ["志愿者编号 volunteer number", v["volunteer_number"]],
            ["证件类型 ID type", v["id_type"] or ""],
            ["证件号码后四位 ID last four", v["id_last4"] or ""],
            ["备案 filings", "、".join(f["team"] for f in v["filings"])],
            ["培训时长（分钟） training minutes", record["totals"]["training_minutes"]],
            ["补录时长（分钟） hours added by hand, minutes", record["totals"]["manual_minutes"]],
        ],
    )
    return [
        person,
        service,
        minutes_sheet(
            "year",
            "按年 by year",
            "年份 year",
            [(y["year"], y["minutes"], y["hours"]) for y in record["by_year"]],
        ),
        minutes_sheet(
            "organization",
            "按组织 by organization",
            "组织 organization",
            [(o["organization"], o["minutes"], o["hours"]) for o in record["by_org"]],
        ),
        minutes_sheet(
            "kind",
            "按类型 by kind",
            "活动类型 kind",
            [(k["kind"], k["minutes"], k["hours"]) for k in record["by_kind"]],
        ),
        Sheet(
            "training",
            "培训 training",
            [
                Column("day", "日期 day", "date"),
                Column("title", "培训 title", "text"),
                Column("organization", "组织 organization", "text"),
                Column("minutes", "分钟 minutes"),
            ],
            [[t["day"], t["title"], t["organization"], t["minutes"]] for t in record["trainings"]],
        ),
        Sheet(
            "commendations",
            "表彰 commendations",
            [
                Column("title", "表彰 title", "text"),
                Column("period_start", "开始 start", "date"),
                Column("period_end", "结束 end", "date"),
            ],
            [[c["title"], c["period_start"], c["period_end"]] for c in record["commendations"]],
        ),
        Sheet(
            "evaluations",
            "评价 evaluations",
            [
                Column("organization", "组织 organization", "text"),
                Column("period_start", "开始 start", "date"),
                Column("period_end", "结束 end", "date"),
                Column("rating", "评价 rating", "text"),
                Column("comment", "评语 comment", "text"),
            ],
            [
                [e["organization"], e["period_start"], e["period_end"], e["rating"], e["comment"]]
                for e in record["evaluations"]
            ],
        ),
    ]


def download(record: dict, fmt: str) -> tuple[bytes, str]:
    """The record as a file (csv or xlsx) and its media type."""
    days = [s["day"] for s in record["service"]]
    header = {
        "title": f"志愿服务记录 {record['volunteer']['name']}",
        "period_start": min(days).isoformat() if days else "—",
        "period_end": max(days).isoformat() if days else "—",
    }
    return render(fmt, header, sheets(record)), MEDIA_TYPES[fmt]
