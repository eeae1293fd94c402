"""Migrations run up from an empty database, down again, and agree with the models (迁移)."""

import pytest
from sqlalchemy import create_engine, inspect, text

from linli.db import Base
from migrations import driver as migrate


@pytest.fixture
def empty_db_url(settings, tmp_path):
    """A database with nothing in it, on the same kind of server the suite runs on."""
    if settings.is_sqlite:
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    # named after the suite's own database: two suites on one server (another checkout) never share it
    base, _, own = settings.sqlalchemy_url.rpartition("/")
    name = f"{own}_migrations"
    admin = create_engine(settings.sqlalchemy_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_up_from_empty_down_and_up_again(empty_db_url):
    engine = create_engine(empty_db_url)
    with pytest.raises(migrate.SchemaOutOfDate, match="linli db upgrade"):
        migrate.ensure_current(engine, empty_db_url, auto_upgrade=False)

    migrate.upgrade(empty_db_url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    migrate.ensure_current(engine, empty_db_url, auto_upgrade=False)  # no longer raises
    migrate.check(empty_db_url)  # models and migrations agree

    migrate.downgrade(empty_db_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_outbox_rows_waiting_at_the_upgrade_keep_their_work(empty_db_url):
    """0007: rows written before name a worker function; after it, the event that function follows
    (and back on a downgrade), so work waiting in the outbox at the upgrade is not lost."""
    engine = create_engine(empty_db_url)
    migrate.upgrade(empty_db_url, "0006")
    insert = text(
        "INSERT INTO outbox (job_id, func, args, queue, created_at, attempts) "
        "VALUES (:job_id, :func, '[1]', 'points', '2026-12-01 02:00:00', 0)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"job_id": "attendance-closed-1", "func": "workers.jobs.attendance_closed"})
        conn.execute(insert, {"job_id": "report-ready-2", "func": "workers.jobs.notify_partner"})
    migrate.upgrade(empty_db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job_id, event FROM outbox ORDER BY job_id")).all()
    assert [tuple(r) for r in rows] == [
        ("attendance-closed-1", "attendance.closed"),
        ("report-ready-2", "report.ready"),
    ]
    migrate.downgrade(empty_db_url, "0006")
    with engine.connect() as conn:
        funcs = conn.execute(text("SELECT func FROM outbox ORDER BY job_id")).scalars().all()
    assert funcs == ["workers.jobs.attendance_closed", "workers.jobs.notify_partner"]
    engine.dispose()


def test_embedded_mode_upgrades_by_itself(tmp_path):
    url = f"sqlite:///{tmp_path}/auto.db"
    engine = create_engine(url)
    migrate.ensure_current(engine, url, auto_upgrade=True)
    assert migrate.current(engine) == migrate.heads(url)
    engine.dispose()


def test_database_refuses_to_change_a_volunteer_phone_to_a_taken_one(rt):
    """Uniqueness lives in the database, not only in code."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from volunteer.models import Volunteer

    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), rt.tx() as s:
        for _ in range(2):
            s.add(
                Volunteer(
                    name="王秀英",
                    phone="13807310001",
                    consent_terms_version="x",
                    consented_at=now,
                    created_at=now,
                )
            )
        s.flush()
