"""The runtime a job runs with: the worker's own, or the one a test installs."""

from __future__ import annotations

from linli.runtime import Runtime
from linli.settings import load_settings
from migrations.models import import_models

_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        import_models()
        _runtime = Runtime(load_settings(), jobs=True)
    return _runtime
