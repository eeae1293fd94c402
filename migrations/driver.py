"""Alembic, driven from code (`migrations.driver`) (迁移): `linli db upgrade`, `linli db check`, and the start-up check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raises if the models hold changes no migration has (alembic check)."""
    command.check(alembic_config(url))


def heads(url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def ensure_current(engine: Engine, url: str, *, auto_upgrade: bool) -> None:
    if current(engine) == heads(url):
        return
    if auto_upgrade:
        upgrade(url)
        return
    raise SchemaOutOfDate(
        "数据库结构不是最新的，请先运行 `linli db upgrade`。"
        " The database schema is out of date: run `linli db upgrade` first."
    )
