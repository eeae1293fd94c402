"""How login codes reach a phone (短信发送). One small interface; the default keeps them for the demo page.

A real SMS gateway plugs in by naming a class in LINLI_SMS_SENDER ("package.module:Class");
it is built with no arguments and must implement `send(phone, code)` and `notify(phone, text)`.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Protocol

from linli.pii import mask_phone

log = logging.getLogger("linli.sms")

DEMO_INBOX_KEY = "linli:demo:sms"  # the demo page reads the last few codes from here


class CodeSender(Protocol):
    def send(self, phone: str, code: str) -> None: ...

    def notify(self, phone: str, text: str) -> None: ...  # a short notice, e.g. points about to expire


class LogSender:
    """No SMS gateway: the code goes to a short Redis list that the demo page (`/demo/codes`, demo
    mode only) shows for ten minutes. The log says a code was sent, never the code: a log line
    holds no secret."""

    def __init__(self, redis=None) -> None:
        self.redis = redis

    def send(self, phone: str, code: str) -> None:
        log.info(
            "登录验证码已放入演示收件箱 login code for %s put in the demo inbox (LINLI_SMS_SENDER unset)",
            mask_phone(phone),
        )
        self._inbox(f"{mask_phone(phone)} {code}")

    def notify(self, phone: str, text: str) -> None:
        log.info("通知 notice to %s: %s", mask_phone(phone), text)
        self._inbox(f"{mask_phone(phone)} {text}")

    def _inbox(self, entry: str) -> None:
        if self.redis is not None:
            pipe = self.redis.pipeline()
            pipe.lpush(DEMO_INBOX_KEY, entry)
            pipe.ltrim(DEMO_INBOX_KEY, 0, 19)
            pipe.expire(DEMO_INBOX_KEY, 600)
            pipe.execute()


def configured_sender(redis=None) -> CodeSender:
    path = os.environ.get("LINLI_SMS_SENDER")
    if not path:
        return LogSender(redis)
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()
