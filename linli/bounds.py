"""Bounds on what a request may say, for the OpenAPI document and the validator (边界).

Two kinds, one source each:
- checked by the type: `RowId` (and Litestar's parameter types in `api.deps`). msgspec refuses a
  value out of bounds while decoding, and the document states the bound from the same annotation.
- checked by the service: a body whose service checks every field at once, so a form shows each
  mistake together (`errors: [...]`). There the type states the bound for the document only, with
  `by_service(...)`, from the very constant the service compares against; the service refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

# The ids a request may name: no row comes near, and JSON numbers hold every integer up to here.
MAX_ID = 2**53 - 1
RowId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


def by_service(
    *, choices: tuple | None = None, between: tuple[int, int] | None = None, pattern: str | None = None
) -> msgspec.Meta:
    """A bound the service checks, stated in the OpenAPI document only (msgspec does not enforce
    `extra_json_schema`; Litestar copies its `extra` into the schema)."""
    schema: dict = {}
    if choices is not None:
        schema["enum"] = list(choices)
    if between is not None:
        schema["minimum"], schema["maximum"] = between
    if pattern is not None:
        schema["pattern"] = pattern
    return msgspec.Meta(extra_json_schema={"extra": schema})


# The times the engine accepts from clients (a scan's time, a shop's window, a query's range).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def plausible(at: datetime) -> bool:
    """Aware, and between 2000 and 2100."""
    return at.tzinfo is not None and EARLIEST <= at <= LATEST
