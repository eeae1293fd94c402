from alembic import context
from sqlalchemy import create_engine

from linli.db import Base
from linli.partitions import PARTITION_FOREIGN_KEYS, is_partition_name
from migrations.models import import_models

import_models()
target_metadata = Base.metadata


def _not_a_partition_artefact(dialect: str):
    """PostgreSQL's partitioned tables key foreign keys to them on (id, month key) where the
    models say (id), and the partitions themselves (and PostgreSQL's own foreign keys to each)
    are no model's (linli.partitions): `alembic check` compares everything else."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "table":
            return not (reflected and is_partition_name(name))
        if type_ == "foreign_key_constraint":
            return name not in PARTITION_FOREIGN_KEYS and not is_partition_name(obj.referred_table.name)
        return not is_partition_name(getattr(obj.table, "name", None))

    return include_object


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=_not_a_partition_artefact(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
