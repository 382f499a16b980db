"""CRM-wide pauses: a revoked token, a spent daily limit or missing output fields stop one CRM, not its events.

While a CRM is paused its events stay queued (deferred without spending an attempt);
every `probe_every` seconds one pass is let through as the probe, and the first one
that gets through without a CRM-wide failure resumes the CRM.

Admission is decided in the process, but each pause is also recorded in the state store
(its pause records, rewritten at every failed probe, cleared on resume), so the operations page
of a console running elsewhere (or beside Lambda workers) can say which CRM is paused and why.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from integration.errors import LeadthermError
from integration.ports.metric_names import CRM_PAUSED, CRM_PAUSES
from integration.ports.metrics import metrics

log = logging.getLogger("leadtherm.pause")


@dataclass(frozen=True, slots=True)
class Paused:
    """Why a CRM is paused and since when (monotonic seconds)."""

    reason: str
    since: float
    next_probe: float


class PauseRecord(Protocol):
    """Where pauses are recorded for other processes to see (a StateStore is one)."""

    def get_pause(self, crm: str) -> str | None: ...

    def set_pause(self, crm: str, record: str | None) -> None: ...


class CrmPauses:
    """The paused CRMs of one process; thread-safe, shared by every worker of a pipeline."""

    def __init__(
        self, probe_every: float, clock: Callable[[], float] = time.monotonic, record: PauseRecord | None = None
    ) -> None:
        self.probe_every = probe_every
        self.clock = clock
        self.record = record
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
            metrics().count(CRM_PAUSES, crm=crm)
        metrics().gauge(CRM_PAUSED, 1, crm=crm)
        if self.record is not None:  # rewritten at every failed probe: another process may have cleared it
            paused_at = datetime.now(UTC) - timedelta(seconds=now - since)
            record = {"reason": reason, "since": paused_at.isoformat(timespec="seconds")}
            self._write(crm, json.dumps(record))

    def resume(self, crm: str) -> None:
        with self._lock:
            before = self._paused.pop(crm, None)
        if before is not None:
            log.warning("%s resumed after %.0f s paused", crm, self.clock() - before.since)
            metrics().gauge(CRM_PAUSED, 0, crm=crm)
            self._write(crm, None)

    def _write(self, crm: str, value: str | None) -> None:
        """Record for other processes; a store that fails here costs the record, never the pause itself."""
        if self.record is None:
            return
        try:
            self.record.set_pause(crm, value)
        except LeadthermError as exc:
            log.warning("could not record %s's pause state (%s)", crm, type(exc).__name__)

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


class RecordedPauses:
    """The pauses recorded in a state store, as the console of another process reads them."""

    def __init__(self, record: PauseRecord, crms: Iterable[str]) -> None:
        self.record = record
        self.crms = tuple(crms)

    def paused(self) -> dict[str, str]:
        """CRM -> "reason (since ...)", for every CRM a worker recorded as paused."""
        found: dict[str, str] = {}
        for crm in self.crms:
            held = self.record.get_pause(crm)
            if not held:
                continue
            try:
                data = json.loads(held)
                found[crm] = f"{data['reason']} (since {data['since']})"
            except (ValueError, KeyError, TypeError):
                found[crm] = "paused (the record of why is unreadable)"
        return found
