"""CRM-wide pauses: a revoked token, a spent daily limit or missing output fields stop one CRM, not its events.

While a CRM is paused its events stay queued (deferred without spending an attempt);
every `probe_every` seconds one pass is let through as the probe, and the first one
that gets through without a CRM-wide failure resumes the CRM.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("leadtherm.pause")


@dataclass(frozen=True, slots=True)
class Paused:
    """Why a CRM is paused and since when (monotonic seconds)."""

    reason: str
    since: float
    next_probe: float


class CrmPauses:
    """The paused CRMs of one process; thread-safe, shared by every worker of a pipeline."""

    def __init__(self, probe_every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.probe_every = probe_every
        self.clock = clock
        self._paused: dict[str, Paused] = {}
        self._lock = threading.Lock()

    def pause(self, crm: str, reason: str) -> None:
        """Pause `crm` (or keep it paused with the newer reason); logged once per pause, not per event."""
        now = self.clock()
        with self._lock:
            before = self._paused.get(crm)
            since = before.since if before else now
            self._paused[crm] = Paused(reason, since, now + self.probe_every)
        if before is None:
            log.error("%s paused, its events stay queued: %s", crm, reason)

    def resume(self, crm: str) -> None:
        with self._lock:
            before = self._paused.pop(crm, None)
        if before is not None:
            log.warning("%s resumed after %.0f s paused", crm, self.clock() - before.since)

    def admit(self, crm: str) -> bool:
        """True when a pass may call `crm`: not paused, or paused with its probe due (then only this caller)."""
        now = self.clock()
        with self._lock:
            paused = self._paused.get(crm)
            if paused is None:
                return True
            if now < paused.next_probe:
                return False
            self._paused[crm] = Paused(paused.reason, paused.since, now + self.probe_every)
            return True

    def reason(self, crm: str) -> str | None:
        with self._lock:
            paused = self._paused.get(crm)
        return None if paused is None else paused.reason

    def paused(self) -> dict[str, str]:
        """CRM -> reason, for every paused CRM."""
        with self._lock:
            return {crm: p.reason for crm, p in self._paused.items()}

    def health(self) -> str | None:
        """For /healthz (`AppConfig.health_checks`): why the pipeline is degraded, or None when no CRM is paused."""
        paused = self.paused()
        if not paused:
            return None
        return "; ".join(f"{crm} paused: {reason}" for crm, reason in sorted(paused.items()))
