"""Every table of every domain on `Base.metadata` (所有数据表): for Alembic and for each process's
composition root (`api.main`, `workers.context`, `cli.main`, the tests), which calls
`import_models()` before it builds a `Runtime`. The kernel itself names no domain."""

from __future__ import annotations


def import_models() -> None:
    import accounts.models  # noqa: F401
    import grants.models
    import grants.models_rounds  # noqa: F401
    import integrity.models  # noqa: F401
    import linli.outbox  # noqa: F401
    import meals.models  # noqa: F401
    import orgs.models  # noqa: F401
    import points.models  # noqa: F401
    import records.models
    import records.models_certificates
    import records.models_exports  # noqa: F401
    import reports.models  # noqa: F401
    import scans.models  # noqa: F401
    import volunteer.models  # noqa: F401
    from grants import models_delivery, models_money  # noqa: F401
