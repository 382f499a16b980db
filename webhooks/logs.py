"""Logging for `serve`: a repeated warning is written a few times a minute, then counted.

Anyone on the internet can make the server warn (an unsigned request is refused with a
warning), so without a bound anyone could fill the disk or drown the one line that matters.
Warnings and errors of one kind (the same logger and message template) pass `burst` times
per `window`; the rest are counted and summed up in one line when the window closes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from integration.log_format import configure_log_lines

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class _Window:
    opened: float
    level: int
    passed: int = 0
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """A handler filter: at most `burst` records of one kind per `window` seconds, the rest counted."""

    def __init__(self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, "summary", False):
            return True
        key = (record.name, str(record.msg))  # the template, not the arguments: one kind of event
        now = self.clock()
        with self._lock:
            closed = self._close_expired(now)
            window = self._windows.setdefault(key, _Window(now, record.levelno))
            window.passed += 1
            allowed = window.passed <= self.burst
            if not allowed:
                window.suppressed += 1
        self._report(closed)
        return allowed

    def flush(self, everything: bool = False) -> None:
        """Write the counts of windows that have closed (all of them when `everything`, at shutdown)."""
        with self._lock:
            closed = self._close_expired(float("inf") if everything else self.clock())
        self._report(closed)

    def _close_expired(self, now: float) -> list[tuple[tuple[str, str], _Window]]:
        expired = [(k, w) for k, w in self._windows.items() if now - w.opened >= self.window]
        for key, _ in expired:
            del self._windows[key]
        return [(k, w) for k, w in expired if w.suppressed]

    def _report(self, closed: list[tuple[tuple[str, str], _Window]]) -> None:
        for (name, template), window in closed:
            logging.getLogger(name).log(
                window.level,
                "%d more like %r not logged (%d in %.0f s; at most %d are written per %.0f s)",
                window.suppressed,
                template,
                window.passed,
                min(self.clock() - window.opened, self.window),
                self.burst,
                self.window,
                extra={"summary": True},
            )


def bound_repeats() -> RepeatFilter:
    """Bound repeated warnings on every handler of the root logger; returns the filter to flush."""
    repeats = RepeatFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
    return repeats


def configure(level: int = logging.INFO, env: Mapping[str, str] | None = None) -> RepeatFilter:
    """Log to stderr as `serve` does (JSON lines when LEADTHERM_LOG_FORMAT=json), repeated warnings bounded."""
    configure_log_lines(level, os.environ if env is None else env, FORMAT)
    return bound_repeats()
