"""Poll until a condition holds (sandboxes flushing deliveries, tests waiting on another thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """True as soon as `condition()` holds; False if it still does not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def run_until_interrupted(stop: Callable[[], None]) -> None:
    """Block until Ctrl-C, then call `stop` (for the sandboxes run as programs)."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        stop()
