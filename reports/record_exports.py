"""The national export's file (全国志愿服务信息系统导出文件): the rows `records.exports` gives,
rendered by `reports.render.render_table` (CSV or XLSX, formula-safe like every export), then
kept encrypted by `records.exports.finish`. Run by the worker (`workers.jobs.build_record_export`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.idcrypt import IdKeyring
from records import exports
from records.models_exports import RecordExport
from reports.render import render_table

SHEET = "志愿服务记录"
BUILD_STEPS = 3  # the phases `build` names


def build(
    session: Session,
    export_id: int,
    *,
    keys: IdKeyring,
    now: datetime,
    tz: ZoneInfo,
    step: Callable[[str], None] | None = None,
) -> RecordExport:
    """Build the file into its row (the job's transaction); an export whose admin lost the grant
    fails for good (audited) instead. `step(name)`: told as each of its `BUILD_STEPS` phases begins
    (the job's progress lines)."""
    step = step or (lambda name: None)
    export = exports.get(session, export_id)
    if not exports.still_granted(session, export, now):
        return export
    step("服务记录 records")
    rows, missing = exports.rows(session, export, keys=keys, now=now, tz=tz)
    step("生成文件 render")
    content = render_table(export.format, SHEET, [h for _, h in exports.COLUMNS], rows)
    step("加密保存 encrypt and store")
    return exports.finish(session, export.id, content, rows=len(rows), missing=missing, keys=keys, now=now)
