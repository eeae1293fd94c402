"""Progress of long commands (进度): one display for `linli demo --scale county|province`,
`linli ledger verify` and whatever else runs for long.

Always on stderr, so stdout keeps only the command's answer. On a terminal, click's own progress
bar; otherwise (logs, CI, a captured subprocess) the plain lines of `linli.progress.Lines`, which
the worker's long jobs write to their log the same way:

    演示数据 demo 县 county 2/3 浏阳市 · 助餐 meals:  45% (171/380) 12 s
"""

from __future__ import annotations

import sys
from typing import TextIO

import click

from linli.progress import Lines


class Progress(Lines):
    """`total` steps of some work, shown on `stream` (stderr by default): a bar on a terminal,
    lines otherwise."""

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
        self.stream = stream or sys.stderr  # at call time: a test runner may have replaced it
        self.tty = self.stream.isatty() if tty is None else tty
        self._bar = None
        write = (lambda line: None) if self.tty else self._write  # on a terminal the bar draws
        super().__init__(label, total, write, every_percent=every_percent, every_seconds=every_seconds)
        if self.tty:
            self._bar = click.progressbar(
                length=self.total, label=self.title(), file=self.stream, show_pos=True, show_eta=True
            )
            self._bar.__enter__()

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def phase(self, name: str) -> None:
        if self._bar is None:
            return super().phase(name)
        self.stage = name
        self._bar.label = self.title()
        self._bar.render_progress()

    def advance(self, steps: int = 1) -> None:
        if self._bar is None:
            return super().advance(steps)
        steps = min(steps, self.total - self.done)
        self.done += steps
        self._bar.update(steps)

    def finish(self) -> None:
        if self._bar is None:
            return super().finish()
        if self._finished:
            return
        self._finished = True
        self.advance(self.total - self.done)
        self._bar.__exit__(None, None, None)

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.finish()
        elif self._bar is not None:
            self._bar.__exit__(kind, value, traceback)
