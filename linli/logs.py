"""Structured logs (日志): one JSON object per line, phones and card codes masked in every message."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import msgspec

from linli.pii import mask_in

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_encode = msgspec.json.Encoder(enc_hook=str).encode  # UTF-8 as is; what JSON cannot hold, as text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_in(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = mask_in(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = mask_in(self.formatException(record.exc_info))
        return _encode(entry).decode()


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for noisy in ("uvicorn.access",):  # our middleware writes the access log, with the request id
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = False
