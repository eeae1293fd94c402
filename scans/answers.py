"""A scan's answer (扫码应答), as the device is told and as it is stored, and its texts."""

from __future__ import annotations

from datetime import datetime

MESSAGES = {
    "checked_in": "签到成功 Checked in",
    "checked_out": "签退成功 Checked out",
    "duplicate": "刚刚已扫过 Already scanned just now",
    "invalid_code": "无法识别的二维码 Not a Linli code",
    "expired_code": "二维码已过期，请扫描最新的码 The code has expired; scan the current one",
    "revoked_card": "此卡已作废，请使用新卡 This card was replaced; use the new one",
    "unknown_person": "查无此人 Nobody has this card",
    "not_filed": "尚未加入该组织的服务队（未备案） Not filed with a team of this organization",
    "not_signed_up": "未报名此活动 Not signed up for this activity",
    "outside_window": "现在不在活动时间内 No activity here at this time",
    "capacity_full": "活动人数已满 The activity is full",
    "activity_cancelled": "活动已取消 The activity was cancelled",
    "already_served": "本餐已领取 Already served",
    "checked_in_elsewhere": "已在其他站点签到，请先签退 Checked in elsewhere; check out there first",
    "not_allowed_here": "不能在此处使用 Not allowed here",
    "late_upload": "离线扫码上传超过24小时，待人工核查 Uploaded over 24 hours late; held for review",
    "held_for_review": "此前的离线扫码晚于已结束的考勤送达，待人工核查 "
    "An earlier offline scan arrived after this session was closed; held for review",
    "meal_served": "已供餐 Meal served",
    "scan_id_taken": "该扫码编号已被其他设备使用 This scan id was used by another device",
    "diner_paused": "该长者助餐已暂停 Meals are paused for this diner",
    "not_eligible": "不符合补贴条件，可按原价供餐 No subsidy applies; a full-price meal can be recorded",
    "other_meal_point": "不是本助餐点的长者 Registered at another meal point",
    "weekly_limit_reached": "本周补贴次数已用完 This week's subsidized meals are used up",
    "monthly_limit_reached": "本月补贴次数已用完 This month's subsidized meals are used up",
    "budget_exhausted": "补贴预算已用完 The subsidy budget is used up",
    "delivered": "已送达 Delivered",
    "not_on_run": "不在您认领的送餐路线上 Not on a delivery run you have taken",
    "day_closed": "当天已日结，不能再记录 The day is closed; no more meals can be recorded",
}

OUTCOMES = ("checked_in", "checked_out", "meal_served", "delivered", "duplicate", "rejected")


def scan_row(
    device,
    item,
    answer: dict,
    rec: dict,
    *,
    scanned_at: datetime,
    at: datetime,
    offline: bool,
) -> dict:
    """A scan as it is stored, with its answer."""
    return {
        "scan_id": answer["scan_id"],
        "device": device.label[:100],
        "payload": (item.payload or "")[:300],
        "scanned_at": scanned_at,
        "received_at": rec["received_at"],
        "effective_at": at,
        "offline": offline,
        "station_id": rec["station_id"],
        "code_kind": rec.get("code_kind"),
        "volunteer_id": rec.get("volunteer_id"),
        "attendance_id": answer["attendance_id"],
        "outcome": answer["outcome"],
        "reason": answer["reason"],
        "result": answer,
        "flagged": rec["flagged"],
    }


def answer(scan_id: str, result: dict, context: dict, *, station_id, scanned_at, received_at) -> dict:
    """A scan's answer, as the device is told and as it is stored."""
    return {
        "scan_id": scan_id,
        "outcome": result["outcome"],
        "reason": result.get("reason"),
        "message": MESSAGES.get(result.get("reason") or result["outcome"], ""),
        "station_id": station_id,
        "volunteer": result.get("volunteer") or context.get("volunteer"),
        "activity": result.get("activity") or context.get("activity"),
        "attendance_id": result.get("attendance_id"),
        "minutes": result.get("minutes"),
        "scanned_at": scanned_at.isoformat(),
        "received_at": received_at.isoformat(),
        **({"earlier_scan_id": result["earlier_scan_id"]} if "earlier_scan_id" in result else {}),
        **{k: result[k] for k in ("held", "hold_reason", "hold_id") if k in result},
        **{
            k: result.get(k) or context.get(k)
            for k in ("diner", "meal", "price")
            if k in result or k in context
        },
    }


def principal_of(device_label: str) -> str:
    """ "staff:12 tablet-3" → "staff:12": who sent a scan, whatever the device's name."""
    return device_label.split(" ", 1)[0]
