"""An SMS gateway for tests/faults/test_notice_kill.py, named by LINLI_SMS_SENDER in the worker
it starts: each text is appended to the file LINLI_TEST_SMS_LOG (the "phone"), then the gateway
takes LINLI_TEST_SMS_SLEEP seconds to answer, so a test can kill the worker in the middle."""

from __future__ import annotations

import os
import time


class SlowSender:
    def send(self, phone: str, code: str) -> None:
        self.notify(phone, code)

    def notify(self, phone: str, text: str) -> None:
        with open(os.environ["LINLI_TEST_SMS_LOG"], "a", encoding="utf-8") as f:
            f.write(f"{phone} {text}\n")
        time.sleep(float(os.environ.get("LINLI_TEST_SMS_SLEEP", "0")))
