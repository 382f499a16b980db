"""Re-score every record after an apply, through the backfill path (the CRM's batch sizes and rate limit).

Only records whose result changed are written: the pipeline compares each output with what the
CRM holds. One run at a time, as a job of the console's pool (never in a request thread); the page
shows its progress and polls the job's status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from integration.errors import LeadthermError
from integration.ports import StateStore, WorkQueue
from integration.service.backfill import backfill, cursor_name
from integration.service.pipeline import Pipeline
from webhooks.console.context import Console
from webhooks.console.jobs import Job, JobRefused, JobRunner, started
from webhooks.console.jobs import Progress as JobProgress

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

    def start(self, jobs: JobRunner, owner: str) -> Job | None:
        """Queue a run over every CRM on the console's pool; None when one is already running."""
        with self._lock:
            if self.progress.running:
                return None
            self.progress = Progress(running=True)
        try:
            return jobs.submit(owner, "re-scoring", self._run, lambda _: None)
        except JobRefused:
            with self._lock:
                self.progress = Progress()
            raise

    def _advance(self, n: int, job: JobProgress | None) -> None:
        with self._lock:
            self.progress = replace(self.progress, done=self.progress.done + n)
        if job is not None:
            job.advance(n)

    def _run(self, job: JobProgress | None = None) -> None:
        finished: list[str] = []
        try:
            for crm, objects in self.objects.items():
                client = self.pipeline.crms[crm].client
                counts = [client.count(o) for o in objects]
                total = None if None in counts else sum(c or 0 for c in counts)
                with self._lock:
                    self.progress = replace(self.progress, crm=crm, done=0, total=total)
                if job is not None:
                    job(0, total)
                for object_type in objects:  # a fresh pass, not the resumption of an earlier backfill
                    self.state.set_cursor(cursor_name(crm, object_type), None)
                report = backfill(
                    self.pipeline,
                    crm,
                    objects,
                    self.state,
                    self.queue,
                    self.page_size,
                    lambda _, n: self._advance(n, job),
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
    def rescore() -> BaseResponse:
        rescorer = console.config.rescorer
        if rescorer is None:
            flash("Re-scoring needs the running service: open the console under /admin in `serve`.", "error")
            return redirect(url_for("console.rescore_page"))
        try:
            job = rescorer.start(console.jobs, console.owner())
        except JobRefused as exc:
            flash(f"Re-scoring not started: {exc}", "error")
            return redirect(url_for("console.rescore_page"))
        if job is None:
            flash("A re-scoring run is already going.", "info")
        return started(job, url_for("console.rescore_page"))
