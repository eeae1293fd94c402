"""Progress of long commands (进度): one display for `linli demo --scale county|province`,
`linli ledger verify` and whatever else runs for long.

Always on stderr, so stdout keeps only the command's answer. On a terminal, click's own progress
bar; otherwise (logs, CI, a captured subprocess) a plain line every `every_percent` percent or
every `every_seconds` seconds, whichever comes first, and always the last one at 100 %:

    演示数据 demo 县 county 2/3 浏阳市 · 助餐 meals:  45% (171/380) 12 s
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click


class Progress:
    """`total` steps of some work. `phase()` names what is being done now, `advance()` counts steps;
    used as a context manager it ends at 100 % when the work ends without an error."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        every_percent: int = 5,
        every_seconds: float = 10.0,
    ) -> None:
        self.label = label
        self.total = max(int(total), 1)
        self.done = 0
        self.stage = ""
        self.stream = stream or sys.stderr  # at call time: a test runner may have replaced it
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.started = self._last_at = time.monotonic()
        self._last_percent = -1
        self._bar = None
        self._finished = False
        if self.tty:
            self._bar = click.progressbar(
                length=self.total, label=self._title(), file=self.stream, show_pos=True, show_eta=True
            )
            self._bar.__enter__()
        else:
            self._line()

    def _title(self) -> str:
        return f"{self.label} · {self.stage}" if self.stage else self.label

    @property
    def percent(self) -> int:
        return min(100, self.done * 100 // self.total)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def phase(self, name: str) -> None:
        """What is being done now (shown with the label)."""
        self.stage = name
        if self._bar is not None:
            self._bar.label = self._title()
            self._bar.render_progress()
        else:
            self._line()

    def advance(self, steps: int = 1) -> None:
        steps = min(steps, self.total - self.done)
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)
            return
        now = time.monotonic()
        if (
            self.percent >= self._last_percent + self.every_percent
            or now - self._last_at >= self.every_seconds
        ):
            self._line()

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.advance(self.total - self.done)
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        elif self._last_percent < 100:
            self._line()

    def _line(self) -> None:
        self._last_percent, self._last_at = self.percent, time.monotonic()
        self.stream.write(
            f"{self._title()}: {self.percent:3d}% ({self.done}/{self.total}) {self.seconds:.0f} s\n"
        )
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.finish()
        elif self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
