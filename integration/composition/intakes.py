"""The configured CRMs' background intakes (change feeds), run in threads beside the webhook routes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from integration.composition.runtime import Runtime
from integration.errors import LeadthermError
from integration.ports.intake import BackgroundIntake

log = logging.getLogger("leadtherm.intake")


class NoIntakeEnabled(LeadthermError):
    """`leadtherm listen CRM` for a CRM whose settings turn on no background intake (bad usage: exit 2)."""

    def __init__(self, crm: str) -> None:
        self.crm = crm
        super().__init__(f"{crm}: no background intake is enabled (its settings turn them on: leadtherm check --env)")


def intakes_of(runtime: Runtime, env: Mapping[str, str], crms: list[str] | None = None) -> list[BackgroundIntake]:
    """Every enabled intake of the runtime's CRMs (or of `crms`), in plugin order."""
    names = crms if crms is not None else list(runtime.plugins)
    return [intake for name in names for intake in runtime.plugins[name].intakes(runtime, env)]


class RunningIntake:
    """An intake in its own daemon thread; once it stops on an error, `health` says so until a restart."""

    def __init__(self, intake: BackgroundIntake, stop: threading.Event) -> None:
        self.intake = intake
        self.name = intake.name
        self.failure: LeadthermError | None = None
        self.thread = threading.Thread(target=self._run, args=(stop,), name=intake.name, daemon=True)

    def _run(self, stop: threading.Event) -> None:
        try:
            self.intake.run(stop)
        except LeadthermError as exc:  # it cannot go on: the process keeps serving webhooks, /healthz says why
            self.failure = exc
            log.error("%s stopped: %s", self.name, exc)

    def health(self) -> str | None:
        own = self.intake.health()
        if self.failure is not None:
            return own or f"{self.name} stopped: {self.failure}"
        if not self.thread.is_alive() and self.thread.ident is not None and own is None:
            return f"{self.name} is not running"
        return own

    def start(self) -> RunningIntake:
        self.thread.start()
        return self


def start_intakes(intakes: list[BackgroundIntake], stop: threading.Event) -> list[RunningIntake]:
    return [RunningIntake(intake, stop).start() for intake in intakes]
