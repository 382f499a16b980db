"""The console's long work (history pulls, Learn, what-if, re-scoring) as background jobs.

None of it runs in a request thread: in `serve` the console shares its HTTP threads with the
webhook acknowledgements, so a request that started a 10,000-row what-if would hold one of
them for seconds. A small pool of worker threads runs the jobs; a request only starts one
(answering at once with its id) or reads its progress. Bounded everywhere: the pool, the jobs
waiting for it, one running job per admin, and the finished jobs kept for their pages.
"""

from __future__ import annotations

import itertools
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, request, session, url_for
from werkzeug.wrappers import Response

from integration.errors import LeadthermError
from integration.ports import CrmClient
from integration.service.guard import GuardedClient

log = logging.getLogger("leadtherm.console")

WORKERS = 2  # long jobs at once per process (a pull mostly waits on the CRM; a what-if computes)
MAX_WAITING = 4  # jobs queued behind the running one(s); more are refused with a message
MAX_KEPT = 32  # finished jobs kept for their status pages, oldest dropped first
# The share of a CRM's request rate the console's background reads may take. They spend from a
# bucket of their own, so a history pull never drains the one the webhook worker writes with.
BACKGROUND_SHARE = 0.25
# A job yields the interpreter between slices of this many seconds of work, so the threads
# acknowledging webhooks get it without waiting for the 1 ms forced switch each time.
SLICE_SECONDS = 0.002
PAUSE_SECONDS = 0.001


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobRefused(LeadthermError):
    """No room for another job now; the message says why and what to do."""


@dataclass
class Job:
    """One piece of long work: its owner (the admin's session), progress and outcome."""

    id: str
    kind: str
    owner: str
    state: JobState = JobState.QUEUED
    done: int = 0
    total: int | None = None
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    def status(self) -> dict[str, Any]:
        """What the status route answers (nothing a record holds: counts and messages only)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": str(self.state),
            "done": self.done,
            "total": self.total,
            "error": self.error,
        }


class Progress:
    """Handed to a job's work: report done/total, and yield the interpreter now and then."""

    def __init__(self, job: Job, lock: threading.Lock) -> None:
        self._job = job
        self._lock = lock
        self._slice_started = time.perf_counter()

    def __call__(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self._job.done = done
            if total is not None:
                self._job.total = total
        self.pause()

    def advance(self, n: int) -> None:
        with self._lock:
            self._job.done += n
        self.pause()

    def pause(self) -> None:
        """Sleep a moment once a slice of work is used up: the webhook threads run meanwhile."""
        if time.perf_counter() - self._slice_started >= SLICE_SECONDS:
            time.sleep(PAUSE_SECONDS)
            self._slice_started = time.perf_counter()


Work = Callable[[Progress], Any]
Done = Callable[[Any], None]


class JobRunner:
    """A bounded pool of worker threads and the jobs it ran, by id."""

    def __init__(self, workers: int = WORKERS, max_waiting: int = MAX_WAITING, keep: int = MAX_KEPT) -> None:
        self.workers = workers
        self.max_waiting = max_waiting
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: queue.Queue[tuple[Job, Work, Done]] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._names = itertools.count(1)

    def submit(self, owner: str, kind: str, work: Work, on_done: Done) -> Job:
        """Queue `work`; `on_done(result)` runs in the worker once it succeeds. JobRefused when there is no room."""
        with self._lock:
            mine = next((j for j in self._jobs.values() if j.owner == owner and j.active), None)
            if mine is not None:
                raise JobRefused(f"your {mine.kind} is still {mine.state}; wait for it to finish, then try again")
            waiting = sum(j.state is JobState.QUEUED for j in self._jobs.values())
            if waiting >= self.max_waiting:
                raise JobRefused(f"{waiting} jobs are already waiting for the console; try again in a minute")
            job = Job(secrets.token_urlsafe(9), kind, owner)
            self._jobs[job.id] = job
            self._forget_old()
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._serve, name=f"console-job-{next(self._names)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._waiting.put((job, work, on_done))
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job if it is this owner's (another admin's job id reads as unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job if job is not None and job.owner == owner else None

    def latest(self, owner: str, kind: str) -> Job | None:
        """The owner's most recent job of a kind: what its page shows."""
        with self._lock:
            return next((j for j in reversed(self._jobs.values()) if j.owner == owner and j.kind == kind), None)

    def latest_any(self, owner: str) -> Job | None:
        """The owner's most recent job of any kind."""
        with self._lock:
            return next((j for j in reversed(self._jobs.values()) if j.owner == owner), None)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if not j.active]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]

    def _serve(self) -> None:
        while True:
            job, work, on_done = self._waiting.get()
            with self._lock:
                job.state = JobState.RUNNING
            try:
                result = work(Progress(job, self._lock))
                on_done(result)
            except LeadthermError as exc:
                self._end(job, JobState.FAILED, str(exc))
            except Exception:  # a bug in one job must not take the pool down; the log has the traceback
                log.exception("console: %s job %s failed", job.kind, job.id)
                self._end(job, JobState.FAILED, "failed unexpectedly; the console's log has the details")
            else:
                self._end(job, JobState.DONE, "")

    def _end(self, job: Job, state: JobState, error: str) -> None:
        with self._lock:
            job.state, job.error, job.finished = state, error, time.monotonic()
            if state is JobState.DONE and job.total is not None:
                job.done = job.total


def background_clients(clients: Mapping[str, CrmClient], share: float = BACKGROUND_SHARE) -> dict[str, CrmClient]:
    """The same CRM connections, each behind a bucket of its own holding `share` of the CRM's rate.

    The webhook worker keeps its bucket whole; what the console reads in the background waits on
    this one. A client without a bucket (tests, a sandbox without limits) is used as it is.
    """
    result: dict[str, CrmClient] = {}
    for name, client in clients.items():
        if isinstance(client, GuardedClient) and client.bucket is not None:
            result[name] = GuardedClient(client.inner, client.bucket.share(share))
        else:
            result[name] = client
    return result


def wants_json() -> bool:
    """The page's script asks for JSON; a plain form post gets the page back (a refresh shows progress)."""
    return request.headers.get("X-Requested-With") == "fetch" or request.accept_mimetypes.best == "application/json"


def started(job: Job | None, page: str) -> Response:
    """The answer to a request that started a job: at once, with its id (JSON) or back to its page."""
    if job is not None and wants_json():
        answer = jsonify({**job.status(), "status_url": url_for("console.job_status", job_id=job.id), "page": page})
        answer.status_code = 202
        return answer
    return redirect(page)


def polling_owner() -> str | None:
    """The session id jobs are kept under (Console.owner), read without loading the admin's workspace.

    The page polls a running job twice a second, in the threads that also acknowledge webhooks:
    the owner's draft, read from the state store and compared with the rules in force, cost
    more of the server's interpreter than the answer itself.
    """
    sid = session.get("sid")
    return sid if isinstance(sid, str) else None


def add_routes(bp: Blueprint, runner: Callable[[], JobRunner]) -> None:
    @bp.get("/jobs/<job_id>")
    def job_status(job_id: str) -> Response:
        owner = polling_owner()
        job = None if owner is None else runner().get(job_id, owner)
        if job is None:
            abort(404, "no such job (finished jobs are kept for a while only)")
        return jsonify(job.status())


__all__ = [
    "BACKGROUND_SHARE",
    "Job",
    "JobRefused",
    "JobRunner",
    "JobState",
    "Progress",
    "add_routes",
    "background_clients",
    "started",
]
