"""Bodies and answers of the decrypt path and the export grant (records.identity)."""

from __future__ import annotations

import msgspec

from linli.bounds import RowId


class RevealBody(msgspec.Struct, forbid_unknown_fields=False):
    reason: str = ""  # why the number is needed (kept in the audit log)


class Revealed(msgspec.Struct):
    """The only API answer that holds a full identity number."""

    volunteer_id: int
    id_type: str | None
    id_number: str


class ExportGrantCreate(msgspec.Struct, forbid_unknown_fields=False):
    staff_user_id: RowId
    county_id: RowId


class ExportGrantRead(msgspec.Struct):
    id: int
    staff_user_id: int
    county_id: int
    role: str
