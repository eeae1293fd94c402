"""Progress lines (进度): the plain form of the one progress display of long work. `linli`
commands show it on stderr (cli/progress.py, a bar on a terminal); the worker's long jobs (report
builds, national exports, the nightly ledger check) write the same lines to their log:

    演示数据 demo 县 county 2/3 浏阳市 · 助餐 meals:  45% (171/380) 12 s

A line every `every_percent` percent or every `every_seconds` seconds, whichever comes first, the
first at 0 % and always the last one at 100 %.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Lines:
    """`total` steps of some work, each line handed to `write`. `phase()` names what is being done
    now, `advance()` counts steps, `step()` does both for work counted in phases; used as a context
    manager it ends at 100 % when the work ends without an error."""

    def __init__(
        self,
        label: str,
        total: int,
        write: Callable[[str], object],
        *,
        every_percent: int = 5,
        every_seconds: float = 10.0,
    ) -> None:
        self.label = label
        self.total = max(int(total), 1)
        self.done = 0
        self.stage = ""
        self.write = write
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.started = self._last_at = time.monotonic()
        self._last_percent = -1
        self._finished = False
        self._line()

    def title(self) -> str:
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
        self._line()

    def advance(self, steps: int = 1) -> None:
        steps = min(steps, self.total - self.done)
        self.done += steps
        now = time.monotonic()
        if (
            self.percent >= self._last_percent + self.every_percent
            or now - self._last_at >= self.every_seconds
        ):
            self._line()

    def step(self, name: str) -> None:
        """The phase under way is done (a step), and `name` begins."""
        if self.stage:
            self.advance()
        self.phase(name)

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.advance(self.total - self.done)
        if self._last_percent < 100:
            self._line()

    def _line(self) -> None:
        self._last_percent, self._last_at = self.percent, time.monotonic()
        self.write(f"{self.title()}: {self.percent:3d}% ({self.done}/{self.total}) {self.seconds:.0f} s")

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.finish()
