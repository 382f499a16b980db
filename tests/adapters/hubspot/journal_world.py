"""The HubSpot journal tests' world: the sandbox, a runtime with HUBSPOT_JOURNAL=1, the intake and a worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.journal.intake import JournalIntake, cursor_name
from integration.composition.runtime import Runtime, build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import run_worker
from tests.adapters.hubspot.helpers import sandbox_env

TOKEN = "test-token"
SECRET = "test-client-secret"
CLIENT_ID = "journal-test-client"


def journal_env(sandbox: HubSpotSandbox, db: Path) -> dict[str, str]:
    sandbox.journal.client_id, sandbox.journal.client_secret = CLIENT_ID, SECRET
    return {
        **sandbox_env(sandbox, db, TOKEN, SECRET),
        "HUBSPOT_JOURNAL": "1",
        "HUBSPOT_CLIENT_ID": CLIENT_ID,
        "HUBSPOT_PORTAL_ID": str(sandbox.portal_id),
        "HUBSPOT_JOURNAL_POLL": "0.05",
    }


@dataclass
class JournalWorld:
    sandbox: HubSpotSandbox
    env: dict[str, str]
    runtime: Runtime
    stop: threading.Event = field(default_factory=threading.Event)
    intake: JournalIntake | None = None
    _intake_stop: threading.Event | None = None
    _intake_thread: threading.Thread | None = None

    def start_worker(self) -> None:
        threading.Thread(target=run_worker, args=(self.runtime.pipeline, self.stop, 0.02), daemon=True).start()

    def start_intake(self) -> JournalIntake:
        """A new intake, as after a restart: it knows only what the state store holds."""
        [intake] = self.runtime.plugins["hubspot"].intakes(self.runtime, self.env)  # type: ignore[attr-defined]
        assert isinstance(intake, JournalIntake)
        self.intake, self._intake_stop = intake, threading.Event()
        self._intake_thread = threading.Thread(target=intake.run, args=(self._intake_stop,), daemon=True)
        self._intake_thread.start()
        return intake

    def stop_intake(self) -> None:
        assert self._intake_stop is not None and self._intake_thread is not None
        self._intake_stop.set()
        self._intake_thread.join(10)

    def stored_offset(self) -> str | None:
        return self.runtime.state.get_cursor(cursor_name(self.sandbox.portal_id))

    def newest_offset(self) -> str | None:
        with self.sandbox.journal.lock:
            return self.sandbox.journal.entries[-1].offset if self.sandbox.journal.entries else None

    def settled(self) -> bool:
        return self.sandbox.journal.pending() == 0 and self.runtime.queue.stats().depth == 0


@contextmanager
def journal_world(sandbox: HubSpotSandbox, tmp_path: Path) -> Iterator[JournalWorld]:
    env = journal_env(sandbox, tmp_path / "leadtherm.db")
    runtime = build_runtime(
        env, ["hubspot"], settings=PipelineSettings(retry=replace(POLICY, queue_delay=0.05, queue_attempts=8))
    )
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    world = JournalWorld(sandbox, env, runtime)
    try:
        yield world
    finally:
        world.stop.set()
        if world._intake_stop is not None:
            world._intake_stop.set()
