"""The ASGI entry point for server processes: `uvicorn --factory api.main:app_factory`."""

from __future__ import annotations

from litestar import Litestar

from api.app import create_app
from linli.logs import setup_logging
from linli.runtime import Runtime
from linli.settings import load_settings


def app_factory() -> Litestar:
    setup_logging()
    return create_app(Runtime(load_settings()))
