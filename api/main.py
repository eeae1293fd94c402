"""The ASGI entry point for server processes: `uvicorn --factory api.main:app_factory`."""

from __future__ import annotations

import gc

from litestar import Litestar

from api.app import create_app
from linli.logs import setup_logging
from linli.runtime import Runtime
from linli.settings import load_settings
from migrations.models import import_models


def app_factory() -> Litestar:
    setup_logging()
    import_models()
    app = create_app(Runtime(load_settings()))
    app.on_startup.append(_freeze_heap)
    return app


def _freeze_heap() -> None:
    """The started server's objects (modules, routes, models, the OpenAPI document) kept out of
    the cyclic garbage collector's way: its full collections, traversing them all, paused a busy
    worker for 100-200 ms, every request in flight with it (the scans bench's p99)."""
    gc.collect()
    gc.freeze()
