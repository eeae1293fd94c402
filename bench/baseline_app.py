"""The baseline for bench/scans.py: the least a scan endpoint could do. A Litestar app on the same
stack (uvicorn, sync SQLAlchemy over psycopg 3, JSON in and out) that inserts one row per request.

    uvicorn --factory bench.baseline_app:app --workers 2   (LINLI_DATABASE_URL set)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import msgspec
from litestar import Litestar, post
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert

metadata = MetaData()
rows = Table(
    "bench_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payload", String(300)),
    Column("received_at", DateTime(timezone=True)),
)


class Body(msgspec.Struct):
    payload: str
    station_id: int | None = None
    scan_id: str | None = None


def app() -> Litestar:
    url = os.environ["LINLI_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url, pool_size=10)
    metadata.create_all(engine)

    @post("/api/v1/scans", status_code=200, sync_to_thread=True)
    def scan(data: Body) -> dict:
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(rows).values(payload=data.payload, received_at=datetime.now(UTC)).returning(rows.c.id)
            ).scalar_one()
        return {"id": new_id, "outcome": "stored"}

    return Litestar([scan], logging_config=None)
