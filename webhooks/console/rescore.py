"""Re-score every record after an apply, through the backfill path (the CRM's batch sizes and rate limit).

Only records whose result changed are written: the pipeline compares each output with what the
CRM holds. One run at a time, in a background thread; the page shows its progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from flask import Blueprint, Response, flash, redirect, render_template, url_for

from integration.backfill import backfill, cursor_name
from integration.errors import LeadthermError
from integration.pipeline import Pipeline
from integration.ports import StateStore, WorkQueue
from webhooks.console.context import Console

log = logging.getLogger("leadtherm.console")


@dataclass(frozen=True)
class Progress:
    running: bool = False
    crm: str = ""
    done: int = 0
    total: int | None = None
    written: int = 0
    unchanged: int = 0
    error: str = ""
    finished: list[str] = field(default_factory=list)


@dataclass
class Rescorer:
    """The running service's pipeline and backend, with the object types each CRM maps."""

    pipeline: Pipeline
    objects: Mapping[str, Sequence[str]]
    state: StateStore
    queue: WorkQueue
    page_size: int = 100
    progress: Progress = Progress()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> bool:
        """Start a run over every CRM; False when one is already running."""
        with self._lock:
            if self.progress.running:
                return False
            self.progress = Progress(running=True)
        threading.Thread(target=self._run, name="console-rescore", daemon=True).start()
        return True

    def _advance(self, n: int) -> None:
        with self._lock:
            self.progress = replace(self.progress, done=self.progress.done + n)

    def _run(self) -> None:
        finished: list[str] = []
        try:
            for crm, objects in self.objects.items():
                client = self.pipeline.crms[crm].client
                counts = [client.count(o) for o in objects]
                total = None if None in counts else sum(c or 0 for c in counts)
                with self._lock:
                    self.progress = replace(self.progress, crm=crm, done=0, total=total)
                for object_type in objects:  # a fresh pass, not the resumption of an earlier backfill
                    self.state.set_cursor(cursor_name(crm, object_type), None)
                report = backfill(
                    self.pipeline, crm, objects, self.state, self.queue, self.page_size, lambda _, n: self._advance(n)
                )
                finished.append(f"{crm}: {report.records} assessed, {report.written} written")
                with self._lock:
                    self.progress = replace(
                        self.progress,
                        written=self.progress.written + report.written,
                        unchanged=self.progress.unchanged + report.unchanged,
                        finished=list(finished),
                    )
        except LeadthermError as exc:
            log.error("console: re-scoring failed: %s", exc)
            with self._lock:
                self.progress = replace(self.progress, error=str(exc))
        finally:
            with self._lock:
                self.progress = replace(self.progress, running=False, finished=list(finished))


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.get("/rescore")
    def rescore_page() -> str:
        rescorer = console.config.rescorer
        return render_template("rescore.html", available=rescorer is not None, progress=rescorer and rescorer.progress)

    @bp.post("/rescore")
    def rescore() -> Response:
        rescorer = console.config.rescorer
        if rescorer is None:
            flash("Re-scoring needs the running service: open the console under /admin in `serve`.", "error")
        elif not rescorer.start():
            flash("A re-scoring run is already going.", "info")
        return redirect(url_for("console.rescore_page"))  # type: ignore[return-value]
