"""Background loops (the workers, the sweep) that never die silently.

Each loop runs in its own thread; when one ends by an exception (or returns while the server
is still running) the supervisor logs it and starts it again, after a delay that grows while
it keeps dying. Its health check reports a loop that is down, or that crashed recently, so
`/healthz` says so instead of answering ok.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("leadtherm.supervisor")


def describe_crash(exc: BaseException) -> str:
    """Exception type and where it was raised, never its message (it may quote a record's values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-4:]))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__


@dataclass
class _Loop:
    name: str
    target: Callable[[], None]
    thread: threading.Thread | None = None
    started_at: float = 0.0
    deaths: int = 0
    streak: int = 0  # deaths in a row, each soon after its start
    last_crash: str = ""
    crashed_at: float | None = None
    restart_at: float | None = None
    finished: threading.Event = field(default_factory=threading.Event)


class Supervisor:
    """Starts named loops, restarts the ones that die, and reports them in a health check."""

    def __init__(
        self,
        stop: threading.Event,
        restart_delay: float = 1.0,
        max_restart_delay: float = 30.0,
        degraded_for: float = 60.0,
        tick: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.stop = stop
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.degraded_for = degraded_for  # a crash keeps /healthz degraded this long after it
        self.tick = tick
        self.clock = clock
        self.on_tick = on_tick
        self._loops: dict[str, _Loop] = {}
        self._lock = threading.Lock()

    def add(self, name: str, target: Callable[[], None]) -> None:
        self._loops[name] = _Loop(name, target)

    def start(self) -> threading.Thread:
        """Start every loop, then the supervising thread (returned); all end once `stop` is set."""
        for loop in self._loops.values():
            self._launch(loop)
        watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        watcher.start()
        return watcher

    def health(self) -> str | None:
        """Why the background work is degraded, or None: a `/healthz` health check."""
        now = self.clock()
        reasons = []
        with self._lock:
            for loop in self._loops.values():
                if loop.crashed_at is None:
                    continue
                if loop.restart_at is not None:
                    reasons.append(f"{loop.name} is down after a crash ({loop.last_crash}); restarting")
                elif now - loop.crashed_at < self.degraded_for:
                    ago = now - loop.crashed_at
                    reasons.append(
                        f"{loop.name} crashed {ago:.0f} s ago ({loop.last_crash}) and was restarted"
                        f" ({loop.deaths} crash(es) since start)"
                    )
        return "; ".join(reasons) or None

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {loop.name: loop.deaths for loop in self._loops.values()}

    def _launch(self, loop: _Loop) -> None:
        loop.finished.clear()
        loop.started_at = self.clock()
        loop.restart_at = None
        loop.thread = threading.Thread(target=self._run, args=(loop,), name=loop.name, daemon=True)
        loop.thread.start()

    def _run(self, loop: _Loop) -> None:
        try:
            loop.target()
        except Exception as exc:  # noqa: BLE001 - the supervisor's boundary: logged, counted, restarted
            self._died(loop, describe_crash(exc))
        else:
            if not self.stop.is_set():
                self._died(loop, "returned while the server is running")
        finally:
            loop.finished.set()

    def _died(self, loop: _Loop, crash: str) -> None:
        now = self.clock()
        with self._lock:
            loop.deaths += 1
            loop.streak = loop.streak + 1 if now - loop.started_at < self.max_restart_delay * 2 else 1
            delay = min(self.max_restart_delay, self.restart_delay * 2 ** (loop.streak - 1))
            loop.last_crash = crash
            loop.crashed_at = now
            loop.restart_at = now + delay
        log.error("%s died: %s; restarting it in %.0f s (crash %d)", loop.name, crash, delay, loop.deaths)

    def _watch(self) -> None:
        while not self.stop.wait(self.tick):
            now = self.clock()
            for loop in self._loops.values():
                with self._lock:
                    due = loop.restart_at is not None and now >= loop.restart_at and loop.finished.is_set()
                if due:
                    log.info("restarting %s", loop.name)
                    with self._lock:
                        self._launch(loop)
            if self.on_tick is not None:
                self.on_tick()
