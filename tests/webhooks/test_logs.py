"""Repeated warnings are bounded per kind and counted; other records pass untouched."""

from __future__ import annotations

import logging

import pytest

from webhooks.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Captured = tuple[logging.Logger, list[str], RepeatFilter, Clock]


@pytest.fixture
def captured() -> Captured:
    clock = Clock()
    repeats = RepeatFilter(burst=3, window=60, clock=clock)
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = ListHandler()
    handler.addFilter(repeats)
    logger = logging.getLogger("leadtherm.test.repeats")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines, repeats, clock


def test_a_kind_of_warning_passes_burst_times_per_window_then_is_counted(
    captured: Captured,
) -> None:
    logger, lines, repeats, clock = captured
    for n in range(100):
        logger.warning("rejected a webhook: %s", f"reason {n}")
    logger.warning("another kind: %s", "x")
    assert lines == ["rejected a webhook: reason 0", "rejected a webhook: reason 1", "rejected a webhook: reason 2",
                     "another kind: x"]  # fmt: skip
    clock.now = 61
    repeats.flush()
    assert lines[-1] == "97 more like 'rejected a webhook: %s' not logged (100 in 60 s; at most 3 are written per 60 s)"
    logger.warning("rejected a webhook: %s", "after the window")
    assert lines[-1] == "rejected a webhook: after the window"


def test_info_lines_are_never_held_back(captured: Captured) -> None:
    logger, lines, _, _ = captured
    for n in range(10):
        logger.info("processed %d event(s)", n)
    assert len(lines) == 10


def test_at_shutdown_every_open_count_is_written(captured: Captured) -> None:
    logger, lines, repeats, _ = captured
    for _ in range(5):
        logger.error("queue unavailable: %s", "disk I/O error")
    repeats.flush(everything=True)
    assert lines[-1].startswith("2 more like 'queue unavailable: %s' not logged")
