"""The national export's file (全国志愿服务信息系统导出文件): the rows `records.exports` gives,
rendered by `reports.render.render_table` (CSV or XLSX, formula-safe like every export), then
kept encrypted by `records.exports.finish`. Run by the worker (`workers.jobs.build_record_export`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from linli.idcrypt import IdKeyring
from records import exports
from records.models_exports import RecordExport
from reports.render import render_table

SHEET = "志愿服务记录"


def build(session: Session, export_id: int, *, keys: IdKeyring, now: datetime, tz: ZoneInfo) -> RecordExport:
    """Build the file into its row (the job's transaction); an export whose admin lost the grant
    fails for good (audited) instead."""
    export = exports.get(session, export_id)
    if not exports.still_granted(session, export, now):
        return export
    rows, missing = exports.rows(session, export, keys=keys, now=now, tz=tz)
    content = render_table(export.format, SHEET, [h for _, h in exports.COLUMNS], rows)
    return exports.finish(session, export.id, content, rows=len(rows), missing=missing, keys=keys, now=now)
